//! The records the store reads and writes: runs and leases, nodes and their lifecycle
//! payloads, execution attempts, LLM calls, run events and runners.

pub use aide_core::RunStatus;
use aide_core::access::{ProjectName, Role, TokenHash};
use aide_core::bundle::Sha256Digest;
use aide_core::{
    Action, BugReason, Direction, ExceptionInfo, LlmPurpose, NodeId, NodeStage, RunEvent, RunId,
    RunSettings, Task,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// `InvalidState` unless a run can finish with `status`.
pub(crate) fn check_terminal(status: RunStatus) -> Result<()> {
    if status.is_terminal() {
        Ok(())
    } else {
        Err(Error::InvalidState(format!(
            "a run cannot finish as {status}"
        )))
    }
}

/// A run to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The project the run belongs to; it must exist.
    pub project: ProjectName,
    pub name: String,
    pub task: Task,
    pub settings: RunSettings,
    /// The metric direction when the task fixes it; otherwise fixed later by
    /// [`RunStore::fix_direction`](crate::RunStore::fix_direction).
    pub direction: Option<Direction>,
    pub seed: u64,
    /// The node whose code the run's first draft is, when the run is a fork.
    #[serde(default)]
    pub fork_of: Option<NodeId>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: RunId,
    pub project: ProjectName,
    pub name: String,
    pub task: Task,
    pub settings: RunSettings,
    pub direction: Option<Direction>,
    pub seed: u64,
    pub status: RunStatus,
    /// Why the run finished, once it has.
    pub stop_reason: Option<String>,
    /// The coordinator replica holding (or that last held) the lease.
    pub owner: Option<String>,
    /// Incremented by every claim; the fence of every run-loop write.
    pub epoch: u64,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The sweep whose cell this run is, if any.
    pub sweep_id: Option<aide_core::sweep::SweepId>,
    /// The sequence number of the run's newest event (0 before the first): a watcher
    /// that knows it reads the event log only when it moved.
    #[serde(default)]
    pub last_event_seq: u64,
    /// The sequence number of the run's newest directive (0 before the first).
    #[serde(default)]
    pub steered_seq: u64,
    /// The node whose code the run's first draft is, when the run is a fork.
    #[serde(default)]
    pub fork_of: Option<NodeId>,
}

impl RunRecord {
    /// Why a cancel request for this run, which is no longer queued or running, was refused.
    pub(crate) fn cancel_refused(&self) -> Error {
        Error::InvalidState(format!("run {} is already {}", self.id, self.status))
    }
}

/// Which runs [`RunStore::list_runs`](crate::RunStore::list_runs) returns, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFilter {
    /// Only the runs of this project; `None`: every project's.
    pub project: Option<ProjectName>,
    pub status: Option<RunStatus>,
    pub limit: u32,
}

impl Default for RunFilter {
    fn default() -> Self {
        Self {
            project: None,
            status: None,
            limit: 100,
        }
    }
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRecord {
    pub name: ProjectName,
    pub created_at: DateTime<Utc>,
}

/// A token to store: its hash, never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub project: ProjectName,
    pub role: Role,
    pub hash: TokenHash,
    /// Free text to tell tokens apart ("ci", "alice's laptop").
    pub label: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored token, without its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: Uuid,
    pub project: ProjectName,
    pub role: Role,
    pub label: String,
    /// The token the deployment made for itself on first start.
    pub bootstrap: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`: not revoked, not expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Proof of ownership of a run, returned by [`RunStore::claim_run`](crate::RunStore::claim_run).
/// Every run-loop write presents it; the store refuses the write when the run's owner or
/// epoch has moved on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    pub run_id: RunId,
    pub owner: String,
    pub epoch: u64,
}

impl Lease {
    /// The error of a fenced write this lease no longer covers.
    pub(crate) fn lost(&self) -> Error {
        Error::LeaseLost {
            run_id: self.run_id,
            epoch: self.epoch,
        }
    }
}

/// The state of a lease after a renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseStatus {
    pub expires_at: DateTime<Utc>,
    /// A user asked to cancel the run: the owner should finish it as cancelled.
    pub cancel_requested: bool,
}

/// What the owner of a run must learn of it: a cancel request, a new directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSignals {
    pub run: RunId,
    pub cancel_requested: bool,
    /// The sequence number of the run's newest directive (0 before the first).
    pub steered_seq: u64,
}

/// The settings of a run of `status` after `steered`: refused (`InvalidState`) when the
/// run is finished or the directive does not fit the settings.
pub(crate) fn steered_settings(
    run_id: RunId,
    status: RunStatus,
    settings: &RunSettings,
    steered: &aide_core::steer::Steered,
) -> Result<RunSettings> {
    if status.is_terminal() {
        return Err(Error::InvalidState(format!(
            "run {run_id} is already {status}: a finished run cannot be steered"
        )));
    }
    steered
        .directive
        .applied_to(settings)
        .map_err(|e| Error::InvalidState(e.to_string()))
}

/// A node to create in the `pending` stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNode {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    pub action: Action,
    /// Position in the run, unique per run.
    pub step: u32,
    pub debug_depth: u32,
    /// A merge's second parent.
    pub partner: Option<NodeId>,
}

/// What the author's reply produced (`pending → generated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub plan: String,
    /// `None` when the reply held no code; such a node skips execution and goes straight
    /// to `reviewed` (as buggy, [`BugReason::NoCode`]).
    pub code: Option<String>,
    /// The raw reply, kept when it could not be parsed into plan and code.
    pub raw_reply: Option<String>,
}

/// What the execution of a node's code showed (`generated → executed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    /// The terminal output the review and prompts see.
    pub term_out: String,
    pub exit_code: Option<i32>,
    pub exec_time_secs: f64,
    pub timed_out: bool,
    pub exc_type: Option<String>,
    /// Structured exception details (message, traceback frames), when there are any.
    pub exc_info: Option<ExceptionInfo>,
    pub wrote_submission: bool,
}

/// The final judgement of a node (`executed → reviewed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub is_buggy: bool,
    pub bug_reasons: Vec<BugReason>,
    pub metric: Option<f64>,
    pub summary: String,
}

/// A stored node with everything its lifecycle has recorded so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: NodeId,
    pub run_id: RunId,
    pub parent: Option<NodeId>,
    /// A merge's second parent.
    pub partner: Option<NodeId>,
    pub action: Action,
    pub step: u32,
    pub debug_depth: u32,
    pub stage: NodeStage,
    /// Set from `generated` on.
    pub generation: Option<Generation>,
    /// Set from `executed` on (never for a node without code).
    pub execution: Option<ExecutionSummary>,
    /// Set once `reviewed`.
    pub review: Option<Review>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A file a node's execution produced (its submission), as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFile {
    pub name: String,
    /// Its length in bytes.
    pub size: u64,
    pub body: NodeFileBody,
}

/// Where a node file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeFileBody {
    /// In the blob store, under this sha256: how every file is kept since node files moved
    /// there.
    Blob(Sha256Digest),
    /// In the row itself: files stored before that move, and files of an engine that has no
    /// blob store (embedded `aide run`, whose database is a local file anyway).
    Inline(Vec<u8>),
}

impl NodeFile {
    /// A file whose bytes are kept in the row.
    pub fn inline(name: impl Into<String>, content: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            size: content.len() as u64,
            body: NodeFileBody::Inline(content),
        }
    }

    /// A file whose bytes are the blob `digest` of `size` bytes.
    pub fn blob(name: impl Into<String>, digest: Sha256Digest, size: u64) -> Self {
        Self {
            name: name.into(),
            size,
            body: NodeFileBody::Blob(digest),
        }
    }
}

/// Where an execution attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Finished,
    /// Given up (runner vanished, dispatch failed); a new attempt may follow.
    Abandoned,
    /// A newer attempt started while this one was running; its result is discarded.
    Superseded,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Abandoned => "abandoned",
            Self::Superseded => "superseded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(Self::Running),
            "finished" => Some(Self::Finished),
            "abandoned" => Some(Self::Abandoned),
            "superseded" => Some(Self::Superseded),
            _ => None,
        }
    }
}

/// What a runner reports for one finished attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionResult {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub oom_killed: bool,
    pub wall_secs: f64,
    pub cpu_secs: Option<f64>,
    pub peak_memory_bytes: Option<u64>,
    /// The captured output (possibly cut to head and tail).
    pub output: String,
    /// Size of the full output before any cut.
    pub output_bytes: u64,
    pub exc_type: Option<String>,
    pub exc_message: Option<String>,
    pub runner_id: Option<String>,
}

/// One execution attempt of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub node_id: NodeId,
    pub run_id: RunId,
    pub attempt: u32,
    pub status: ExecutionStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Present once finished.
    pub result: Option<ExecutionResult>,
    /// Present once abandoned or superseded.
    pub abandon_reason: Option<String>,
}

/// One LLM call for the usage and cost ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLlmCall {
    pub run_id: RunId,
    pub node_id: Option<NodeId>,
    pub purpose: LlmPurpose,
    pub usage: CallUsage,
    /// The prompt's size as the engine measured it before sending.
    pub prompt: Option<PromptSize>,
}

/// How long a prompt was: its characters and its tokens counted with
/// [`aide_core::tokens::ENCODING`], whatever the provider reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptSize {
    pub chars: u64,
    pub tokens: u64,
}

impl NewLlmCall {
    /// `InvalidArgument` unless the call is of the lease's run and of `node` (a call written
    /// with a stage of that node).
    pub(crate) fn check_stage(&self, lease: &Lease, node: NodeId) -> Result<()> {
        if self.run_id != lease.run_id || self.node_id != Some(node) {
            return Err(Error::InvalidArgument(format!(
                "the model call of a stage of node {node} is of another run or node"
            )));
        }
        Ok(())
    }
}

/// What one LLM call used and cost, as the gateway reports it with the answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallUsage {
    pub provider: String,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    /// The provider's request id, when it gave one.
    pub request_id: Option<String>,
    /// Answered from the gateway's cache.
    pub cached: bool,
}

/// One LLM call as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCallRecord {
    pub id: i64,
    pub node_id: Option<NodeId>,
    pub purpose: LlmPurpose,
    pub usage: CallUsage,
    /// `None` for calls recorded before prompts were measured.
    pub prompt: Option<PromptSize>,
    pub created_at: DateTime<Utc>,
}

/// Summed usage of a run's LLM calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
}

/// One entry of a run's event log.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub run_id: RunId,
    /// 1, 2, 3, ... per run, in commit order.
    pub seq: u64,
    pub event: RunEvent,
    pub created_at: DateTime<Utc>,
}

/// A runner announcing itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerInfo {
    pub id: String,
    /// Where the coordinator reaches it (e.g. `http://10.0.0.5:50061`).
    pub address: String,
    /// Executions it can run at once.
    pub slots: u32,
    /// Free-form labels (backend, GPU, ...), a JSON object.
    pub labels: serde_json::Value,
}

/// A runner's load, reported with every heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunnerLoad {
    pub free_slots: u32,
    /// Executions running now.
    pub running: u32,
    /// CPU load, 0.0 to 1.0 of the runner's capacity.
    pub cpu_load: f64,
    /// Memory in use, 0.0 to 1.0 of the runner's capacity.
    pub memory_load: f64,
    /// Bytes the runner keeps cached (task bundles, environments), when it reports them.
    #[serde(default)]
    pub cache_bytes: Option<u64>,
}

/// A registered runner and its last reported load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerRecord {
    pub info: RunnerInfo,
    pub load: RunnerLoad,
    pub registered_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
}

// ---- conversions shared by both backends ----

pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::InvalidArgument(format!("{what} is too large")))
}

pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::corrupt(format!("{what} is negative")))
}

pub(crate) fn to_u32(value: i64, what: &str) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::corrupt(format!("{what} is out of range")))
}

/// The seed is a `u64` stored bit for bit in a signed 64-bit column.
pub(crate) fn seed_to_db(seed: u64) -> i64 {
    i64::from_ne_bytes(seed.to_ne_bytes())
}

pub(crate) fn seed_from_db(seed: i64) -> u64 {
    u64::from_ne_bytes(seed.to_ne_bytes())
}

pub(crate) fn parse_direction(text: Option<String>) -> Result<Option<Direction>> {
    text.map(|t| {
        Direction::parse(&t).ok_or_else(|| Error::corrupt(format!("unknown direction {t:?}")))
    })
    .transpose()
}

/// How many runs are in each status, store-wide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    pub queued: u64,
    pub running: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl RunCounts {
    pub(crate) fn add(&mut self, status: RunStatus, n: u64) {
        *self.slot(status) += n;
    }

    /// The runs in `status`.
    pub fn of(mut self, status: RunStatus) -> u64 {
        *self.slot(status)
    }

    fn slot(&mut self, status: RunStatus) -> &mut u64 {
        match status {
            RunStatus::Queued => &mut self.queued,
            RunStatus::Running => &mut self.running,
            RunStatus::Completed => &mut self.completed,
            RunStatus::Failed => &mut self.failed,
            RunStatus::Cancelled => &mut self.cancelled,
        }
    }
}

pub(crate) fn direction_str(direction: Direction) -> &'static str {
    match direction {
        Direction::Minimize => "minimize",
        Direction::Maximize => "maximize",
    }
}

pub(crate) fn parse_status(text: &str) -> Result<RunStatus> {
    RunStatus::parse(text).ok_or_else(|| Error::corrupt(format!("unknown run status {text:?}")))
}

pub(crate) fn parse_action(text: &str) -> Result<Action> {
    Action::parse(text).ok_or_else(|| Error::corrupt(format!("unknown action {text:?}")))
}

pub(crate) fn parse_stage(text: &str) -> Result<NodeStage> {
    NodeStage::parse(text).ok_or_else(|| Error::corrupt(format!("unknown node stage {text:?}")))
}

pub(crate) fn parse_exec_status(text: &str) -> Result<ExecutionStatus> {
    ExecutionStatus::parse(text)
        .ok_or_else(|| Error::corrupt(format!("unknown execution status {text:?}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_json<T: Serialize>(value: &T, what: &str) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))
}

/// Why a node transition was refused, given the node's current stage and whether it has code.
pub(crate) fn transition_error(
    node: NodeId,
    stage: NodeStage,
    has_code: bool,
    target: NodeStage,
) -> Error {
    let from = if stage == NodeStage::Generated && !has_code {
        "generated without code"
    } else {
        stage.as_str()
    };
    Error::InvalidState(format!(
        "node {node} cannot become {} from {from}",
        target.as_str()
    ))
}
