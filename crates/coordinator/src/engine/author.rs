//! The author port: whoever answers completion requests (the LLM gateway), with its
//! failures classified as infrastructure (retry the call) or request errors (the run
//! cannot go on), and the gRPC adapter over `aide.v1.LlmGateway`.

use std::future::Future;
use std::time::Duration;

use aide_proto::v1::llm_gateway_client::LlmGatewayClient;
use aide_proto::v1::{CompleteRequest, CompleteResponse};
use aide_telemetry::{TracedChannel, traced};
use tonic::transport::Channel;

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

/// A failed call of the [`Author`] or [`Executor`](super::executor::Executor) port.
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

/// The author behind a gateway reached over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcAuthor {
    client: LlmGatewayClient<TracedChannel>,
    /// Client-side bound on one call (the gateway's own retries included).
    timeout: Duration,
}

impl GrpcAuthor {
    pub fn new(client: LlmGatewayClient<TracedChannel>) -> Self {
        Self {
            client,
            timeout: Duration::from_secs(600),
        }
    }

    /// A lazily connecting author for `address` (e.g. `http://127.0.0.1:50052`).
    pub fn connect_lazy(address: &str) -> Result<Self, PortError> {
        let channel = Channel::from_shared(address.to_owned())
            .map_err(|e| PortError::request(format!("bad gateway address {address:?}: {e}")))?
            .connect_lazy();
        Ok(Self::new(LlmGatewayClient::new(traced(channel))))
    }

    /// Sets the client-side bound on one call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Author for GrpcAuthor {
    async fn complete(&self, request: CompleteRequest) -> Result<CompleteResponse, PortError> {
        let mut client = self.client.clone();
        let mut request = tonic::Request::new(request);
        request.set_timeout(self.timeout);
        match tokio::time::timeout(self.timeout, client.complete(request)).await {
            Err(_) => Err(PortError::infrastructure(format!(
                "gateway did not answer within {:?}",
                self.timeout
            ))),
            Ok(Err(status)) => Err(PortError::from_status("gateway", &status)),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}
