//! The loop of one drive ([`Drive`]): load and rebuild the run, resume unfinished nodes,
//! create new ones by the policy while budgets allow, apply each reviewed node, finish the
//! run, and write its outputs one last time from the finished state.

use std::collections::VecDeque;
use std::sync::Arc;

use aide_core::event::{RunFinished, RunTaken};
use aide_core::task::TaskData;
use aide_core::{NodeId, NodeStage, RunEvent, next_action};
use aide_store::{Lease, NewNode, NodeRecord, RunRecord, RunStatus, Store};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

use super::budget::{Budget, Exhausted};
use super::context::{RunInfo, code_request, input_files};
use super::events;
use super::narrative::narrative;
use super::preview::data_preview;
use super::retry::{Failure, retrying};
use super::state::RunState;
use super::steering::{fork_generation, take_new};
use super::step::{NodeJob, NodeOutcome, RunCtx};
use super::task_files::{absolute_dir, listed_files};
use super::{Author, Engine, EngineConfig, Executor, Heartbeat, RunEnd, ScriptInput, TaskFiles};
use crate::Error;
use crate::outputs::{OutputsWriter, RunOutputs};

type Ctx<S, A, E> = Arc<RunCtx<S, A, E>>;
type NodeTasks = JoinSet<Result<NodeOutcome, Failure>>;

/// Why the loop stops creating nodes.
enum Stop {
    Budget(Exhausted),
    Cancelled,
}

/// The state of one drive's loop: the run's owner state, the node tasks in flight and
/// what stops the loop.
struct Drive<S: Store, A: Author, E: Executor> {
    ctx: Ctx<S, A, E>,
    state: RunState,
    budget: Budget,
    /// The run's outputs, refreshed in the background.
    outputs: Option<OutputsWriter>,
    /// Nodes left unfinished by a previous owner, resumed before new ones are created.
    queue: VecDeque<NodeRecord>,
    tasks: NodeTasks,
    stopping: Option<Stop>,
    /// The model's narrative for the report, asked for when the run completes.
    report_text: Option<String>,
    /// The sequence number of the run's newest directive, as the signal watch reads it.
    steered: watch::Receiver<u64>,
}

pub(super) async fn drive<S: Store, A: Author, E: Executor>(
    engine: &Engine<S, A, E>,
    lease: Lease,
    cancel: CancellationToken,
    heartbeat: &Heartbeat,
    steered: watch::Receiver<u64>,
) -> Result<RunEnd, Error> {
    // Node tasks stop on shutdown, a cancel request or the loss of the lease.
    let stop = CancellationToken::new();
    let (ctx, state, budget) = match load(engine, &lease, &stop, &cancel).await {
        Ok(loaded) => loaded,
        Err(Failure::Stopped) => return Ok(RunEnd::Interrupted),
        Err(Failure::LeaseLost) => return Ok(RunEnd::LeaseLost),
        Err(Failure::Internal(e)) => return Err(e),
        Err(failure) => return Err(Error::Run(Box::new(failure))),
    };
    let outputs = engine
        .config
        .output_dir
        .as_ref()
        .map(|d| match engine.config.outputs_in_place {
            true => RunOutputs::new(d),
            false => RunOutputs::new(d.join(lease.run_id.to_string())),
        })
        .map(OutputsWriter::start);
    let mut drive = Drive {
        queue: state.unfinished().into(),
        ctx,
        state,
        budget,
        outputs,
        tasks: JoinSet::new(),
        stopping: None,
        report_text: None,
        steered,
    };
    let result = drive.run(&cancel, heartbeat).await;
    stop.cancel();
    drive.tasks.abort_all();
    let finished = matches!(
        result,
        Ok(RunEnd::Completed { .. } | RunEnd::Cancelled | RunEnd::Failed { .. })
    );
    drive.write_final_outputs(finished).await;
    result
}

impl<S: Store, A: Author, E: Executor> Drive<S, A, E> {
    /// The loop: fill the worker slots, wait for a node, a budget, a cancel or the end.
    async fn run(
        &mut self,
        cancel: &CancellationToken,
        heartbeat: &Heartbeat,
    ) -> Result<RunEnd, Error> {
        let workers = self.ctx.info.settings.workers.max(1) as usize;
        loop {
            if self.stopping.is_none() {
                match check_cost(&self.ctx, &self.budget).await {
                    Ok(exhausted) => {
                        self.stopping = exhausted.or_else(|| self.budget.time()).map(Stop::Budget);
                    }
                    Err(failure) => return self.end_with(failure).await,
                }
            }
            if let Err(failure) = self.fill(workers, cancel, heartbeat).await {
                return self.end_with(failure).await;
            }
            if self.tasks.is_empty() {
                return self.complete(cancel, heartbeat).await;
            }
            let timed = self.budget.time_left().filter(|_| self.stopping.is_none());
            tokio::select! {
                _ = cancel.cancelled() => return Ok(RunEnd::Interrupted),
                _ = heartbeat.lost.cancelled() => return Ok(RunEnd::LeaseLost),
                _ = heartbeat.cancel_requested.cancelled(), if self.stopping.is_none() => {
                    self.abort_nodes(Some(Stop::Cancelled));
                }
                _ = tokio::time::sleep(timed.unwrap_or_default()), if timed.is_some() => {
                    let exhausted = self.budget.time().map(Stop::Budget);
                    self.abort_nodes(exhausted);
                }
                Ok(()) = self.steered.changed() => self.take_directives().await,
                joined = self.tasks.join_next() => match joined {
                    None => {}
                    Some(Err(e)) if e.is_cancelled() => {}
                    Some(Err(e)) => return Err(Error::Task { what: "a node task", source: e }),
                    Some(Ok(Ok(outcome))) => {
                        if let Err(failure) = self.applied(outcome).await {
                            return self.end_with(failure).await;
                        }
                    }
                    Some(Ok(Err(Failure::Stopped))) => {}
                    Some(Ok(Err(failure))) => return self.end_with(failure).await,
                },
            }
        }
    }

    /// Fills the free worker slots: resumed nodes first, then new ones.
    /// A stop (shutdown, cancel request, lost lease) interrupts the filling between two
    /// nodes, however many slots are free.
    async fn fill(
        &mut self,
        workers: usize,
        cancel: &CancellationToken,
        heartbeat: &Heartbeat,
    ) -> Result<(), Failure> {
        let stop_asked = || {
            cancel.is_cancelled()
                || heartbeat.cancel_requested.is_cancelled()
                || heartbeat.lost.is_cancelled()
        };
        while self.stopping.is_none() && self.tasks.len() < workers && !stop_asked() {
            let record = match self.queue.pop_front() {
                Some(record) => forked(&self.ctx, &mut self.state, record).await?,
                None if !self.budget.steps_done(self.state.records.len()) => {
                    let record = create_node(&self.ctx, &mut self.state).await?;
                    forked(&self.ctx, &mut self.state, record).await?
                }
                None => break,
            };
            spawn(&self.ctx, &self.state, record, &mut self.tasks);
        }
        Ok(())
    }

    /// Takes in the directives given since the newest one taken; a failed read is tried
    /// again a second later.
    async fn take_directives(&mut self) {
        let store = &*self.ctx.store;
        match take_new(store, &mut self.state, &mut self.budget).await {
            Ok(0) => {}
            Ok(_) => self.refresh_outputs(),
            Err(e) => {
                warn!(error = %e, "cannot read the run's directives, retrying");
                tokio::time::sleep(super::signals::SIGNAL_CHECK_EVERY).await;
                self.steered.mark_changed();
            }
        }
    }

    /// Stops the nodes in flight (their tasks are aborted) for `why`.
    fn abort_nodes(&mut self, why: Option<Stop>) {
        self.ctx.stop.cancel();
        self.tasks.abort_all();
        self.stopping = why;
    }

    /// Ends a loop with nothing in flight: cancelled, or completed by a budget (with the
    /// model's narrative asked for first).
    async fn complete(
        &mut self,
        cancel: &CancellationToken,
        heartbeat: &Heartbeat,
    ) -> Result<RunEnd, Error> {
        let exhausted = match self.stopping.take() {
            Some(Stop::Budget(b)) => b,
            Some(Stop::Cancelled) => {
                return self
                    .finish(RunStatus::Cancelled, "cancelled by request")
                    .await;
            }
            None => Exhausted::Steps(self.budget.steps()),
        };
        if self.outputs.is_some() {
            let ctx = &self.ctx;
            match narrative(
                ctx,
                &self.state,
                &self.budget,
                &exhausted,
                cancel,
                heartbeat,
            )
            .await
            {
                Ok(text) => self.report_text = text,
                Err(end) => return Ok(end),
            }
        }
        self.finish(RunStatus::Completed, &exhausted.reason()).await
    }

    /// Applies a reviewed node (its `node_reviewed` event is written with it): tree, best
    /// node and its event, outputs.
    async fn applied(&mut self, outcome: NodeOutcome) -> Result<(), Failure> {
        let (ctx, state) = (&self.ctx, &mut self.state);
        crate::metrics::count_node(&ctx.metrics, &outcome.record);
        let reviewed = outcome.record.id;
        if let Some(best) = state.reviewed(outcome.record, outcome.direction) {
            state.best_submission = match outcome.submission {
                Some(bytes) if best == reviewed => Some(bytes),
                _ => stored_submission(ctx, best).await?,
            };
            if let Some(event) = state.record(best).and_then(events::best_changed) {
                info!(node_id = %best, "best node changed");
                ctx.event(event).await?;
            }
        }
        self.refresh_outputs();
        Ok(())
    }

    /// Has the run's outputs rewritten from the owner's state (in the background).
    fn refresh_outputs(&self) {
        let Some(outputs) = &self.outputs else {
            return;
        };
        let submission = self
            .ctx
            .info
            .submission_file()
            .zip(self.state.best_submission.as_deref());
        outputs.refresh(&self.state.run, &self.state.records, submission);
    }

    /// Waits for the outputs to be written; for a `finished` run, every file once more
    /// first (the final status and the direction reach `tree.html` and `config.json`), and
    /// `report.md` after.
    async fn write_final_outputs(&mut self, finished: bool) {
        if finished {
            self.refresh_outputs();
        }
        let Some(outputs) = self.outputs.take() else {
            return;
        };
        let outputs = outputs.finish().await;
        if !finished {
            return;
        }
        let run_id = self.ctx.lease.run_id;
        let usage = self.ctx.store.run_usage(run_id).await.ok();
        let calls = self.ctx.store.run_llm_calls(run_id).await;
        let calls = calls.unwrap_or_else(|e| {
            warn!(error = %e, "cannot read the run's model calls for the report");
            Vec::new()
        });
        let (run, nodes) = (&self.state.run, &self.state.records);
        let report = self.report_text.as_deref();
        if let Err(e) = outputs.write_report(run, nodes, usage.as_ref(), &calls, report) {
            warn!(error = %e, "cannot write the run report");
        }
    }

    /// Finishes the run with `status` and `reason`, keeps the finished record as the
    /// owner's, then records the event.
    async fn finish(&mut self, status: RunStatus, reason: &str) -> Result<RunEnd, Error> {
        let ctx = &self.ctx;
        // The loop's own stop token may be cancelled already; finishing must still happen.
        let finishing = CancellationToken::new();
        let quiet =
            |_, why: String, _| async move { warn!(error = %why, "finishing the run, retrying") };
        let done = retrying(ctx.backoff, &finishing, quiet, || async {
            Ok(ctx.store.finish_run(&ctx.lease, status, reason).await?)
        })
        .await;
        match done {
            Ok(finished) => self.state.run = finished,
            Err(Failure::LeaseLost) => return Ok(RunEnd::LeaseLost),
            Err(Failure::Internal(e)) => return Err(e),
            Err(other) => return Err(Error::Run(Box::new(other))),
        }
        info!(status = status.as_str(), reason, "run finished");
        let event = RunEvent::RunFinished(RunFinished {
            status,
            reason: reason.to_owned(),
        });
        if let Err(e) = ctx.store.append_event(ctx.lease.run_id, &event).await {
            warn!(error = %e, "cannot record the run_finished event");
        }
        ctx.notify();
        Ok(RunEnd::of(status, reason))
    }

    /// Ends the drive after a failure a node task or the loop could not get past.
    async fn end_with(&mut self, failure: Failure) -> Result<RunEnd, Error> {
        self.ctx.stop.cancel();
        match failure {
            Failure::LeaseLost => Ok(RunEnd::LeaseLost),
            Failure::Stopped => Ok(RunEnd::Interrupted),
            failure @ (Failure::Fatal(_) | Failure::Infra(_)) => {
                let why = failure.to_string();
                warn!(error = %why, "the run cannot go on");
                self.finish(RunStatus::Failed, &why).await
            }
            Failure::Internal(e) => Err(e),
        }
    }
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
    // The log first: the run read after it holds every budget directive the replay counts
    // as taken, and one recorded in between is read again later (budgets are absolute).
    let mut replayed = events::Replayed::default();
    events::replay_after(&**store, lease.run_id, 0, &mut replayed).await?;
    let mut run: RunRecord = retrying(backoff, cancel, quiet, || async {
        Ok(store.get_run(lease.run_id).await?)
    })
    .await?;
    let nodes = retrying(backoff, cancel, quiet, || async {
        Ok(store.load_tree(lease.run_id).await?)
    })
    .await?;
    if run.direction.is_none()
        && let Some(d) = run.task.metric.resolved_direction()
    {
        run.direction = Some(store.fix_direction(lease, d).await?);
    }
    let (rng, exact) = replayed.rng(run.seed, &nodes);
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
    let info = run_info(&run, &engine.config).await?;
    let mut state = RunState::new(run, nodes, rng, replayed.steering);
    let unfinished = state.unfinished().len();
    info!(nodes = state.records.len(), unfinished, "run loaded");
    let ctx = Arc::new(RunCtx {
        store: store.clone(),
        author: engine.author.clone(),
        executor: engine.executor.clone(),
        files: engine.config.task_files.clone(),
        info,
        lease: lease.clone(),
        backoff,
        stop: stop.clone(),
        on_event: engine.config.on_event.clone(),
        metrics: engine.config.metrics.clone(),
    });
    let taken = RunTaken {
        epoch: lease.epoch,
        owner: lease.owner.clone(),
        nodes: state.records.len() as u64,
        unfinished: unfinished as u64,
    };
    let event = match state.records.is_empty() {
        true => RunEvent::RunStarted(taken),
        false => RunEvent::RunResumed(taken),
    };
    if let Err(e) = store.append_event(lease.run_id, &event).await {
        warn!(error = %e, kind = event.kind(), "cannot record the event");
    }
    ctx.notify();
    if let Some(best) = state.best {
        state.best_submission = stored_submission(&ctx, best).await?;
    }
    Ok((ctx, state, budget))
}

/// What every request of the run shares: the input every execution receives, the files it
/// lists, and the data preview.
async fn run_info(run: &RunRecord, config: &EngineConfig) -> Result<RunInfo, Failure> {
    let files = &config.task_files;
    let (input, listed) = resolve_input(&run.task.input, files.0.as_ref()).await?;
    let preview = match run.settings.data_preview {
        true => data_preview(&input, files, &config.tokens).await,
        false => None,
    };
    Ok(RunInfo {
        id: run.id,
        task: run.task.clone(),
        settings: run.settings.clone(),
        seed: run.seed,
        preview,
        input_files: listed,
        input,
        tokens: config.tokens.clone(),
    })
}

/// A run's input as executions receive it, and the files the prompt lists.
async fn resolve_input(
    data: &TaskData,
    files: &dyn TaskFiles,
) -> Result<(ScriptInput, Vec<String>), Failure> {
    match data {
        TaskData::Local { path } => {
            let dir = absolute_dir(path);
            Ok((ScriptInput::Local(dir.clone()), input_files(&dir)))
        }
        TaskData::Bundle(bundle) => {
            let manifest = files.manifest(*bundle).await.map_err(Failure::from)?;
            let listed = listed_files(&manifest);
            let input = ScriptInput::Bundle {
                digest: bundle.digest,
                manifest,
            };
            Ok((input, listed))
        }
    }
}

/// The cost budget, checked against the ledger.
async fn check_cost<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    budget: &Budget,
) -> Result<Option<Exhausted>, Failure> {
    if ctx.info.settings.max_cost_usd.is_none() {
        return Ok(None);
    }
    let usage = ctx
        .persist("run_usage", None, || ctx.store.run_usage(ctx.lease.run_id))
        .await?;
    Ok(budget.cost(usage.cost_usd))
}

/// Takes the oldest pin the tree can act on, or else asks the policy, for the next node,
/// and stores it (its event first, with the generator state after the decision and the
/// pin it carries out, then the node).
async fn create_node<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &mut RunState,
) -> Result<NodeRecord, Failure> {
    let settings = &ctx.info.settings;
    let direction = state.direction();
    let (decision, pin) = match state.steering.next_pin(&state.tree) {
        Some((seq, decision)) => (decision, Some(seq)),
        None => (
            next_action(&state.tree, &settings.search, direction, &mut state.rng),
            None,
        ),
    };
    let id = NodeId::new();
    let planned = state.tree.add_in_flight(id, decision).clone();
    let node = NewNode {
        id,
        parent: planned.parent,
        partner: planned.partner,
        action: decision.action(),
        step: planned.step,
        debug_depth: planned.debug_depth,
    };
    let event = events::node_created(&node, &state.rng, pin);
    let record = ctx
        .persist("create_node", None, || {
            ctx.store.create_node(&ctx.lease, node.clone(), &event)
        })
        .await?;
    ctx.notify();
    info!(node_id = %id, step = node.step, action = %node.action, parent = ?node.parent, ?pin, "node created");
    if let Some(seq) = pin {
        state.steering.spend(seq);
    }
    state.push(record.clone());
    Ok(record)
}

/// `record` generated from the forked node's code when it is a fork's first node (stored
/// as such, in the state too); otherwise `record` as it is.
async fn forked<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &mut RunState,
    mut record: NodeRecord,
) -> Result<NodeRecord, Failure> {
    let Some(generation) = fork_generation(&*ctx.store, state, &record).await? else {
        return Ok(record);
    };
    ctx.persist("mark_generated", &record, || {
        ctx.store
            .mark_generated(&ctx.lease, record.id, generation.clone())
    })
    .await?;
    info!(node_id = %record.id, "a fork's first node carries the forked node's code");
    record.generation = Some(generation);
    record.stage = NodeStage::Generated;
    state.update(record.clone());
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
    let file = ctx
        .persist("get_node_file", None, || {
            ctx.store.get_node_file(node, name)
        })
        .await?;
    match file {
        Some(file) => Ok(Some(ctx.node_file_bytes(file).await?)),
        None => Ok(None),
    }
}

/// Starts the task carrying `record` to `reviewed`.
fn spawn<S: Store, A: Author, E: Executor>(
    ctx: &Ctx<S, A, E>,
    state: &RunState,
    record: NodeRecord,
    tasks: &mut NodeTasks,
) {
    let direction = state.direction();
    let code_request = (record.stage == NodeStage::Pending).then(|| {
        code_request(
            &ctx.info,
            &state.records,
            &record,
            &state.notes(),
            direction,
        )
    });
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
        direction,
    };
    span.follows_from(tracing::Span::current());
    tasks.spawn(ctx.clone().run_node(job).instrument(span));
}
