//! One node in full as the HTTP API shows it: its texts, the cut in its output, its
//! exception, its review, each LLM call and each execution attempt.

use aide_store::{ExecutionRecord, LlmCallRecord, NodeRecord};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::runs::outcome;
use crate::outputs::good_metric;

/// A node with everything recorded about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeDetail {
    pub id: Uuid,
    pub run_id: Uuid,
    pub parent_id: Option<Uuid>,
    /// A merge's second parent.
    pub partner_id: Option<Uuid>,
    pub children: Vec<Uuid>,
    pub step: u32,
    /// draft, improve, debug or merge.
    pub action: String,
    /// pending, generated, executed or reviewed.
    pub stage: String,
    pub debug_depth: u32,
    /// pending, good or buggy.
    pub outcome: String,
    pub plan: Option<String>,
    pub code: Option<String>,
    /// The parent's code, to diff against.
    pub parent_code: Option<String>,
    /// The terminal output the review saw.
    pub output: Option<String>,
    /// The size of the full output before any cut.
    pub output_bytes: Option<u64>,
    pub output_cut: Option<OutputCut>,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub exec_time_secs: Option<f64>,
    pub exception: Option<ExceptionView>,
    pub review: Option<ReviewView>,
    /// The validation metric of a good node.
    pub metric: Option<f64>,
    pub is_best: bool,
    pub llm_calls: Vec<LlmCallView>,
    pub executions: Vec<ExecutionView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where the runner cut a long output (it keeps the head and the tail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct OutputCut {
    /// The 0-based line of the output holding the cut's marker.
    pub line: u32,
    pub omitted_bytes: u64,
}

/// The exception a script raised.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExceptionView {
    #[serde(rename = "type")]
    pub exc_type: String,
    pub message: String,
    /// The line of the solution script, when the traceback names one.
    pub line: Option<u32>,
    pub traceback: String,
}

/// The review's judgement.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub is_buggy: bool,
    pub bug_reasons: Vec<String>,
    pub summary: String,
    pub metric: Option<f64>,
}

/// One LLM call made for the node.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmCallView {
    /// code, feedback or report.
    pub purpose: String,
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    /// Answered from the gateway's cache.
    pub cached: bool,
    pub at: DateTime<Utc>,
}

/// One execution attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionView {
    pub attempt: u32,
    /// running, finished, abandoned or superseded.
    pub status: String,
    pub runner_id: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub wall_secs: Option<f64>,
    pub cpu_secs: Option<f64>,
    pub peak_memory_bytes: Option<u64>,
    pub exit_code: Option<i32>,
    pub oom_killed: bool,
    pub abandon_reason: Option<String>,
}

/// What [`NodeDetail::of`] reads besides the node.
#[derive(Debug)]
pub struct NodeContext<'a> {
    pub children: Vec<Uuid>,
    pub parent_code: Option<String>,
    pub is_best: bool,
    pub calls: &'a [LlmCallRecord],
    pub executions: &'a [ExecutionRecord],
}

impl NodeDetail {
    pub fn of(node: &NodeRecord, context: NodeContext<'_>) -> Self {
        let generation = node.generation.as_ref();
        let execution = node.execution.as_ref();
        let output = execution.map(|e| e.term_out.clone());
        let output_bytes = context
            .executions
            .iter()
            .rev()
            .find_map(|e| e.result.as_ref().map(|r| r.output_bytes));
        Self {
            id: node.id.0,
            run_id: node.run_id.0,
            parent_id: node.parent.map(|p| p.0),
            partner_id: node.partner.map(|p| p.0),
            children: context.children,
            step: node.step,
            action: node.action.as_str().to_owned(),
            stage: node.stage.as_str().to_owned(),
            debug_depth: node.debug_depth,
            outcome: outcome(node).to_owned(),
            plan: generation.map(|g| g.plan.clone()),
            code: generation.and_then(|g| g.code.clone()),
            parent_code: context.parent_code,
            output_cut: output.as_deref().and_then(find_cut),
            output,
            output_bytes,
            exit_code: execution.and_then(|e| e.exit_code),
            timed_out: execution.is_some_and(|e| e.timed_out),
            exec_time_secs: execution.map(|e| e.exec_time_secs),
            exception: execution.and_then(exception),
            review: node.review.as_ref().map(|r| ReviewView {
                is_buggy: r.is_buggy,
                bug_reasons: r.bug_reasons.iter().map(ToString::to_string).collect(),
                summary: r.summary.clone(),
                metric: r.metric,
            }),
            metric: good_metric(node),
            is_best: context.is_best,
            llm_calls: context.calls.iter().map(call_view).collect(),
            executions: context.executions.iter().map(execution_view).collect(),
            created_at: node.created_at,
            updated_at: node.updated_at,
        }
    }
}

fn exception(execution: &aide_store::ExecutionSummary) -> Option<ExceptionView> {
    let exc_type = execution.exc_type.clone()?;
    let info = execution.exc_info.as_ref();
    Some(ExceptionView {
        exc_type,
        message: info.map(|i| i.message.clone()).unwrap_or_default(),
        line: info.map(|i| i.line).filter(|line| *line > 0),
        traceback: info.map(|i| i.traceback.clone()).unwrap_or_default(),
    })
}

fn call_view(call: &LlmCallRecord) -> LlmCallView {
    let usage = &call.usage;
    LlmCallView {
        purpose: call.purpose.as_str().to_owned(),
        provider: usage.provider.clone(),
        model: usage.model.clone(),
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        cached_tokens: usage.cached_tokens,
        cost_usd: usage.cost_usd,
        latency_ms: usage.latency_ms,
        cached: usage.cached,
        at: call.created_at,
    }
}

fn execution_view(record: &ExecutionRecord) -> ExecutionView {
    let result = record.result.as_ref();
    ExecutionView {
        attempt: record.attempt,
        status: record.status.as_str().to_owned(),
        runner_id: result.and_then(|r| r.runner_id.clone()),
        started_at: record.started_at,
        finished_at: record.finished_at,
        wall_secs: result.map(|r| r.wall_secs),
        cpu_secs: result.and_then(|r| r.cpu_secs),
        peak_memory_bytes: result.and_then(|r| r.peak_memory_bytes),
        exit_code: result.and_then(|r| r.exit_code),
        oom_killed: result.is_some_and(|r| r.oom_killed),
        abandon_reason: record.abandon_reason.clone(),
    }
}

/// The runner's cut marker (`... [N bytes omitted] ...`) in an output, if there is one.
pub fn find_cut(output: &str) -> Option<OutputCut> {
    output.lines().enumerate().find_map(|(index, line)| {
        let omitted = line
            .strip_prefix("... [")?
            .strip_suffix(" bytes omitted] ...")?
            .parse()
            .ok()?;
        Some(OutputCut {
            line: u32::try_from(index).ok()?,
            omitted_bytes: omitted,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_marker_is_found_on_its_own_line() {
        let output = "head 1\nhead 2\n... [90 bytes omitted] ...\ntail\n";
        assert_eq!(
            find_cut(output),
            Some(OutputCut {
                line: 2,
                omitted_bytes: 90
            })
        );
        assert_eq!(find_cut("print('... [3 bytes omitted] ...!')\n"), None);
        assert_eq!(find_cut("no cut here"), None);
    }
}
