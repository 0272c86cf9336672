//! Serving the gateway: the `aide.v1.LlmGateway` service plus the standard gRPC health
//! service on one listener, until the shutdown token is cancelled. In-flight requests
//! finish before `serve` returns; health turns NOT_SERVING first so balancers drain.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tracing::info;

use aide_proto::v1::llm_gateway_server::LlmGatewayServer;

use crate::Error;
use crate::config::GatewayConfig;
use crate::secrets::Env;
use crate::service::Gateway;

/// Largest request or answer message, in bytes (a prompt with a long output and a script).
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// Binds the configured address and serves until `shutdown` is cancelled.
pub async fn run(
    config: GatewayConfig,
    env: Env<'_>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Serve(format!("cannot listen on {}: {e}", config.listen)))?;
    let gateway = Gateway::new(&config, env).await?;
    serve(gateway, listener, shutdown).await
}

/// Serves `gateway` on an already bound listener (tests bind port 0) until `shutdown`.
pub async fn serve(
    gateway: Gateway,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let address = listener
        .local_addr()
        .map_err(|e| Error::Serve(e.to_string()))?;
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<LlmGatewayServer<Gateway>>().await;
    let service = LlmGatewayServer::new(gateway)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    info!(%address, "LLM gateway serving");
    let draining = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            health.set_not_serving::<LlmGatewayServer<Gateway>>().await;
            info!("LLM gateway draining");
        }
    };
    Server::builder()
        .layer(aide_telemetry::GrpcTraceLayer)
        .add_service(health_service)
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), draining)
        .await
        .map_err(|e| Error::Serve(e.to_string()))?;
    info!("LLM gateway stopped");
    Ok(())
}
