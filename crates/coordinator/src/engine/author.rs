//! The gRPC adapter of the [`Author`] port over `aide.v1.LlmGateway`.

use std::time::Duration;

use aide_proto::v1::llm_gateway_client::LlmGatewayClient;
use aide_proto::v1::{CompleteRequest, CompleteResponse};
use aide_telemetry::{TracedChannel, traced};
use tonic::transport::Channel;

use super::ports::{Author, PortError};

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
