//! The engine's two ports and how their failures are classified: [`Author`] answers
//! completion requests (the LLM gateway, [`GrpcAuthor`](super::GrpcAuthor)), [`Executor`]
//! runs scripts (the runners, [`crate::dispatch::RunnerExecutor`]). A [`PortError`] is
//! either infrastructure (retry the work later or elsewhere) or a refused request.

use std::future::Future;

use std::time::Duration;

use aide_core::{Action, Direction, ExceptionInfo, FunctionSpec, LlmPurpose, NodeId, RunId};
use aide_store::CallUsage;

/// How a failed call of a port should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service was unreachable, overloaded, too slow or lost the call: retrying the same
    /// work later (or elsewhere) may succeed. Never turns into a buggy node.
    Infrastructure,
    /// The request itself was refused (bad model, bad key, malformed input): retrying
    /// cannot help.
    Request,
}

/// A failed call of the [`Author`] or [`Executor`] port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    pub kind: FailureKind,
    pub message: String,
}

impl PortError {
    pub fn infrastructure(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Infrastructure,
            message: message.into(),
        }
    }

    pub fn request(message: impl Into<String>) -> Self {
        Self {
            kind: FailureKind::Request,
            message: message.into(),
        }
    }

    pub fn is_infrastructure(&self) -> bool {
        self.kind == FailureKind::Infrastructure
    }

    /// Classifies a gRPC status: unavailable, deadline, resource exhausted, aborted,
    /// cancelled and unknown (how broken connections surface) are infrastructure.
    pub fn from_status(what: &str, status: &tonic::Status) -> Self {
        use tonic::Code;
        let message = format!("{what}: {:?}: {}", status.code(), status.message());
        match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Unknown => Self::infrastructure(message),
            _ => Self::request(message),
        }
    }
}

/// Answers model calls: drafts, improvements, debugs, reviews and the report.
pub trait Author: Send + Sync + 'static {
    fn complete(
        &self,
        request: AuthorRequest,
    ) -> impl Future<Output = Result<AuthorReply, PortError>> + Send;
}

/// One model call, as the engine asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorRequest {
    pub purpose: LlmPurpose,
    pub run_id: RunId,
    /// The node the call is for; `None` for the run's report.
    pub node_id: Option<NodeId>,
    pub model: String,
    pub temperature: f64,
    /// The rendered prompt, sent as one user message.
    pub prompt: String,
    /// The function the model must call (the review's `submit_review`).
    pub function: Option<FunctionSpec>,
    /// What an author that does not read prompts (the offline baseline) answers from.
    pub hints: AuthorHints,
}

/// Which of the engine's calls a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Draft,
    Improve,
    Debug,
    Merge,
    Review,
    Report,
}

impl From<Action> for CallKind {
    fn from(action: Action) -> Self {
        match action {
            Action::Draft => Self::Draft,
            Action::Improve => Self::Improve,
            Action::Debug => Self::Debug,
            Action::Merge => Self::Merge,
        }
    }
}

/// The structured side of a request: the call, the task and the node's lineage.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorHints {
    pub call: CallKind,
    pub task: TaskFacts,
    /// The parent's code (the reviewed code, for a review; the best code, for the report).
    pub parent_code: String,
    /// The parent's output or review (the reviewed output, for a review), cut to size.
    pub last_output: String,
    pub step: u32,
    pub seed: u64,
    /// How many drafts came before this one.
    pub draft_index: u32,
    pub parent_metric: Option<f64>,
    /// A merge's second parent.
    pub partner: Option<PartnerHint>,
}

/// A merge's second parent, as an author sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerHint {
    pub code: String,
    pub metric: Option<f64>,
}

/// The task as an author sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFacts {
    pub goal: String,
    pub eval: Option<String>,
    pub metric_name: Option<String>,
    pub direction: Option<Direction>,
    /// Files of the input directory, relative to it.
    pub input_files: Vec<String>,
    pub submission_file: Option<String>,
    pub sample_submission: Option<String>,
    pub k_fold: u32,
    pub exec_timeout_secs: u64,
}

/// A model's answer with what it used and cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthorReply {
    /// `None` when the model said nothing.
    pub answer: Option<Answer>,
    pub usage: CallUsage,
}

/// What a model answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Prose, with a plan and a code block when it is a code reply.
    Text(String),
    /// The arguments of the forced function call, as JSON text.
    FunctionArguments(String),
}

impl Answer {
    /// The answer's text, whichever form it came in.
    pub fn text(&self) -> &str {
        match self {
            Self::Text(text) | Self::FunctionArguments(text) => text,
        }
    }
}

/// Runs one script to its end and returns how it ended with the id of the runner that ran
/// it. Infrastructure errors (runner lost or unavailable, stream broken, sandbox failure)
/// make the engine retry the execution as a new attempt.
pub trait Executor: Send + Sync + 'static {
    fn execute(
        &self,
        script: ScriptRun,
    ) -> impl Future<Output = Result<Executed, PortError>> + Send;
}

/// One execution attempt of a node's script, as the engine asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptRun {
    pub run_id: RunId,
    pub node_id: NodeId,
    /// The attempt number, the fence of its result (1, 2, ...).
    pub attempt: u32,
    /// The Python source of the solution.
    pub code: String,
    /// The task's input, given read-only as `./input`.
    pub input: super::ScriptInput,
    /// The script's own time limit.
    pub timeout: Duration,
    /// The submission file the script should write in `./working`, when the task has test
    /// data.
    pub submission_file: Option<String>,
    /// The sweep cell this execution grades (a grading command), instead of running a node
    /// (`node_id` is then a fresh id of no node).
    pub grading: Option<GradingTarget>,
}

/// The sweep cell a grading command's execution grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradingTarget {
    pub sweep_id: aide_core::sweep::SweepId,
    pub cell: u32,
}

/// How an execution ended, as the runner that ran it reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Executed {
    /// The runner that ran it, when known.
    pub runner_id: Option<String>,
    /// `None` when the script was killed.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub oom_killed: bool,
    pub wall_time: Duration,
    pub cpu_time: Option<Duration>,
    pub peak_memory_bytes: u64,
    /// The merged output as kept (head and tail), and its full size.
    pub output: String,
    pub output_bytes: u64,
    /// The Python exception that ended the script: its type and details.
    pub exception: Option<(String, ExceptionInfo)>,
    /// Files collected from `./working` (the submission among them), by relative path.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Executed {
    /// The content of the collected file `path`.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, content)| content.as_slice())
    }
}
