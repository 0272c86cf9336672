//! One coordinator replica: the store, the public Coordinator API, the Blobs service (task
//! bundles and node files in the blob store) and gRPC health on one listener, the web UI
//! and the HTTP API on another when asked for ([`crate::http`]), the run
//! [`Supervisor`] driving leased runs through the engine (gateway author, registry-backed
//! executor), and the runner registry's reaper.
//!
//! It runs in the shared service shell (`aide_service::Shell`: health, request metrics,
//! `--metrics-listen`, mutual TLS or plaintext on loopback), and dials the gateway and the
//! runners with its own certificate. Shutdown, when the token fires: health turns NOT_SERVING, the
//! supervisor stops claiming and interrupts its engines (leases released, so another
//! replica resumes the runs at once), the reaper stops, then the server stops (open
//! WatchRun streams get a few seconds before they are cut). A second signal exiting at once
//! is the binary's business.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aide_core::access::Token;
use aide_proto::bearer::Bearer;
use aide_service::Shell;
use aide_service::tls::{ClientAuth, Dialer, ServerTls};
use aide_store::AnyStore;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::access::admin::AdminService;
use crate::access::{Access, bootstrap_admin_token};
use crate::api::TaskIntake;
use crate::api::sweeps::SweepsService;
use crate::api::{ApiConfig, CoordinatorService, EventNotifier, RunFeeds, WatchSlots};
use crate::blobs::{BlobsService, StoredTaskFiles};
use crate::config::CoordinatorConfig;
use crate::dispatch::RegistryExecutor;
use crate::engine::TaskFilesPort;
use crate::engine::{Engine, EngineConfig, GrpcAuthor};
use crate::http::{HttpApi, HttpSettings};
use crate::metrics::CoordinatorCollector;
use crate::registry::RunnerRegistry;
use crate::supervisor::{Supervisor, SupervisorConfig};
use crate::sweeps::{PumpConfig, SweepPump};
use aide_proto::v1::admin_server::AdminServer;
use aide_proto::v1::coordinator_server::CoordinatorServer;

/// How long open streams may keep the server up after the engines stopped.
const SERVER_DRAIN: Duration = Duration::from_secs(5);

/// Binds the configured addresses and runs the replica until `shutdown` is cancelled.
pub async fn run_coordinator(
    config: CoordinatorConfig,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let (listener, shell) = Shell::listen(config.listen, config.metrics_listen).await?;
    let listeners = Listeners::bind_http(listener, config.http_listen).await?;
    serve_in(shell, config, listeners, shutdown).await
}

/// The ports a replica serves: gRPC, and the web UI with the HTTP API when wanted.
#[derive(Debug)]
pub struct Listeners {
    pub api: TcpListener,
    pub http: Option<TcpListener>,
}

impl Listeners {
    /// The gRPC port alone.
    pub fn api_only(api: TcpListener) -> Self {
        Self { api, http: None }
    }

    /// The gRPC port, and the HTTP port bound at `http` when given.
    pub async fn bind_http(api: TcpListener, http: Option<SocketAddr>) -> Result<Self, Error> {
        let http = match http {
            Some(address) => Some(TcpListener::bind(address).await.map_err(|e| {
                Error::Config(format!("--http-listen: cannot listen on {address}: {e}"))
            })?),
            None => None,
        };
        Ok(Self { api, http })
    }
}

/// Runs the replica on an already bound listener (tests bind port 0) until `shutdown`.
pub async fn serve(
    config: CoordinatorConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let listeners = Listeners::bind_http(listener, config.http_listen).await?;
    serve_in(Shell::default(), config, listeners, shutdown).await
}

async fn serve_in(
    shell: Shell,
    config: CoordinatorConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let url = config
        .database_url
        .clone()
        .ok_or_else(|| Error::Config("--database-url (AIDE_DATABASE_URL) is required".into()))?;
    let store = Arc::new(aide_store::connect(&url).await?);
    let result = serve_store_in(shell, config, store.clone(), listeners, shutdown).await;
    store.close().await;
    result
}

/// Runs the replica over an open store.
pub async fn serve_store(
    config: CoordinatorConfig,
    store: Arc<AnyStore>,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    serve_store_in(Shell::default(), config, store, listeners, shutdown).await
}

/// [`serve_store`] in `shell` (its metrics registry and endpoint; `aide serve` shares one).
pub async fn serve_store_in(
    shell: Shell,
    config: CoordinatorConfig,
    store: Arc<AnyStore>,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let Listeners {
        api: listener,
        http: http_listener,
    } = listeners;
    let address = listener
        .local_addr()
        .map_err(aide_service::Error::Listener)?;
    let registry = Arc::new(RunnerRegistry::new(
        store.clone(),
        config.runner_heartbeat(),
    ));
    let server_tls = ServerTls::new(&config.tls, address, ClientAuth::Optional)?;
    let dialer = Dialer::new(&config.tls)?;
    let notifier = EventNotifier::new();
    let bearer = config
        .process_token
        .as_ref()
        .map_or_else(Bearer::none, Bearer::new);
    let process_token = config.process_token.as_ref().map(Token::hash);
    let author = GrpcAuthor::dial(&dialer, &config.gateway, bearer.clone())
        .map_err(|e| Error::Config(format!("--gateway: {e}")))?;
    let executor = RegistryExecutor::new(registry.clone())
        .with_dialer(dialer)
        .with_bearer(bearer);
    let blob_store = config.open_blob_store()?;
    let roots = config.task_roots()?;
    let task_files = StoredTaskFiles::new(blob_store.clone());
    let executor = Arc::new(executor);
    let metrics = shell.metrics().clone();
    crate::metrics::declare(&metrics);
    metrics.register(Arc::new(CoordinatorCollector {
        store: store.clone(),
        queue: executor.queue(),
        stale_after: registry.stale_after(),
    }));
    let engine = Arc::new(Engine::new(
        store.clone(),
        Arc::new(author),
        executor.clone(),
        EngineConfig {
            lease_ttl: config.lease_ttl(),
            output_dir: config.output_dir.clone(),
            on_event: Some(notifier.hook()),
            task_files: TaskFilesPort(Arc::new(task_files)),
            metrics,
            ..EngineConfig::default()
        },
    ));
    let api = ApiConfig {
        heartbeat_interval: config.runner_heartbeat(),
        caps: config.caps.clone(),
        allow_process_runners: config.allow_process_runners,
        process_token,
        ..ApiConfig::default()
    };
    let intake = TaskIntake {
        blobs: Some(blob_store.clone()),
        roots,
    };
    let pump = SweepPump::new(
        store.clone(),
        blob_store.clone(),
        executor,
        PumpConfig::new(config.owner.clone()),
    );
    let access = Access::new(store.clone());
    announce_bootstrap_token(&store, &config.data_dir).await?;
    let admin = Arc::new(AdminService::new(store.clone(), access.clone()));
    let watchers = WatchSlots::default();
    let feeds = RunFeeds::new(store.clone(), notifier.clone(), api.feed_settings());
    let sweeps = SweepsService::new(
        store.clone(),
        access.clone(),
        intake.clone(),
        api.caps.clone(),
    )
    .into_server();
    let max_watch_streams = api.caps.max_watch_streams_per_token;
    let coordinator = Arc::new(
        CoordinatorService::with_notifier(store.clone(), api, notifier)
            .with_intake(intake)
            .with_access(access.clone())
            .with_feeds(feeds.clone(), watchers.clone()),
    );
    let service = CoordinatorServer::from_arc(coordinator.clone())
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES);
    if let Some(http_listener) = http_listener {
        let http_api = HttpApi {
            store: store.clone(),
            access: access.clone(),
            coordinator,
            admin: admin.clone(),
            feeds,
            watchers,
            settings: HttpSettings {
                secure_cookies: true,
                max_watch_streams,
                runner_heartbeat: config.runner_heartbeat(),
            },
            shutdown: shutdown.clone(),
        };
        let http = crate::http::start(http_api, http_listener, &config.tls)?;
        shell.background().spawn(|_| async move {
            let _ = http.task.await;
        });
    }
    let admin = AdminServer::from_arc(admin);
    tracing::info!(%address, tls = server_tls.is_tls(), owner = %config.owner, gateway = %config.gateway, blobs = %blob_store, "coordinator serving");
    let blobs = BlobsService::new(blob_store, config.max_blob_bytes, Arc::new(access))
        .with_process_token(process_token)
        .into_server();

    shell
        .background()
        .spawn(|stop| async move { registry.spawn_reaper(stop).await.unwrap_or_default() });
    let supervisor = Supervisor::new(
        store.clone(),
        engine,
        SupervisorConfig {
            owner: config.owner.clone(),
            max_runs: config.max_runs,
            lease_ttl: config.lease_ttl(),
            claim_every: config.claim_every(),
        },
    );
    let stop_claiming = CancellationToken::new();
    let supervisor = shell
        .background()
        .spawn(|_| supervisor.run(stop_claiming.clone()));
    let pump = shell
        .background()
        .spawn(|_| pump.run(stop_claiming.clone()));
    let drain = async move {
        tracing::info!("coordinator shutting down: releasing runs");
        stop_claiming.cancel();
        if let Err(e) = supervisor.await {
            tracing::error!(error = %e, "the supervisor panicked");
        }
        if let Err(e) = pump.await {
            tracing::error!(error = %e, "the sweep pump panicked");
        }
    };
    shell
        .tls(server_tls)
        .stream_grace(SERVER_DRAIN)
        .add_service(service)
        .add_service(blobs)
        .add_service(admin)
        .add_service(sweeps)
        .serve(listener, shutdown, drain)
        .await?;
    Ok(())
}

/// Makes the deployment's first admin token when the store never had one, and says where
/// the file holding it is (never the token itself).
async fn announce_bootstrap_token(store: &AnyStore, data_dir: &Path) -> Result<(), Error> {
    if let Some(path) = bootstrap_admin_token(store, data_dir).await? {
        tracing::warn!(path = %path.display(), "wrote the first admin token (mode 0600); \
            use it with `aide login --token-file` and keep it secret");
        eprintln!(
            "the first admin token of this deployment is in {} (mode 0600): \
             aide login --server <url> --token-file {0}",
            path.display()
        );
    }
    Ok(())
}
