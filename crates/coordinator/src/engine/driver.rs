//! The loop of one drive: load and rebuild the run, resume unfinished nodes, create new
//! ones by the policy while budgets allow, apply each reviewed node, and finish the run.

use std::collections::VecDeque;
use std::sync::Arc;

use aide_core::{NodeId, NodeStage, PreviewOptions, next_action, preview_dir};
use aide_store::{Lease, NewNode, NodeRecord, RunRecord, RunStatus, Store};
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use super::budget::{Budget, Exhausted};
use super::context::{RunInfo, code_request, input_files};
use super::events::{
    self, BEST_CHANGED, NODE_CREATED, NODE_REVIEWED, RUN_FINISHED, RUN_RESUMED, RUN_STARTED,
};
use super::narrative::narrative;
use super::retry::{Failure, retrying};
use super::state::RunState;
use super::step::{NodeJob, NodeOutcome, RunCtx};
use super::{Author, Engine, Executor, Heartbeat, RunEnd};
use crate::Error;
use crate::outputs::RunOutputs;

type Ctx<S, A, E> = Arc<RunCtx<S, A, E>>;

/// Why the loop stops creating nodes.
enum Stop {
    Budget(Exhausted),
    Cancelled,
}

pub(super) async fn drive<S: Store, A: Author, E: Executor>(
    engine: &Engine<S, A, E>,
    lease: Lease,
    cancel: CancellationToken,
    heartbeat: &Heartbeat,
) -> Result<RunEnd, Error> {
    // Node tasks stop on shutdown, a cancel request or the loss of the lease.
    let stop = CancellationToken::new();
    let (ctx, mut state, budget) = match load(engine, &lease, &stop, &cancel).await {
        Ok(loaded) => loaded,
        Err(Failure::Stopped) => return Ok(RunEnd::Interrupted),
        Err(Failure::LeaseLost) => return Ok(RunEnd::LeaseLost),
        Err(Failure::Fatal(why) | Failure::Infra(why)) => return Err(Error::Engine(why)),
        Err(Failure::Internal(e)) => return Err(e),
    };
    let outputs = engine
        .config
        .output_dir
        .as_ref()
        .map(|d| match engine.config.outputs_in_place {
            true => RunOutputs::new(d),
            false => RunOutputs::new(d.join(lease.run_id.to_string())),
        });
    let workers = ctx.info.run.settings.workers.max(1) as usize;
    let mut queue: VecDeque<NodeRecord> = state.unfinished().into();
    let mut tasks: JoinSet<Result<NodeOutcome, Failure>> = JoinSet::new();
    let mut stopping: Option<Stop> = None;
    // The model's narrative for the report, asked for when the run completes.
    let mut report_text = None;
    let result = loop {
        if stopping.is_none() {
            match check_cost(&ctx, &budget).await {
                Ok(exhausted) => stopping = exhausted.or_else(|| budget.time()).map(Stop::Budget),
                Err(failure) => break end_with(&ctx, failure).await,
            }
        }
        // Fill the free worker slots: resumed nodes first, then new ones.
        let mut failed = None;
        while stopping.is_none() && tasks.len() < workers {
            let record = match queue.pop_front() {
                Some(record) => record,
                None if !budget.steps_done(state.records.len()) => {
                    match create_node(&ctx, &mut state).await {
                        Ok(record) => record,
                        Err(failure) => {
                            failed = Some(failure);
                            break;
                        }
                    }
                }
                None => break,
            };
            spawn(&ctx, &state, record, &mut tasks);
        }
        if let Some(failure) = failed {
            break end_with(&ctx, failure).await;
        }
        if tasks.is_empty() {
            let exhausted = match stopping.take() {
                Some(Stop::Budget(b)) => b,
                Some(Stop::Cancelled) => {
                    break finish(&ctx, RunStatus::Cancelled, "cancelled by request").await;
                }
                None => Exhausted::Steps(budget.steps()),
            };
            if outputs.is_some() {
                match narrative(&ctx, &state, &budget, &exhausted, &cancel, heartbeat).await {
                    Ok(text) => report_text = text,
                    Err(end) => break Ok(end),
                }
            }
            break finish(&ctx, RunStatus::Completed, &exhausted.reason()).await;
        }
        let timed = budget.time_left().filter(|_| stopping.is_none());
        tokio::select! {
            _ = cancel.cancelled() => break Ok(RunEnd::Interrupted),
            _ = heartbeat.lost.cancelled() => break Ok(RunEnd::LeaseLost),
            _ = heartbeat.cancel_requested.cancelled(), if stopping.is_none() => {
                stop.cancel();
                tasks.abort_all();
                stopping = Some(Stop::Cancelled);
            }
            _ = tokio::time::sleep(timed.unwrap_or_default()), if timed.is_some() => {
                stop.cancel();
                tasks.abort_all();
                stopping = budget.time().map(Stop::Budget);
            }
            joined = tasks.join_next() => match joined {
                None => {}
                Some(Err(e)) if e.is_cancelled() => {}
                Some(Err(e)) => break Err(Error::Engine(format!("a node task panicked: {e}"))),
                Some(Ok(Ok(outcome))) => {
                    if let Err(failure) = applied(&ctx, &mut state, outcome, outputs.as_ref()).await {
                        break end_with(&ctx, failure).await;
                    }
                }
                Some(Ok(Err(Failure::Stopped))) => {}
                Some(Ok(Err(failure))) => break end_with(&ctx, failure).await,
            },
        }
    };
    stop.cancel();
    tasks.abort_all();
    if let Some(outputs) = &outputs
        && matches!(
            result,
            Ok(RunEnd::Completed { .. } | RunEnd::Cancelled | RunEnd::Failed { .. })
        )
    {
        write_report(&ctx, &state, outputs, report_text.as_deref()).await;
    }
    result
}

async fn load<S: Store, A: Author, E: Executor>(
    engine: &Engine<S, A, E>,
    lease: &Lease,
    stop: &CancellationToken,
    cancel: &CancellationToken,
) -> Result<(Ctx<S, A, E>, RunState, Budget), Failure> {
    let store = &engine.store;
    let backoff = engine.config.backoff;
    let quiet = |_, why: String, _| async move { warn!(error = %why, "loading the run, retrying") };
    let run: RunRecord = retrying(backoff, cancel, quiet, || async {
        Ok(store.get_run(lease.run_id).await?)
    })
    .await?;
    let nodes = retrying(backoff, cancel, quiet, || async {
        Ok(store.load_tree(lease.run_id).await?)
    })
    .await?;
    let mut direction = run.direction;
    if direction.is_none()
        && let Some(d) = run.task.metric.resolved_direction()
    {
        direction = Some(store.fix_direction(lease, d).await?);
    }
    let (rng, exact) = events::resume_rng(&**store, lease.run_id, run.seed, &nodes).await?;
    if !exact {
        warn!("the newest node has no saved generator state: restarting it from the seed");
    }
    let prior = nodes
        .iter()
        .map(|n| n.created_at)
        .min()
        .and_then(|first| (chrono::Utc::now() - first).to_std().ok())
        .unwrap_or_default();
    let budget = Budget::new(&run.settings, prior);
    let data_dir = run.task.data_dir.clone();
    let with_preview = run.settings.data_preview;
    let (preview, files) = tokio::task::spawn_blocking(move || {
        let preview = with_preview
            .then(|| preview_dir(&data_dir, &PreviewOptions::default()))
            .and_then(|p| p.map_err(|e| warn!(error = %e, "no data preview")).ok());
        (preview, input_files(&data_dir))
    })
    .await
    .map_err(|e| Failure::Internal(Error::Engine(format!("data preview: {e}"))))?;
    let mut state = RunState::new(nodes, direction, rng);
    let unfinished = state.unfinished().len();
    info!(nodes = state.records.len(), unfinished, "run loaded");
    let payload = json!({"epoch": lease.epoch, "owner": lease.owner, "nodes": state.records.len(), "unfinished": unfinished});
    let ctx = Arc::new(RunCtx {
        store: store.clone(),
        author: engine.author.clone(),
        executor: engine.executor.clone(),
        info: RunInfo {
            run,
            preview,
            input_files: files,
        },
        lease: lease.clone(),
        backoff,
        stop: stop.clone(),
        on_event: engine.config.on_event.clone(),
    });
    let kind = if state.records.is_empty() {
        RUN_STARTED
    } else {
        RUN_RESUMED
    };
    if let Err(e) = store.append_event(lease.run_id, kind, payload).await {
        warn!(error = %e, kind, "cannot record the event");
    }
    ctx.notify();
    if let Some(best) = state.best {
        state.best_submission = stored_submission(&ctx, best).await?;
    }
    Ok((ctx, state, budget))
}

/// The cost budget, checked against the ledger.
async fn check_cost<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    budget: &Budget,
) -> Result<Option<Exhausted>, Failure> {
    if ctx.info.run.settings.max_cost_usd.is_none() {
        return Ok(None);
    }
    let usage = ctx
        .persist("run_usage", None, || ctx.store.run_usage(ctx.lease.run_id))
        .await?;
    Ok(budget.cost(usage.cost_usd))
}

/// Asks the policy for the next node and stores it (its event first, with the generator
/// state after the decision, then the node).
async fn create_node<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &mut RunState,
) -> Result<NodeRecord, Failure> {
    let settings = &ctx.info.run.settings;
    let decision = next_action(
        &state.tree,
        &settings.search,
        state.direction,
        &mut state.rng,
    );
    let id = NodeId::new();
    let planned = state.tree.add_in_flight(id, decision).clone();
    let node = NewNode {
        id,
        parent: planned.parent,
        action: decision.action(),
        step: planned.step,
        debug_depth: planned.debug_depth,
    };
    let payload = events::node_created(&node, &state.rng);
    ctx.event(NODE_CREATED, payload).await?;
    let record = ctx
        .persist("insert_node", None, || {
            ctx.store.insert_node(&ctx.lease, node.clone())
        })
        .await?;
    info!(node_id = %id, step = node.step, action = %node.action, parent = ?node.parent, "node created");
    state.push(record.clone());
    Ok(record)
}

/// The submission stored for `node`, when the task has one and the node wrote it.
async fn stored_submission<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    node: NodeId,
) -> Result<Option<Vec<u8>>, Failure> {
    let Some(name) = ctx.info.submission_file() else {
        return Ok(None);
    };
    ctx.persist("get_node_file", None, || {
        ctx.store.get_node_file(node, name)
    })
    .await
}

/// Starts the task carrying `record` to `reviewed`.
fn spawn<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &RunState,
    record: NodeRecord,
    tasks: &mut JoinSet<Result<NodeOutcome, Failure>>,
) {
    let code_request = (record.stage == NodeStage::Pending)
        .then(|| code_request(&ctx.info, &state.records, &record, state.direction));
    // Each node is the root of its own trace (its gateway and runner calls join it), linked
    // to the run's span.
    let span = tracing::info_span!(
        parent: None,
        "node",
        run_id = %ctx.lease.run_id,
        node_id = %record.id,
        step = record.step,
        action = %record.action,
        stage = record.stage.as_str(),
    );
    let job = NodeJob {
        record,
        code_request,
        direction: state.direction,
    };
    span.follows_from(tracing::Span::current());
    tasks.spawn(ctx.clone().run_node(job).instrument(span));
}

/// Applies a reviewed node: tree, events, best node, outputs.
async fn applied<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &mut RunState,
    outcome: NodeOutcome,
    outputs: Option<&RunOutputs>,
) -> Result<(), Failure> {
    let payload = events::node_reviewed(&outcome.record);
    ctx.event(NODE_REVIEWED, payload).await?;
    let reviewed = outcome.record.id;
    if let Some(best) = state.reviewed(outcome.record, outcome.direction) {
        state.best_submission = match outcome.submission {
            Some(bytes) if best == reviewed => Some(bytes),
            _ => stored_submission(ctx, best).await?,
        };
        let metric = state
            .record(best)
            .and_then(|n| n.review.as_ref())
            .and_then(|r| r.metric);
        let step = state.record(best).map(|n| n.step);
        info!(node_id = %best, ?metric, "best node changed");
        let payload = json!({"node_id": best, "step": step, "metric": metric});
        ctx.event(BEST_CHANGED, payload).await?;
    }
    if let Some(outputs) = outputs {
        refresh_outputs(ctx, state, outputs);
    }
    Ok(())
}

fn refresh_outputs<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &RunState,
    outputs: &RunOutputs,
) {
    let submission = ctx
        .info
        .submission_file()
        .zip(state.best_submission.as_deref());
    if let Err(e) = outputs.refresh(&ctx.info.run, &state.records, submission) {
        warn!(error = %e, "cannot refresh the run outputs");
    }
}

async fn write_report<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &RunState,
    outputs: &RunOutputs,
    llm_report: Option<&str>,
) {
    refresh_outputs(ctx, state, outputs);
    let usage = ctx.store.run_usage(ctx.lease.run_id).await.ok();
    let run = ctx.store.get_run(ctx.lease.run_id).await;
    let run = run.as_ref().unwrap_or(&ctx.info.run);
    if let Err(e) = outputs.write_report(run, &state.records, usage.as_ref(), llm_report) {
        warn!(error = %e, "cannot write the run report");
    }
}

/// Finishes the run with `status` and `reason`, then records the event.
async fn finish<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    status: RunStatus,
    reason: &str,
) -> Result<RunEnd, Error> {
    // The loop's own stop token may be cancelled already; finishing must still happen.
    let finishing = CancellationToken::new();
    let quiet =
        |_, why: String, _| async move { warn!(error = %why, "finishing the run, retrying") };
    let done = retrying(ctx.backoff, &finishing, quiet, || async {
        Ok(ctx.store.finish_run(&ctx.lease, status, reason).await?)
    })
    .await;
    match done {
        Ok(_) => {}
        Err(Failure::LeaseLost) => return Ok(RunEnd::LeaseLost),
        Err(Failure::Internal(e)) => return Err(e),
        Err(other) => return Err(Error::Engine(format!("cannot finish the run: {other:?}"))),
    }
    info!(status = status.as_str(), reason, "run finished");
    let payload = json!({"status": status.as_str(), "reason": reason});
    if let Err(e) = ctx
        .store
        .append_event(ctx.lease.run_id, RUN_FINISHED, payload)
        .await
    {
        warn!(error = %e, "cannot record the run_finished event");
    }
    ctx.notify();
    Ok(match status {
        RunStatus::Cancelled => RunEnd::Cancelled,
        RunStatus::Failed => RunEnd::Failed {
            reason: reason.to_owned(),
        },
        _ => RunEnd::Completed {
            reason: reason.to_owned(),
        },
    })
}

/// Ends the drive after a failure a node task or the loop could not get past.
async fn end_with<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    failure: Failure,
) -> Result<RunEnd, Error> {
    ctx.stop.cancel();
    match failure {
        Failure::LeaseLost => Ok(RunEnd::LeaseLost),
        Failure::Stopped => Ok(RunEnd::Interrupted),
        Failure::Fatal(why) | Failure::Infra(why) => {
            warn!(error = %why, "the run cannot go on");
            finish(ctx, RunStatus::Failed, &why).await
        }
        Failure::Internal(e) => Err(e),
    }
}
