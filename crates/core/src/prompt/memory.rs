//! The memory section: what every good node so far tried, what its run showed and its
//! metric, kept within a character budget.
//!
//! When the entries do not fit, the best entry (once the direction is known) and then the
//! most recent ones are kept, shown oldest first with their original numbers, and a note
//! says how many were left out. An entry that alone exceeds the budget is cut in the middle.

use super::{MemoryEntry, truncate_middle};
use crate::metric::Direction;

const HEADER: &str = "Solutions that ran successfully so far, oldest first: the approach of \
                      each, what its run showed, and its validation metric.";

/// Separator between the header, the note and the entries.
const GAP: &str = "\n\n";

/// Smallest useful size of an entry cut to fit the budget.
const MIN_ENTRY_CHARS: usize = 120;

/// The body of the memory section, or `None` when there is nothing to remember. The body
/// holds at most `budget_chars` characters, unless even the header and the note alone do
/// not fit (then it is just the note).
pub fn render_memory(
    entries: &[MemoryEntry],
    budget_chars: usize,
    direction: Option<Direction>,
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
    let len = |s: &str| s.chars().count();

    let full: usize = len(HEADER) + rendered.iter().map(|r| len(GAP) + len(r)).sum::<usize>();
    if full <= budget_chars {
        return Some(assemble(
            &rendered.iter().map(String::as_str).collect::<Vec<_>>(),
            None,
        ));
    }

    // Over budget: keep the best, then the newest, while they fit.
    let mut order: Vec<usize> = (0..entries.len()).rev().collect();
    if let Some(b) = best {
        order.retain(|&i| i != b);
        order.insert(0, b);
    }
    // The note's length depends on the count; reserve room for the widest one.
    let note_room = len(&note(entries.len(), entries.len()));
    let fixed = len(HEADER) + len(GAP) + note_room;
    let mut room = budget_chars.saturating_sub(fixed);
    let mut kept: Vec<(usize, String)> = Vec::new();
    for &i in &order {
        let cost = len(GAP) + len(&rendered[i]);
        if cost <= room {
            room -= cost;
            kept.push((i, rendered[i].clone()));
        }
    }
    if kept.is_empty() && room >= len(GAP) + MIN_ENTRY_CHARS {
        let i = order[0];
        kept.push((i, truncate_middle(&rendered[i], room - len(GAP))));
    }
    kept.sort_by_key(|(i, _)| *i);
    let omitted = entries.len() - kept.len();
    let note = (omitted > 0).then(|| note(omitted, entries.len()));
    if let Some(note) = &note
        && kept.is_empty()
        && len(HEADER) + len(GAP) + len(note) > budget_chars
    {
        return Some(note.clone());
    }
    let texts: Vec<&str> = kept.iter().map(|(_, t)| t.as_str()).collect();
    Some(assemble(&texts, note.as_deref()))
}

fn assemble(entries: &[&str], note: Option<&str>) -> String {
    let mut out = String::from(HEADER);
    if let Some(note) = note {
        out.push_str(GAP);
        out.push_str(note);
    }
    for entry in entries {
        out.push_str(GAP);
        out.push_str(entry);
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
fn one_paragraph(text: &str) -> String {
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
        assert_eq!(render_memory(&[], 1000, None), None);
    }

    #[test]
    fn everything_fits() {
        let entries = vec![entry(1, 0.5), entry(2, 0.4)];
        let body = render_memory(&entries, 10_000, Some(Direction::Minimize)).expect("body");
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
        for budget in [600, 900, 1500, 4000] {
            let body = render_memory(&entries, budget, Some(Direction::Minimize)).expect("body");
            assert!(
                body.chars().count() <= budget,
                "{budget}: {}",
                body.chars().count()
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
        }
    }

    #[test]
    fn without_direction_recency_wins() {
        let entries: Vec<MemoryEntry> = (1..=30).map(|i| entry(i, i as f64)).collect();
        let body = render_memory(&entries, 800, None).expect("body");
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
        let body = render_memory(&[big], 1000, Some(Direction::Maximize)).expect("body");
        assert!(body.chars().count() <= 1000);
        assert!(body.contains("characters omitted"));
        assert!(body.contains("**Solution 1**") && !body.contains("left out"));
    }
}
