//! Serving the gateway: the `aide.v1.LlmGateway` service in the shared service shell
//! (`aide_service::Shell`: gRPC health, request metrics, `--metrics-listen`) until the
//! shutdown token is cancelled. Health turns NOT_SERVING first so balancers drain, then
//! in-flight requests finish before `serve` returns.

use aide_core::service_identity::ServiceKind;
use aide_service::Shell;
use aide_service::tls::{ClientAuth, ServerTls};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tracing::info;

use aide_proto::v1::llm_gateway_server::LlmGatewayServer;

use crate::Error;
use crate::config::GatewayConfig;
use crate::secrets::Env;
use crate::service::Gateway;

/// Binds the configured addresses and serves until `shutdown` is cancelled.
pub async fn run(
    config: GatewayConfig,
    env: Env<'_>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let (listener, shell) = Shell::listen(config.listen, config.metrics_listen).await?;
    let shell = shell.tls(ServerTls::new(
        &config.tls,
        config.listen,
        ClientAuth::Required,
    )?);
    let gateway = Gateway::new(&config, env, shell.metrics().clone()).await?;
    serve_in(shell, gateway, listener, shutdown).await
}

/// Serves `gateway` on an already bound listener (tests bind port 0) until `shutdown`.
pub async fn serve(
    gateway: Gateway,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    serve_in(Shell::default(), gateway, listener, shutdown).await
}

/// Serves `gateway` in `shell` (its metrics registry and endpoint, its TLS) until
/// `shutdown`; only the coordinator may call it.
pub async fn serve_in(
    shell: Shell,
    gateway: Gateway,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let address = listener
        .local_addr()
        .map_err(aide_service::Error::Listener)?;
    let service = LlmGatewayServer::new(gateway)
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES);
    info!(%address, "LLM gateway serving");
    let guard = shell.guard(ServiceKind::Coordinator);
    shell
        .add_service(InterceptedService::new(service, guard))
        .serve(listener, shutdown, async {})
        .await?;
    Ok(())
}
