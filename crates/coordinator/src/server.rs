//! One coordinator replica: the store, the public Coordinator API and gRPC health on one
//! listener, the run [`Supervisor`] driving leased runs through the engine (gateway author,
//! registry-backed executor), and the runner registry's reaper.
//!
//! Shutdown, when the token fires: health turns NOT_SERVING, the supervisor stops claiming
//! and interrupts its engines (leases released, so another replica resumes the runs at
//! once), the reaper stops, then the server stops (open WatchRun streams get a few
//! seconds before they are cut). A second signal exiting at once is the binary's business.

use std::sync::Arc;
use std::time::Duration;

use aide_proto::v1::coordinator_server::CoordinatorServer;
use aide_store::AnyStore;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::Error;
use crate::api::{ApiConfig, CoordinatorService, EventNotifier};
use crate::config::CoordinatorConfig;
use crate::dispatch::RegistryExecutor;
use crate::engine::{Engine, EngineConfig, GrpcAuthor};
use crate::registry::RunnerRegistry;
use crate::supervisor::{Supervisor, SupervisorConfig};

/// Largest request or answer message, in bytes (exports carry whole journals).
const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// How long open streams may keep the server up after the engines stopped.
const SERVER_DRAIN: Duration = Duration::from_secs(5);

/// Binds the configured address and runs the replica until `shutdown` is cancelled.
pub async fn run_coordinator(
    config: CoordinatorConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Serve(format!("cannot listen on {}: {e}", config.listen)))?;
    serve(config, listener, shutdown).await
}

/// Runs the replica on an already bound listener (tests bind port 0) until `shutdown`.
pub async fn serve(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let store = Arc::new(aide_store::connect(&config.database_url).await?);
    let result = serve_store(config, store.clone(), listener, shutdown).await;
    store.close().await;
    result
}

/// Runs the replica over an open store.
pub async fn serve_store(
    config: CoordinatorConfig,
    store: Arc<AnyStore>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let address = listener
        .local_addr()
        .map_err(|e| Error::Serve(e.to_string()))?;
    let registry = Arc::new(RunnerRegistry::new(store.clone(), config.runner_heartbeat));
    let notifier = EventNotifier::new();
    let author = GrpcAuthor::connect_lazy(&config.gateway)
        .map_err(|e| Error::Config(format!("--gateway: {e}")))?;
    let executor = RegistryExecutor::new(registry.clone());
    let engine = Arc::new(Engine::new(
        store.clone(),
        Arc::new(author),
        Arc::new(executor),
        EngineConfig {
            lease_ttl: config.lease_ttl,
            output_dir: config.output_dir.clone(),
            on_event: Some(notifier.hook()),
            ..EngineConfig::default()
        },
    ));
    let api = ApiConfig {
        heartbeat_interval: config.runner_heartbeat,
        ..ApiConfig::default()
    };
    let service = CoordinatorService::with_notifier(store.clone(), api, notifier)
        .into_server()
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<CoordinatorServer<CoordinatorService<AnyStore>>>()
        .await;
    let stop_serving = CancellationToken::new();
    let mut server = tokio::spawn(
        Server::builder()
            .layer(aide_telemetry::GrpcTraceLayer)
            .add_service(health_service)
            .add_service(service)
            .serve_with_incoming_shutdown(
                TcpListenerStream::new(listener),
                stop_serving.clone().cancelled_owned(),
            ),
    );
    tracing::info!(%address, owner = %config.owner, gateway = %config.gateway, "coordinator serving");

    let background = CancellationToken::new();
    let reaper = registry.clone().spawn_reaper(background.clone());
    let supervisor = Supervisor::new(
        store.clone(),
        engine,
        SupervisorConfig {
            owner: config.owner.clone(),
            max_runs: config.max_runs,
            lease_ttl: config.lease_ttl,
            claim_every: config.claim_every,
        },
    );
    let stop_claiming = CancellationToken::new();
    let supervisor = tokio::spawn(supervisor.run(stop_claiming.clone()));

    let early: Option<Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>> = tokio::select! {
        () = shutdown.cancelled() => None,
        ended = &mut server => Some(ended),
    };
    tracing::info!("coordinator shutting down: releasing runs");
    health
        .set_not_serving::<CoordinatorServer<CoordinatorService<AnyStore>>>()
        .await;
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    stop_claiming.cancel();
    if let Err(e) = supervisor.await {
        tracing::error!(error = %e, "the supervisor panicked");
    }
    background.cancel();
    let _ = reaper.await;
    stop_serving.cancel();
    let was_early = early.is_some();
    let ended = match early {
        Some(ended) => ended,
        None => match tokio::time::timeout(SERVER_DRAIN, &mut server).await {
            Ok(ended) => ended,
            Err(_) => {
                tracing::warn!("open streams outlived the drain; closing them");
                server.abort();
                return Ok(());
            }
        },
    };
    tracing::info!("coordinator stopped");
    match ended {
        Ok(Ok(())) if !was_early => Ok(()),
        Ok(Ok(())) => Err(Error::Serve("the server stopped unexpectedly".into())),
        Ok(Err(e)) => Err(Error::Serve(e.to_string())),
        Err(e) => Err(Error::Serve(format!("the server task failed: {e}"))),
    }
}
