//! The `Sandbox` trait every backend implements, what an execution is given (`ExecSpec`)
//! and reports (`RawOutcome`), and `ExecIo`, the channel through which a backend streams
//! Started, output and samples to the caller.

pub mod docker;
pub mod process;
pub mod venv;
pub mod warm;

use std::{
    fmt,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use aide_core::bundle::Sha256Digest;

use aide_proto::v1::{
    CollectedFile, ExecuteEvent, OutputChunk, ResourceSample, Started, execute_event::Event,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Result, collect::CollectSpec, output::OutputBuffer};

/// Longest wait for a caller to accept the events of an execution (output, the final
/// `Finished`) before they are dropped.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// The bootstrap every backend runs in front of the solution (see its own comments).
pub const BOOTSTRAP: &str = include_str!("bootstrap.py");

/// Identifies one execution attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExecKey {
    /// Run id.
    pub run_id: String,
    /// Node id (may be empty).
    pub node_id: String,
    /// Attempt number.
    pub attempt: u32,
}

impl fmt::Display for ExecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.run_id, self.node_id, self.attempt)
    }
}

/// Limits with the runner's defaults filled in.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedLimits {
    /// Wall-clock limit.
    pub timeout: Duration,
    /// Memory in bytes, no swap.
    pub memory_bytes: u64,
    /// CPU cores.
    pub cpus: f64,
    /// Processes and threads.
    pub pids: u32,
    /// Output kept, bytes.
    pub max_output_bytes: u64,
    /// Largest collected file, bytes.
    pub max_file_bytes: u64,
    /// Largest file the script may write, bytes.
    pub max_write_bytes: u64,
    /// The disk quota of `working/`, bytes.
    pub disk_bytes: u64,
}

impl ResolvedLimits {
    /// RLIMIT_FSIZE: no file may be larger than the largest write, nor than the quota.
    pub fn file_size_limit(&self) -> u64 {
        self.max_write_bytes.min(self.disk_bytes)
    }

    /// When an execution started now must be stopped: its timeout from now, or a century
    /// from now when the timeout is too large to add (never an overflow).
    pub fn deadline(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        now.checked_add(self.timeout)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(now)
    }
}

/// The task data an execution reads at `input/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxInput {
    /// A bundle the runner materialised in its cache: `dir` holds exactly the files of the
    /// bundle named `digest`, and never changes while it is in use. The Docker backend copies
    /// it once per digest into a read-only volume; the process backend links it.
    Bundle {
        /// The bundle's manifest digest.
        digest: Sha256Digest,
        /// The materialised bundle on the runner's filesystem.
        dir: PathBuf,
    },
    /// A directory of the same host (the embedded `aide run`): used in place, never copied.
    LocalDir(PathBuf),
}

impl SandboxInput {
    /// The directory on the runner's filesystem that holds the input.
    pub fn dir(&self) -> &Path {
        match self {
            SandboxInput::Bundle { dir, .. } | SandboxInput::LocalDir(dir) => dir,
        }
    }
}

/// Everything a backend needs to run one attempt.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// Which attempt.
    pub key: ExecKey,
    /// The attempt directory (holds solution.py and working/).
    pub attempt_dir: PathBuf,
    /// The task's input, when there is one.
    pub input: Option<SandboxInput>,
    /// Limits.
    pub limits: ResolvedLimits,
    /// Network allowed.
    pub allow_network: bool,
    /// The slot index (0..slots) this execution holds.
    pub slot: usize,
    /// Whether `attempt_dir/working` is a quota file system; when not, a backend that runs
    /// the script there watches its size instead.
    pub working_has_quota: bool,
    /// Whether the script may run in a fork of the slot's warm interpreter (when the
    /// backend keeps one); false: a fresh interpreter.
    pub warm: bool,
    /// The files to return, for backends whose working directory is not on the runner's
    /// filesystem.
    pub collect: CollectSpec,
}

/// What a backend observed; the service turns it into `Finished`.
#[derive(Debug, Clone, Default)]
pub struct RawOutcome {
    /// Exit code; None when killed by a signal.
    pub exit_code: Option<i32>,
    /// Stopped at the time limit.
    pub timed_out: bool,
    /// Killed for memory (cgroup OOM); the service also counts a MemoryError.
    pub oom_killed: bool,
    /// Stopped by cancel.
    pub cancelled: bool,
    /// Wall time of the script.
    pub wall: Duration,
    /// CPU time of the script and its children.
    pub cpu: Duration,
    /// Peak resident memory.
    pub peak_memory: u64,
    /// Stopped because `working/` passed the disk quota.
    pub disk_quota_exceeded: bool,
    /// The collected files, when the backend gathered them itself (its working directory is
    /// not `attempt_dir/working`); `None`: the caller collects from `attempt_dir/working`.
    pub files: Option<Vec<CollectedFile>>,
}

/// A sandbox backend.
#[tonic::async_trait]
pub trait Sandbox: Send + Sync + fmt::Debug + 'static {
    /// "docker" or "process".
    fn backend(&self) -> &'static str;

    /// Whether the runner should give each attempt's `working/` a quota file system (the
    /// backends that run scripts on the runner's own file system, as root).
    fn quota_mounts(&self) -> bool {
        false
    }

    /// Runs the attempt prepared in `spec.attempt_dir`, streaming through `io`, until it ends,
    /// times out or `cancel` fires. Always cleans up what it started.
    async fn run(
        &self,
        spec: &ExecSpec,
        io: &mut ExecIo,
        cancel: &CancellationToken,
    ) -> Result<RawOutcome>;

    /// Releases what the backend keeps between executions (warm containers); called once
    /// the runner has stopped accepting work and drained. No-op by default.
    async fn shutdown(&self) {}

    /// Removes leftovers of earlier executions of this runner; no-op by default.
    async fn sweep(&self) -> Result<usize> {
        Ok(0)
    }

    /// The uid owning `working/` for slot `slot`, when the backend runs scripts as another
    /// user.
    fn sandbox_uid(&self, slot: usize) -> Option<u32>;
}

/// Most streamed text held back while the caller is not reading; past it, live chunks are
/// dropped (the caller sees a gap in the offsets; Finished still carries head and tail).
const MAX_PENDING: usize = 1 << 20;

/// The live side of an execution: sends events to the caller, keeps the output. Output and
/// samples never block the backend's supervision loop (a caller that does not read cannot
/// delay a timeout or a cancel); Started and the last output are delivered with waiting.
#[derive(Debug)]
pub struct ExecIo {
    runner_id: String,
    events: mpsc::Sender<ExecuteEvent>,
    output: OutputBuffer,
    /// Output not yet accepted by the channel, and the raw offset just past it.
    pending: Option<(OutputChunk, u64)>,
}

impl ExecIo {
    /// Streams to `events`, keeping `max_output` bytes of output.
    pub fn new(runner_id: String, events: mpsc::Sender<ExecuteEvent>, max_output: u64) -> Self {
        Self {
            runner_id,
            events,
            output: OutputBuffer::new(usize::try_from(max_output).unwrap_or(usize::MAX)),
            pending: None,
        }
    }

    /// Reports that the script started in sandbox `sandbox_id`.
    pub async fn started(&mut self, sandbox_id: String) {
        let event = Event::Started(Started {
            runner_id: self.runner_id.clone(),
            sandbox_id,
            started_at: Some(SystemTime::now().into()),
        });
        // A gone caller is noticed by the service (it cancels).
        let _ = self.events.send(ExecuteEvent { event: Some(event) }).await;
    }

    /// Takes in a piece of raw output.
    pub async fn output(&mut self, bytes: &[u8]) {
        if let Some((text, offset)) = self.output.push(bytes) {
            let end = self.output.streamed_bytes();
            self.queue(text, offset, end);
        }
    }

    /// Reports a resource measurement (dropped when the caller is behind).
    pub async fn sample(&mut self, elapsed: Duration, cpu_cores: f64, memory: u64, pids: u32) {
        self.flush();
        let event = Event::Sample(ResourceSample {
            elapsed: prost_types::Duration::try_from(elapsed).ok(),
            cpu_cores,
            memory_bytes: memory,
            pids,
        });
        let _ = self.events.try_send(ExecuteEvent { event: Some(event) });
    }

    /// Flushes held-back output (waiting for the caller); returns the kept text and the full
    /// size.
    pub async fn finish_output(&mut self) -> (String, u64) {
        if let Some((text, offset)) = self.output.finish() {
            let end = self.output.streamed_bytes();
            self.queue(text, offset, end);
        }
        if let Some((chunk, _)) = self.pending.take() {
            let event = Some(Event::Output(chunk));
            let timeout = DELIVERY_TIMEOUT;
            let _ = self
                .events
                .send_timeout(ExecuteEvent { event }, timeout)
                .await;
        }
        (self.output.kept_text(), self.output.total_bytes())
    }

    /// Adds a chunk (raw bytes `offset..end`) to the pending one when contiguous, then tries
    /// to hand it to the channel without waiting.
    fn queue(&mut self, text: String, offset: u64, end: u64) {
        match &mut self.pending {
            Some((chunk, pending_end)) if *pending_end == offset => {
                if chunk.text.len() < MAX_PENDING {
                    chunk.text.push_str(&text);
                    *pending_end = end;
                }
            }
            Some(_) => {} // the caller is far behind: this chunk is dropped
            None => self.pending = Some((OutputChunk { text, offset }, end)),
        }
        self.flush();
    }

    fn flush(&mut self) {
        let Some((chunk, end)) = self.pending.take() else {
            return;
        };
        let event = ExecuteEvent {
            event: Some(Event::Output(chunk)),
        };
        match self.events.try_send(event) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(ev)) => {
                if let Some(Event::Output(chunk)) = ev.event {
                    self.pending = Some((chunk, end));
                }
            }
        }
    }
}
