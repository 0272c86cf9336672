//! `report.md`: the deterministic end-of-run summary (run facts, the best node's plan and
//! review, counts, the metric trajectory step by step, LLM usage, prompt size per step by
//! purpose), optionally followed by
//! a narrative an LLM wrote, which is included verbatim under its own heading.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use aide_core::metric::format_metric;
use aide_core::{Action, BugReason, Direction, NodeId};
use aide_store::{LlmCallRecord, NodeRecord, RunRecord, Usage};

use super::{BEST_SOLUTION_FILE, NodeState, best_so_far, by_step, good_metric};

/// The report of a run as markdown.
///
/// Long because it writes the document's sections in reading order; each section is a few
/// lines of formatting that would mean little on its own.
pub fn report_md(
    run: &RunRecord,
    nodes: &[NodeRecord],
    usage: Option<&Usage>,
    calls: &[LlmCallRecord],
    llm_report: Option<&str>,
) -> String {
    let sorted = by_step(nodes);
    let best = super::best_node(run, nodes);
    let best_id = best.map(|b| b.id);
    let mut out = String::new();
    let w = &mut out;

    let _ = writeln!(w, "# Run report: {}\n", inline(&run.name));
    let _ = writeln!(w, "- Run: `{}`", run.id);
    let _ = writeln!(w, "- Task: {}", inline(&run.task.name));
    let _ = writeln!(w, "- Goal: {}", inline(&run.task.goal));
    let status = match &run.stop_reason {
        Some(reason) => format!("{} ({})", run.status, inline(reason)),
        None => run.status.to_string(),
    };
    let _ = writeln!(w, "- Status: {status}");
    let _ = writeln!(
        w,
        "- Metric: {}, {}",
        inline(run.task.metric.name.as_deref().unwrap_or("unnamed")),
        run.direction
            .map_or("direction never fixed", Direction::as_str)
    );
    let _ = writeln!(
        w,
        "- Nodes: {} of {} steps; seed {}",
        sorted.len(),
        run.settings.steps,
        run.seed
    );
    let _ = writeln!(w, "- Created: {}", run.created_at.to_rfc3339());
    if let Some(finished) = run.finished_at {
        let _ = writeln!(w, "- Finished: {}", finished.to_rfc3339());
    }

    let _ = writeln!(w, "\n## Best solution\n");
    match best {
        Some(node) => {
            let metric = good_metric(node).map(format_metric).unwrap_or_default();
            let _ = writeln!(
                w,
                "Step {} ({}), metric **{metric}**, node `{}`. The code is in `{BEST_SOLUTION_FILE}`.",
                node.step, node.action, node.id
            );
            if let Some(plan) = node.generation.as_ref().map(|g| g.plan.trim()) {
                let _ = writeln!(w, "\n### Plan\n\n{}", block(plan));
            }
            if let Some(review) = &node.review {
                let _ = writeln!(w, "\n### Review\n\n{}", block(review.summary.trim()));
            }
        }
        None => {
            let _ = writeln!(
                w,
                "No node produced a valid metric, so there is no best solution."
            );
        }
    }

    counts(w, &sorted, best_id);
    trajectory(w, run, &sorted, best_id);

    if let Some(usage) = usage {
        let _ = writeln!(w, "\n## LLM usage\n");
        let _ = writeln!(w, "- Calls: {}", usage.calls);
        let _ = writeln!(
            w,
            "- Tokens: {} prompt ({} cached), {} completion, {} total",
            usage.prompt_tokens,
            usage.cached_tokens,
            usage.completion_tokens,
            usage.prompt_tokens + usage.completion_tokens
        );
        let _ = writeln!(w, "- Cost: ${:.4}", usage.cost_usd);
    }
    super::prompt_size::prompt_size(w, calls, &sorted);

    if let Some(text) = llm_report.map(str::trim).filter(|t| !t.is_empty()) {
        let _ = writeln!(w, "\n## Narrative report (written by an LLM)\n\n{text}");
    }
    out
}

fn counts(w: &mut String, sorted: &[&NodeRecord], best: Option<NodeId>) {
    let by_action = |a: Action| sorted.iter().filter(|n| n.action == a).count();
    let states: Vec<NodeState> = sorted.iter().map(|n| NodeState::of(n, best)).collect();
    let good = states
        .iter()
        .filter(|s| matches!(s, NodeState::Good | NodeState::Best))
        .count();
    let buggy = states.iter().filter(|s| **s == NodeState::Buggy).count();
    let in_flight = states
        .iter()
        .filter(|s| matches!(s, NodeState::InFlight(_)))
        .count();
    let _ = writeln!(w, "\n## Counts\n");
    let _ = writeln!(
        w,
        "- Nodes: {} (draft {}, improve {}, debug {})",
        sorted.len(),
        by_action(Action::Draft),
        by_action(Action::Improve),
        by_action(Action::Debug)
    );
    let _ = writeln!(
        w,
        "- Outcomes: {good} good, {buggy} buggy, {in_flight} not reviewed"
    );
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for node in sorted {
        for reason in node.review.iter().flat_map(|r| &r.bug_reasons) {
            *reasons.entry(reason_kind(reason)).or_default() += 1;
        }
    }
    if !reasons.is_empty() {
        let list: Vec<String> = reasons.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
        let _ = writeln!(w, "- Bug reasons: {}", list.join(", "));
    }
}

fn trajectory(w: &mut String, run: &RunRecord, sorted: &[&NodeRecord], best: Option<NodeId>) {
    let steps: HashMap<NodeId, u32> = sorted.iter().map(|n| (n.id, n.step)).collect();
    let _ = writeln!(w, "\n## Metric trajectory\n");
    if sorted.is_empty() {
        let _ = writeln!(w, "No nodes.");
        return;
    }
    let _ = writeln!(w, "| step | action | parent | result | best so far |");
    let _ = writeln!(w, "|---:|---|---|---|---|");
    for (node, so_far) in sorted.iter().zip(best_so_far(run, sorted)) {
        let parent = match node.parent {
            Some(p) => steps
                .get(&p)
                .map_or_else(|| "?".to_string(), |s| format!("#{s}")),
            None => "—".into(),
        };
        let state = NodeState::of(node, best);
        let result = match (state, good_metric(node)) {
            (NodeState::Best, Some(m)) => format!("**{}** (best)", format_metric(m)),
            (_, Some(m)) => format_metric(m),
            (NodeState::InFlight(_), _) => format!("in flight ({})", node.stage.as_str()),
            _ => {
                let reasons: Vec<String> = node
                    .review
                    .iter()
                    .flat_map(|r| &r.bug_reasons)
                    .map(ToString::to_string)
                    .collect();
                if reasons.is_empty() {
                    "buggy".into()
                } else {
                    format!("buggy: {}", reasons.join("; "))
                }
            }
        };
        let so_far = so_far.map_or_else(
            || "—".to_string(),
            |(n, m)| format!("{} (#{})", format_metric(m), n.step),
        );
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            node.step,
            node.action,
            parent,
            cell(&result),
            so_far
        );
    }
}

fn reason_kind(reason: &BugReason) -> &'static str {
    match reason {
        BugReason::NoCode => "no code",
        BugReason::TimedOut => "timeout",
        BugReason::Exception(_) => "exception",
        BugReason::NonZeroExit(_) => "non-zero exit",
        BugReason::ReviewFlagged => "review flagged",
        BugReason::NoMetric(_) => "no metric",
        BugReason::NoSubmission => "no submission",
    }
}

/// One line of text: newlines become spaces.
fn inline(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// A free-text paragraph kept as written, or a placeholder when empty.
fn block(text: &str) -> String {
    if text.is_empty() {
        "(none)".into()
    } else {
        text.to_string()
    }
}
