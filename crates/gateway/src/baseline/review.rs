//! Reviews: reads a script's output the way the `submit_review` function expects — the last
//! `AIDE_METRIC:` line is the metric, a traceback or a missing metric line is a bug.

use aide_core::metric::{METRIC_LINE_PREFIX, parse_metric_line};
use aide_proto::v1::TaskFacts;
use serde_json::{Value, json};

use super::debug::exception_line;
use super::task;

const TRACEBACK: &str = "Traceback (most recent call last)";

/// The `submit_review` arguments for an execution's output.
pub fn review(task: &TaskFacts, output: &str) -> Value {
    let printed_name = printed_metric_name(output);
    let lower_is_better = task::lower_is_better(task, printed_name.as_deref());
    let metric = parse_metric_line(output).map(|m| m.get());
    let traceback = output.contains(TRACEBACK);
    let (is_bug, summary) = match (traceback, metric) {
        (true, _) => {
            let line = exception_line(output).unwrap_or("an exception without a message line");
            (
                true,
                format!("The script raised an exception and did not finish cleanly: {line}"),
            )
        }
        (false, None) => (
            true,
            format!(
                "The script finished without printing a valid `{METRIC_LINE_PREFIX}` line, \
                 so no validation metric was obtained."
            ),
        ),
        (false, Some(value)) => {
            let name = printed_name.as_deref().unwrap_or("metric");
            let submission = if output.contains("wrote ./working/") {
                " and wrote the submission file"
            } else {
                ""
            };
            let direction = if lower_is_better { "lower" } else { "higher" };
            (
                false,
                format!(
                    "The script ran without errors{submission}; validation {name} = {value} \
                     ({direction} is better)."
                ),
            )
        }
    };
    let metric = if is_bug { None } else { metric };
    json!({
        "is_bug": is_bug,
        "summary": summary,
        "metric": metric,
        "lower_is_better": lower_is_better,
    })
}

/// The metric name from a baseline script's human line, "Validation <name> (...): <value>".
fn printed_metric_name(output: &str) -> Option<String> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("Validation ")?;
        let name = rest.split_whitespace().next()?;
        Some(name.trim_end_matches(':').to_owned())
    })
}
