//! The engine's two ports and how their failures are classified: [`Author`] answers
//! completion requests (the LLM gateway, [`GrpcAuthor`](super::GrpcAuthor)), [`Executor`]
//! runs scripts (the runners, [`crate::dispatch::RunnerExecutor`]). A [`PortError`] is
//! either infrastructure (retry the work later or elsewhere) or a refused request.

use std::future::Future;

use aide_proto::v1::{CompleteRequest, CompleteResponse, ExecuteRequest, Finished};

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

/// Answers completion requests: drafts, improvements, debugs and reviews.
pub trait Author: Send + Sync + 'static {
    fn complete(
        &self,
        request: CompleteRequest,
    ) -> impl Future<Output = Result<CompleteResponse, PortError>> + Send;
}

/// Runs one script to its end and returns the `Finished` event (output, exit, collected
/// files) with the id of the runner that ran it. Infrastructure errors (runner lost or unavailable, stream broken, sandbox
/// failure) make the engine retry the execution as a new attempt.
pub trait Executor: Send + Sync + 'static {
    fn execute(
        &self,
        request: ExecuteRequest,
    ) -> impl Future<Output = Result<Executed, PortError>> + Send;
}

/// A finished execution and the runner that ran it (from its `Started` event), when known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Executed {
    pub finished: Finished,
    pub runner_id: Option<String>,
}

impl From<Finished> for Executed {
    fn from(finished: Finished) -> Self {
        Self {
            finished,
            runner_id: None,
        }
    }
}
