//! The memory section: what every good node so far tried, what its run showed and its
//! metric, kept within a budget in tokens.
//!
//! When the entries do not fit, the best entry (once the direction is known) and then the
//! most recent ones are kept, shown oldest first with their original numbers, and a note
//! says how many were left out. An entry that alone exceeds the budget is cut in the middle.
//! Each entry is counted once; the assembled text is counted once more to confirm the fit.

use super::MemoryEntry;
use crate::metric::Direction;
use crate::tokens::TokenCounter;

const HEADER: &str = "Solutions that ran successfully so far, oldest first.";

/// Separator between the header, the note and the entries.
const GAP: &str = "\n\n";

/// Tokens of [`GAP`]: a run of line breaks is one token.
const GAP_TOKENS: usize = 1;

/// Smallest useful size of an entry cut to fit the budget, in tokens.
const MIN_ENTRY_TOKENS: usize = 30;

/// The body of the memory section, or `None` when there is nothing to remember. The body
/// holds at most `budget` tokens, unless even the header and the note alone do not fit
/// (then it is just the note).
pub fn render_memory(
    entries: &[MemoryEntry],
    budget: usize,
    direction: Option<Direction>,
    tokens: &TokenCounter,
) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let best = direction.and_then(|d| best_index(entries, d));
    let rendered: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| render_entry(i + 1, e, best == Some(i)))
        .collect();
    let all: Vec<usize> = (0..entries.len()).collect();
    let full = assemble(&rendered, &all, None);
    if tokens.fits(&full, budget) {
        return Some(full);
    }

    // Over budget: keep the best, then the newest, while they fit.
    let mut order: Vec<usize> = (0..entries.len()).rev().collect();
    if let Some(b) = best {
        order.retain(|&i| i != b);
        order.insert(0, b);
    }
    let costs: Vec<usize> = rendered.iter().map(|r| tokens.count(r)).collect();
    // The note's length depends on the count; reserve room for the widest one.
    let fixed =
        tokens.count(HEADER) + GAP_TOKENS + tokens.count(&note(entries.len(), entries.len()));
    let mut room = budget.saturating_sub(fixed);
    let mut kept: Vec<usize> = Vec::new();
    for &i in &order {
        let cost = GAP_TOKENS + costs[i];
        if cost <= room {
            room -= cost;
            kept.push(i);
        }
    }
    let mut texts = rendered;
    if kept.is_empty() && room >= GAP_TOKENS + MIN_ENTRY_TOKENS {
        let i = order[0];
        texts[i] = tokens.truncate_middle(&texts[i], room - GAP_TOKENS);
        kept.push(i);
    }
    // The joined text counts a little less than its parts (a line break merges with the
    // text before it): add the next preferred entries while the real count fits, then
    // drop the least preferred while it does not (kept is in order of preference).
    let body = |kept: &[usize]| {
        let mut shown = kept.to_vec();
        shown.sort_unstable();
        let omitted = entries.len() - shown.len();
        let note = (omitted > 0).then(|| note(omitted, entries.len()));
        (assemble(&texts, &shown, note.as_deref()), note)
    };
    for &i in &order {
        if kept.contains(&i) {
            continue;
        }
        kept.push(i);
        if !tokens.fits(&body(&kept).0, budget) {
            kept.pop();
            break;
        }
    }
    loop {
        let (text, note) = body(&kept);
        if tokens.fits(&text, budget) {
            return Some(text);
        }
        if kept.pop().is_none() {
            return note;
        }
    }
}

/// The header, the note and the entries `shown` (indices into `texts`, ascending).
fn assemble(texts: &[String], shown: &[usize], note: Option<&str>) -> String {
    let mut out = String::from(HEADER);
    if let Some(note) = note {
        out.push_str(GAP);
        out.push_str(note);
    }
    for &i in shown {
        out.push_str(GAP);
        out.push_str(&texts[i]);
    }
    out
}

fn note(omitted: usize, total: usize) -> String {
    format!(
        "({omitted} of the {total} solutions are left out to keep this section short; the \
         best one and the most recent ones are shown.)"
    )
}

/// The first entry with the best metric.
fn best_index(entries: &[MemoryEntry], direction: Direction) -> Option<usize> {
    let mut best: Option<(usize, crate::metric::MetricValue)> = None;
    for (i, e) in entries.iter().enumerate() {
        if let Some(m) = e.metric
            && best.is_none_or(|(_, b)| m.is_better_than(b, direction))
        {
            best = Some((i, m));
        }
    }
    best.map(|(i, _)| i)
}

fn render_entry(number: usize, entry: &MemoryEntry, is_best: bool) -> String {
    let metric = entry
        .metric
        .map_or_else(|| "not recorded".to_string(), |m| m.to_string());
    let best = if is_best { " (best so far)" } else { "" };
    let plan = one_paragraph(&entry.plan);
    let findings = one_paragraph(&entry.findings);
    format!(
        "**Solution {number}**: validation metric {metric}{best}\n\
         Approach: {plan}\n\
         Findings: {findings}"
    )
}

/// Text on one line, so entries stay visually separate.
pub(super) fn one_paragraph(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        "(none given)".into()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::MetricValue;

    fn entry(i: usize, metric: f64) -> MemoryEntry {
        MemoryEntry {
            plan: format!("plan number {i}: gradient boosting with feature set {i}."),
            findings: format!("run {i} reached {metric}\nwith five folds."),
            metric: MetricValue::new(metric),
        }
    }

    #[test]
    fn nothing_to_remember() {
        assert_eq!(render_memory(&[], 1000, None, &TokenCounter::new()), None);
    }

    #[test]
    fn everything_fits() {
        let entries = vec![entry(1, 0.5), entry(2, 0.4)];
        let tokens = TokenCounter::new();
        let body =
            render_memory(&entries, 10_000, Some(Direction::Minimize), &tokens).expect("body");
        assert!(body.starts_with(HEADER));
        assert!(body.contains("**Solution 1**: validation metric 0.5\nApproach: plan number 1"));
        assert!(body.contains("**Solution 2**: validation metric 0.4 (best so far)"));
        assert!(body.contains("Findings: run 2 reached 0.4 with five folds."));
        assert!(!body.contains("left out"));
    }

    #[test]
    fn over_budget_keeps_best_and_newest_within_budget() {
        // The best (lowest) is entry 3 of 60.
        let entries: Vec<MemoryEntry> = (1..=60)
            .map(|i| entry(i, if i == 3 { 0.01 } else { 1.0 + i as f64 }))
            .collect();
        let tokens = TokenCounter::new();
        for budget in [150, 250, 400, 1000] {
            let body =
                render_memory(&entries, budget, Some(Direction::Minimize), &tokens).expect("body");
            assert!(
                tokens.count(&body) <= budget,
                "{budget}: {}",
                tokens.count(&body)
            );
            assert!(body.contains("**Solution 3**"), "best kept at {budget}");
            assert!(body.contains("**Solution 60**"), "newest kept at {budget}");
            assert!(
                !body.contains("**Solution 1**"),
                "oldest dropped at {budget}"
            );
            let shown = body.matches("**Solution ").count();
            assert!(body.contains(&format!("({} of the 60 solutions are left out", 60 - shown)));
            // Oldest first.
            let p3 = body.find("**Solution 3**").expect("3");
            let p60 = body.find("**Solution 60**").expect("60");
            assert!(p3 < p60);
            // The budget is used: one more entry (and a wider note) would not have fitted.
            let one_more = tokens.count(&render_entry(59, &entries[58], false)) + GAP_TOKENS;
            assert!(
                tokens.count(&body) + one_more + 2 > budget,
                "{budget}: {body}"
            );
        }
    }

    #[test]
    fn without_direction_recency_wins() {
        let entries: Vec<MemoryEntry> = (1..=30).map(|i| entry(i, i as f64)).collect();
        let body = render_memory(&entries, 200, None, &TokenCounter::new()).expect("body");
        assert!(body.contains("**Solution 30**") && !body.contains("**Solution 3**"));
        assert!(!body.contains("best so far"));
    }

    #[test]
    fn a_huge_entry_is_cut_to_fit() {
        let big = MemoryEntry {
            plan: "word ".repeat(2000),
            findings: "ok".into(),
            metric: MetricValue::new(0.3),
        };
        let tokens = TokenCounter::new();
        let body = render_memory(&[big], 250, Some(Direction::Maximize), &tokens).expect("body");
        assert!(tokens.count(&body) <= 250, "{}", tokens.count(&body));
        assert!(body.contains("characters omitted"));
        assert!(body.contains("**Solution 1**") && !body.contains("left out"));
    }

    #[test]
    fn a_budget_below_the_header_gives_just_the_note() {
        let entries: Vec<MemoryEntry> = (1..=5).map(|i| entry(i, i as f64)).collect();
        let body = render_memory(&entries, 10, None, &TokenCounter::new()).expect("body");
        assert_eq!(body, note(5, 5));
    }
}
