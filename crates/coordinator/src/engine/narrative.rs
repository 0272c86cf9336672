//! The narrative part of `report.md`: when a run completes and its code model is a real
//! one (not the offline baseline) with cost budget left, the engine asks the gateway for a
//! short markdown account of the run (purpose `report`, action `ACTION_KIND_REPORT`) built
//! from the task, the metric trajectory and the best node. The call is put in the ledger.
//! It never fails the run: after a refusal or a few infrastructure failures the report is
//! the deterministic one alone and a `report_failed` event says why.

use aide_core::event::ReportFailed;
use aide_core::prompt::{BestProgram, SearchSummary, StepOutcome, StepResult, report_prompt};
use aide_core::{LlmPurpose, RunEvent, truncate_middle};
use aide_store::{NodeRecord, RunRecord, Store};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::budget::{Budget, Exhausted};
use super::context::RunInfo;
use super::ports::{Answer, AuthorHints, AuthorRequest, CallKind};
use super::retry::retrying;
use super::state::RunState;
use super::step::RunCtx;
use super::{Author, Executor, Heartbeat, PortError, RunEnd};
use crate::outputs::{best_node, best_so_far, by_step, good_metric};

/// Attempts of the report call when the gateway is unreachable or overloaded.
const ATTEMPTS: u32 = 3;
/// Bound on the best program's code in the request's context, in characters.
const CODE_CHARS: usize = 10_000;

/// The narrative for the report of a run that completed because `exhausted` ran out:
/// `Ok(None)` when none is wanted or the call failed (recorded as `report_failed`);
/// `Err` with the end of the drive when the engine stops or the lease is lost meanwhile.
pub(super) async fn narrative<S: Store, A: Author, E: Executor>(
    ctx: &RunCtx<S, A, E>,
    state: &RunState,
    budget: &Budget,
    exhausted: &Exhausted,
    cancel: &CancellationToken,
    heartbeat: &Heartbeat,
) -> Result<Option<String>, RunEnd> {
    let settings = &ctx.info.settings;
    if settings.code.model.starts_with("baseline") || matches!(exhausted, Exhausted::Cost { .. }) {
        return Ok(None);
    }
    if settings.max_cost_usd.is_some() {
        match ctx.store.run_usage(ctx.lease.run_id).await {
            Ok(usage) if budget.cost(usage.cost_usd).is_some() => return Ok(None),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot read the run's cost; asking for the report"),
        }
    }
    let request = report_request(&ctx.info, &state.run, &state.records);
    let mut attempt = 0;
    let error = loop {
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return Err(RunEnd::Interrupted),
            _ = heartbeat.lost.cancelled() => return Err(RunEnd::LeaseLost),
            outcome = ctx.author.complete(request.clone()) => outcome,
        };
        let error = match outcome {
            Ok(response) => {
                let call = ctx.ledger_entry(None, &request, &response);
                let quiet = |_, why: String, _| async move {
                    warn!(error = %why, "recording the report call, retrying");
                };
                let recorded = retrying(ctx.backoff, cancel, quiet, || async {
                    Ok(ctx.store.record_llm_call(call.clone()).await?)
                })
                .await;
                if let Err(e) = recorded {
                    warn!(error = ?e, "the report call is not in the ledger");
                }
                match response.answer.as_ref().map(Answer::text) {
                    Some(text) if !text.trim().is_empty() => {
                        info!(chars = text.len(), "report written by the model");
                        return Ok(Some(text.to_owned()));
                    }
                    _ => PortError::request("the report answer was empty"),
                }
            }
            Err(e) => e,
        };
        attempt += 1;
        if !error.is_infrastructure() || attempt >= ATTEMPTS {
            break error;
        }
        let wait = ctx.backoff.delay(attempt - 1);
        warn!(error = %error, attempt, ?wait, "the report call failed, retrying");
        tokio::select! {
            _ = cancel.cancelled() => return Err(RunEnd::Interrupted),
            _ = heartbeat.lost.cancelled() => return Err(RunEnd::LeaseLost),
            _ = tokio::time::sleep(wait) => {}
        }
    };
    warn!(error = %error, "no report from the model: the report is the deterministic one");
    let event = RunEvent::ReportFailed(ReportFailed {
        error: error.message,
        attempts: attempt,
    });
    if let Err(e) = ctx.store.append_event(ctx.lease.run_id, &event).await {
        warn!(error = %e, "cannot record the report_failed event");
    }
    ctx.notify();
    Ok(None)
}

/// The request asking the run's code model for the report; `run` is the run as the loop
/// knows it now.
pub fn report_request(info: &RunInfo, run: &RunRecord, nodes: &[NodeRecord]) -> AuthorRequest {
    let best = best_node(run, nodes);
    let settings = &run.settings;
    let best_code = best
        .and_then(|b| b.generation.as_ref())
        .and_then(|g| g.code.as_deref())
        .unwrap_or_default();
    AuthorRequest {
        purpose: LlmPurpose::Report,
        run_id: run.id,
        node_id: best.map(|b| b.id),
        model: settings.code.model.clone(),
        temperature: settings.code.temperature,
        prompt: report_prompt(&search_summary(run, nodes)).render(),
        function: None,
        hints: AuthorHints {
            call: CallKind::Report,
            task: info.facts(run.direction),
            parent_code: truncate_middle(best_code, CODE_CHARS),
            last_output: String::new(),
            step: nodes.len() as u32,
            seed: run.seed,
            draft_index: 0,
            parent_metric: best.and_then(good_metric),
            partner: None,
        },
    }
}

/// What the report is written from: every node in step order with the best metric so far,
/// and the best node.
fn search_summary<'a>(run: &'a RunRecord, nodes: &'a [NodeRecord]) -> SearchSummary<'a> {
    let sorted = by_step(nodes);
    let step_of = |id| sorted.iter().find(|n| n.id == id).map(|n| n.step);
    let steps = sorted
        .iter()
        .zip(best_so_far(run, &sorted))
        .map(|(node, so_far)| StepOutcome {
            step: node.step,
            action: node.action,
            parent_step: node.parent.and_then(step_of),
            result: match (good_metric(node), &node.review) {
                (Some(m), _) => StepResult::Metric(m),
                (None, Some(review)) => StepResult::Failed(&review.summary),
                (None, None) => StepResult::NotReviewed,
            },
            best_so_far: so_far.map(|(_, m)| m),
        })
        .collect();
    let best = best_node(run, nodes).and_then(|node| {
        let generation = node.generation.as_ref();
        Some(BestProgram {
            step: node.step,
            metric: good_metric(node)?,
            plan: generation.map_or("", |g| g.plan.as_str()),
            review: node.review.as_ref().map_or("", |r| r.summary.as_str()),
            code: generation.and_then(|g| g.code.as_deref()).unwrap_or(""),
        })
    });
    SearchSummary {
        task: &run.task,
        direction: run.direction,
        stop_reason: run.stop_reason.as_deref(),
        steps,
        best,
    }
}
