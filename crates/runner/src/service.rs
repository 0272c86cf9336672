//! The aide.v1.Runner gRPC service: admits executions into a fixed number of slots, runs each
//! one as a tracked task (workspace → sandbox → result), streams its events, and cancels it
//! on Cancel, on a heartbeat's request, on a caller that goes away, or at shutdown.

use std::{
    collections::HashMap,
    path::PathBuf,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use aide_proto::v1::{
    CancelRequest, CancelResponse, ExecuteEvent, ExecuteRequest, Finished, GradingWork,
    PythonException, WorkContext, execute_event::Event, runner_server::Runner,
};
use aide_telemetry::Metrics;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tonic::{Request, Response, Status};
use tracing::{Instrument, info, info_span, warn};

use crate::{
    Error, Result, collect,
    config::LimitDefaults,
    input::{InputSource, RequestedInput},
    quota_pool::QuotaPool,
    sandbox::{ExecIo, ExecKey, ExecSpec, RawOutcome, ResolvedLimits, Sandbox},
    traceback,
    workspace::{SCRIPT, Workspace, sanitize},
};

/// The runner service; cheap to clone.
#[derive(Debug, Clone)]
pub struct RunnerService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    runner_id: String,
    sandbox: Arc<dyn Sandbox>,
    limits: LimitDefaults,
    work_root: PathBuf,
    inputs: InputSource,
    slots: usize,
    free: Mutex<Vec<usize>>,
    /// The running executions: how to stop each, and the sweep cell it grades, if it is a
    /// grading command (reported back in heartbeats).
    running: Mutex<HashMap<ExecKey, (CancellationToken, Option<GradingWork>)>>,
    accepting: CancellationToken,
    tracker: TaskTracker,
    /// Where finished executions are counted.
    metrics: Arc<Metrics>,
    /// The slots' kept quota file systems, when the backend takes quota mounts.
    quotas: Option<Arc<QuotaPool>>,
}

impl RunnerService {
    /// A service with `slots` slots running scripts in `sandbox`, their inputs taken from
    /// `inputs`, counting finished executions into `metrics`.
    pub fn new(
        runner_id: String,
        sandbox: Arc<dyn Sandbox>,
        limits: LimitDefaults,
        work_root: PathBuf,
        (slots, inputs): (usize, InputSource),
        metrics: Arc<Metrics>,
    ) -> Self {
        let quotas = sandbox
            .quota_mounts()
            .then(|| Arc::new(QuotaPool::new(work_root.join("quota"), slots)));
        Self {
            inner: Arc::new(Inner {
                runner_id,
                sandbox,
                limits,
                work_root,
                inputs,
                slots,
                free: Mutex::new((0..slots).rev().collect()),
                running: Mutex::default(),
                accepting: CancellationToken::new(),
                tracker: TaskTracker::new(),
                metrics,
                quotas,
            }),
        }
    }

    /// Unmounts the slots' kept quota file systems (once the runner has drained).
    pub fn release_quotas(&self) {
        if let Some(pool) = &self.inner.quotas {
            pool.release();
        }
    }

    /// Slots free right now.
    pub fn free_slots(&self) -> usize {
        lock(&self.inner.free).len()
    }

    /// Bytes the bundle cache holds now, when there is one.
    pub fn cache_bytes(&self) -> Option<u64> {
        self.inner.inputs.cache.as_ref().map(|c| c.stored_bytes())
    }

    /// The bundle cache's hits and misses, when there is a cache.
    pub fn cache_lookups(&self) -> Option<aide_bundle::CacheLookups> {
        self.inner.inputs.cache.as_ref().map(|c| c.lookups())
    }

    /// Total slots.
    pub fn slots(&self) -> usize {
        self.inner.slots
    }

    /// Executions in progress.
    pub fn running(&self) -> Vec<(ExecKey, Option<GradingWork>)> {
        lock(&self.inner.running)
            .iter()
            .map(|(key, (_, grading))| (key.clone(), grading.clone()))
            .collect()
    }

    /// Tells one execution to stop; false when it is not running here.
    pub fn cancel(&self, key: &ExecKey) -> bool {
        lock(&self.inner.running)
            .get(key)
            .map(|(t, _)| t.cancel())
            .is_some()
    }

    /// Refuses new executions (UNAVAILABLE) from now on.
    pub fn stop_accepting(&self) {
        self.inner.accepting.cancel();
    }

    /// Lets running executions finish for up to `grace`, then cancels the rest and waits for
    /// them to report and clean up.
    pub async fn drain(&self, grace: Duration) {
        self.stop_accepting();
        self.inner.tracker.close();
        if tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            let n = {
                let running = lock(&self.inner.running);
                running.values().for_each(|(token, _)| token.cancel());
                running.len()
            };
            info!(cancelled = n, "drain period over, cancelling executions");
            self.inner.tracker.wait().await;
        }
    }

    fn admit(
        &self,
        key: &ExecKey,
        grading: Option<GradingWork>,
    ) -> Result<(SlotGuard, RunningGuard)> {
        if self.inner.accepting.is_cancelled() {
            return Err(Error::ShuttingDown);
        }
        let mut running = lock(&self.inner.running);
        if running.contains_key(key) {
            return Err(Error::AlreadyRunning(key.to_string()));
        }
        let slot = lock(&self.inner.free)
            .pop()
            .ok_or(Error::NoFreeSlot(self.inner.slots))?;
        let token = CancellationToken::new();
        running.insert(key.clone(), (token.clone(), grading));
        Ok((
            SlotGuard {
                inner: self.inner.clone(),
                slot,
            },
            RunningGuard {
                inner: self.inner.clone(),
                key: key.clone(),
                token,
            },
        ))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Returns the slot to the pool when the execution ends.
#[derive(Debug)]
struct SlotGuard {
    inner: Arc<Inner>,
    slot: usize,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        lock(&self.inner.free).push(self.slot);
    }
}

/// Removes the execution from the running set when it ends.
#[derive(Debug)]
struct RunningGuard {
    inner: Arc<Inner>,
    key: ExecKey,
    token: CancellationToken,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        lock(&self.inner.running).remove(&self.key);
    }
}

/// The key of a work context; run id and attempt are required.
pub fn exec_key(work: Option<&WorkContext>) -> Result<ExecKey> {
    let work = work.ok_or_else(|| Error::InvalidRequest("work is required".into()))?;
    if work.run_id.is_empty() {
        return Err(Error::InvalidRequest("work.run_id is required".into()));
    }
    Ok(ExecKey {
        run_id: work.run_id.clone(),
        node_id: work.node_id.clone(),
        attempt: work.attempt,
    })
}

/// A validated request, ready to run.
#[derive(Debug)]
struct Job {
    code: String,
    input: RequestedInput,
    limits: ResolvedLimits,
    allow_network: bool,
    globs: Vec<String>,
    submission: String,
    warm: bool,
}

/// The job a request asks for, its limits filled from the defaults and clamped to the
/// runner's ceilings, and network access only where the runner's policy allows it.
fn job(mut req: ExecuteRequest, defaults: &LimitDefaults, inputs: &InputSource) -> Result<Job> {
    if req.code.trim().is_empty() {
        return Err(Error::InvalidRequest("code is empty".into()));
    }
    let input = RequestedInput::of(&mut req)?;
    inputs.check(&input)?;
    for g in &req.collect_globs {
        collect::validate_relative(g)?;
    }
    if !req.submission_file.is_empty() {
        collect::validate_relative(&req.submission_file)?;
    }
    let l = req.limits.unwrap_or_default();
    let pick = |v: u64, d: u64| if v == 0 { d } else { v };
    let mut timeout = l
        .timeout
        .and_then(|t| Duration::try_from(t).ok())
        .filter(|t| !t.is_zero())
        .unwrap_or(Duration::from_secs(defaults.timeout_secs))
        .min(Duration::from_secs(defaults.max_timeout_secs));
    // The caller gives up at its deadline; running past it is wasted work.
    if let Some(deadline) = req.work.as_ref().and_then(|w| w.deadline)
        && let Ok(at) = SystemTime::try_from(deadline)
    {
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        timeout = timeout.min(left.max(Duration::from_millis(1)));
    }
    let warm = !req.cold_start && !crate::sandbox::warm::asks_for_cold_start(&req.code);
    Ok(Job {
        warm,
        code: req.code,
        input,
        limits: ResolvedLimits {
            timeout,
            memory_bytes: pick(l.memory_bytes, defaults.memory_bytes)
                .min(defaults.max_memory_bytes),
            cpus: (if l.cpus.is_finite() && l.cpus > 0.0 {
                l.cpus
            } else {
                defaults.cpus
            })
            .min(defaults.max_cpus),
            pids: (if l.pids == 0 { defaults.pids } else { l.pids }).min(defaults.max_pids),
            max_output_bytes: pick(l.max_output_bytes, defaults.max_output_bytes)
                .min(defaults.max_output_bytes),
            max_file_bytes: pick(l.max_file_bytes, defaults.max_file_bytes)
                .min(defaults.max_file_bytes),
            max_write_bytes: defaults.max_write_bytes,
            disk_bytes: defaults.disk_bytes,
        },
        allow_network: req.allow_network && defaults.allow_network,
        globs: req.collect_globs,
        submission: req.submission_file,
    })
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ExecuteEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Runner for RunnerService {
    type ExecuteStream = EventStream;

    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let req = request.into_inner();
        let key = exec_key(req.work.as_ref())?;
        let grading = req.work.as_ref().and_then(|w| w.grading.clone());
        let job = job(req, &self.inner.limits, &self.inner.inputs)?;
        let (slot, running) = self.admit(&key, grading)?;
        let (tx, rx) = mpsc::channel(256);
        let inner = self.inner.clone();
        let span = info_span!("execute", key = %key, slot = slot.slot);
        self.inner.tracker.spawn(
            async move {
                let token = running.token.clone();
                // The caller dropping the stream closes the channel: stop the script.
                let watch = {
                    let (tx, token) = (tx.clone(), token.clone());
                    tokio::spawn(async move {
                        tx.closed().await;
                        token.cancel();
                    })
                };
                let finished = run_job(&inner, key, slot.slot, job, tx.clone(), &token).await;
                watch.abort();
                info!(
                    exit = ?finished.exit_code,
                    timed_out = finished.timed_out,
                    cancelled = finished.cancelled,
                    oom = finished.oom_killed,
                    "execution finished"
                );
                crate::metrics::count_execution(&inner.metrics, &finished);
                // The sandbox is gone: free the slot before waiting on a slow caller, and
                // give up on one that never reads so shutdown cannot hang on it.
                drop((running, slot));
                let event = ExecuteEvent {
                    event: Some(Event::Finished(finished)),
                };
                if tx
                    .send_timeout(event, crate::sandbox::DELIVERY_TIMEOUT)
                    .await
                    .is_err()
                {
                    warn!("caller did not take the Finished event");
                }
            }
            .instrument(span),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(rx).map(Ok))))
    }

    async fn cancel(
        &self,
        request: Request<CancelRequest>,
    ) -> Result<Response<CancelResponse>, Status> {
        let key = exec_key(request.into_inner().work.as_ref())?;
        let found = RunnerService::cancel(self, &key);
        info!(key = %key, found, "cancel requested");
        Ok(Response::new(CancelResponse { found }))
    }
}

/// Workspace → sandbox → result; never fails (a sandbox failure becomes sandbox_error).
async fn run_job(
    inner: &Inner,
    key: ExecKey,
    slot: usize,
    mut job: Job,
    tx: mpsc::Sender<ExecuteEvent>,
    token: &CancellationToken,
) -> Finished {
    let mut io = ExecIo::new(inner.runner_id.clone(), tx, job.limits.max_output_bytes);
    let name = sanitize(&key.to_string(), 100);
    let prepared = tokio::select! {
        prepared = inner.inputs.prepare(std::mem::replace(&mut job.input, RequestedInput::None)) => prepared,
        () = token.cancelled() => return failed(Error::Cancelled, token),
    };
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            warn!(error = %e, "input not ready");
            return failed(e, token);
        }
    };
    // Making a workspace may format and mount a file system: off the async threads.
    let (root, code) = (inner.work_root.clone(), job.code.clone());
    let input_dir = prepared.input.as_ref().map(|i| i.dir().to_path_buf());
    let owner = inner.sandbox.sandbox_uid(slot);
    let (quotas, bytes) = (inner.quotas.clone(), job.limits.disk_bytes);
    let created = tokio::task::spawn_blocking(move || {
        let mut ws = Workspace::create(&root, &name, &code, input_dir.as_deref(), owner, None)?;
        if let Some(pool) = &quotas {
            ws.lend_quota(pool, slot, bytes, owner)?;
        }
        Ok(ws)
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)));
    let ws = match created.and_then(|made| made) {
        Ok(ws) => ws,
        Err(e) => return failed(e, token),
    };
    let (max_file, max_total) = (job.limits.max_file_bytes, inner.limits.max_collect_bytes);
    let spec = ExecSpec {
        key,
        attempt_dir: ws.path().to_path_buf(),
        input: prepared.input.clone(),
        limits: job.limits,
        allow_network: job.allow_network,
        slot,
        working_has_quota: ws.has_quota(),
        warm: job.warm,
        collect: collect::CollectSpec {
            submission: job.submission.clone(),
            globs: job.globs.clone(),
            max_file,
            max_total,
        },
    };
    let raw = inner.sandbox.run(&spec, &mut io, token).await;
    let (output, output_bytes) = io.finish_output().await;
    let raw: RawOutcome = match raw {
        Ok(raw) => raw,
        Err(e) => {
            warn!(error = %e, "sandbox failed");
            // Removing the workspace may unmount its quota: off the async threads.
            let _ = tokio::task::spawn_blocking(move || drop(ws)).await;
            let mut f = failed(e, token);
            (f.output, f.output_bytes) = (output, output_bytes);
            return f;
        }
    };
    // A signal from outside (a batch system stopping the whole job, a service manager the
    // whole group) that killed the script while this runner drains is not the script's
    // fault: it is handed back as cancelled, so the coordinator runs it again elsewhere.
    let killed_while_draining = raw.exit_code.is_none()
        && !raw.timed_out
        && !raw.oom_killed
        && inner.accepting.is_cancelled();
    if killed_while_draining {
        warn!("the script was killed by a signal while the runner drains: handed back");
    }
    let exception = (raw.exit_code != Some(0))
        .then(|| traceback::parse(&output, SCRIPT))
        .flatten();
    let working = ws.working();
    let collected = raw.files;
    let files = tokio::task::spawn_blocking(move || {
        let files = collected.unwrap_or_else(|| {
            collect::collect(&working, &job.submission, &job.globs, max_file, max_total)
        });
        drop(ws); // removes the attempt directory off the async threads
        drop(prepared); // the bundle may be evicted again
        files
    })
    .await
    .unwrap_or_default();
    Finished {
        exit_code: raw.exit_code,
        timed_out: raw.timed_out,
        oom_killed: raw.oom_killed || exception.as_ref().is_some_and(|e| e.kind == "MemoryError"),
        cancelled: raw.cancelled || killed_while_draining,
        wall_time: prost_types::Duration::try_from(raw.wall).ok(),
        cpu_time: prost_types::Duration::try_from(raw.cpu).ok(),
        peak_memory_bytes: raw.peak_memory,
        output,
        output_bytes,
        exception: exception.map(|e| PythonException {
            r#type: e.kind,
            message: e.message,
            line: e.line,
            traceback: e.traceback,
        }),
        files,
        sandbox_error: String::new(),
        disk_quota_exceeded: raw.disk_quota_exceeded,
    }
}

fn failed(e: Error, token: &CancellationToken) -> Finished {
    Finished {
        cancelled: token.is_cancelled(),
        sandbox_error: e.to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use aide_proto::v1::Limits as ResourceLimits;

    use super::*;

    fn request(limits: ResourceLimits, allow_network: bool) -> ExecuteRequest {
        ExecuteRequest {
            code: "print(1)".into(),
            limits: Some(limits),
            allow_network,
            ..ExecuteRequest::default()
        }
    }

    #[test]
    fn requests_are_clamped_to_the_runners_ceilings_and_its_network_policy() {
        let defaults = LimitDefaults::default();
        let inputs = InputSource::default();
        let greedy = ResourceLimits {
            timeout: Some(prost_types::Duration {
                seconds: i64::MAX,
                nanos: 0,
            }),
            memory_bytes: u64::MAX,
            cpus: f64::INFINITY,
            pids: u32::MAX,
            max_output_bytes: u64::MAX,
            max_file_bytes: u64::MAX,
        };
        let clamped = job(request(greedy, true), &defaults, &inputs).expect("a job");
        assert_eq!(
            clamped.limits.timeout,
            Duration::from_secs(defaults.max_timeout_secs)
        );
        assert_eq!(clamped.limits.memory_bytes, defaults.max_memory_bytes);
        assert_eq!(
            clamped.limits.cpus, defaults.cpus,
            "a non-finite request takes the default"
        );
        assert_eq!(clamped.limits.pids, defaults.max_pids);
        assert_eq!(clamped.limits.max_output_bytes, defaults.max_output_bytes);
        assert_eq!(clamped.limits.max_file_bytes, defaults.max_file_bytes);
        assert!(
            !clamped.allow_network,
            "the runner's policy refuses network by default"
        );

        let open = LimitDefaults {
            allow_network: true,
            ..LimitDefaults::default()
        };
        let modest = ResourceLimits {
            cpus: 2.0,
            ..ResourceLimits::default()
        };
        let allowed = job(request(modest, true), &open, &inputs).expect("a job");
        assert!(allowed.allow_network);
        assert_eq!(allowed.limits.cpus, 2.0);
        assert_eq!(
            allowed.limits.timeout,
            Duration::from_secs(open.timeout_secs)
        );
    }
}
