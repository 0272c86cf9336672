//! aide-runner: the sandbox runner service of aide. It executes one untrusted solution script
//! per call — in a Docker container or a limited process group — streams its merged output
//! and resource samples, enforces limits, parses the exception that ended it, returns the
//! files it produced, and cleans up after itself. It serves aide.v1.Runner plus gRPC health,
//! and registers and heartbeats with a coordinator when one is configured.

pub mod args;
pub mod collect;
pub mod config;
pub mod error;
pub mod input;
pub mod metrics;
pub mod output;
pub mod private_input;
pub mod procfs;
pub mod quota;
pub mod quota_pool;
pub mod registry;
pub mod sandbox;
pub mod service;
pub mod traceback;
pub mod workspace;

use std::{collections::HashMap, os::unix::fs::PermissionsExt, sync::Arc, time::Duration};

use aide_core::service_identity::ServiceKind;
use aide_proto::bearer::Bearer;
use aide_proto::v1::runner_server::RunnerServer;
use aide_service::Shell;
use aide_service::tls::{ClientAuth, Dialer, ServerTls};
use aide_telemetry::Metrics;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tracing::{info, warn};

pub use config::{BackendKind, Config};
pub use error::{Error, Result};
pub use input::InputSource;
pub use sandbox::{Sandbox, docker::DockerSandbox, process::ProcessSandbox};
pub use service::RunnerService;

/// Binds `config.listen` (and `config.metrics_listen`) and serves until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<()> {
    let (listener, shell) = Shell::listen(config.listen, config.metrics_listen).await?;
    serve_in(shell, config, listener, shutdown).await
}

/// Builds the configured sandbox backend.
pub async fn build_sandbox(
    config: &Config,
    runner_id: &str,
    metrics: Arc<Metrics>,
) -> Result<Arc<dyn Sandbox>> {
    Ok(match config.backend {
        BackendKind::Process => {
            // With --python auto this may provision the virtualenv (minutes, blocking).
            let config = config.clone();
            let sandbox = tokio::task::spawn_blocking(move || ProcessSandbox::new(&config))
                .await
                .map_err(|e| Error::Io(std::io::Error::other(e)))??;
            Arc::new(sandbox)
        }
        BackendKind::Docker => Arc::new(DockerSandbox::connect(config, runner_id, metrics).await?),
    })
}

/// Serves on `listener` until `shutdown`: then stops admitting, drains running executions
/// for `drain_secs`, cancels what is left, and returns once everything is cleaned up.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<()> {
    serve_in(Shell::default(), config, listener, shutdown).await
}

/// [`serve`] in `shell` (its metrics registry and endpoint; `aide serve` shares one).
pub async fn serve_in(
    shell: Shell,
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<()> {
    config.validate()?;
    let local = listener.local_addr()?;
    let server_tls = ServerTls::new(&config.tls, local, ClientAuth::Required)?;
    let dialer = Dialer::new(&config.tls)?;
    let bearer = config
        .process_token
        .as_ref()
        .map_or_else(Bearer::none, Bearer::new);
    let shell = match &config.process_token {
        Some(token) => shell.process_token(token.hash()),
        None => shell,
    };
    let runner_id = runner_id(&config)?;
    let work_root = config.work_root();
    std::fs::create_dir_all(&work_root)?;
    if nix::unistd::geteuid().is_root() {
        let unmounted = quota::sweep_mounts(&work_root);
        if unmounted > 0 {
            warn!(
                unmounted,
                "unmounted the quota file systems an earlier run left behind"
            );
        }
    }
    // Sandbox users must be able to reach their own attempt directory.
    if let Err(e) = std::fs::set_permissions(&work_root, std::fs::Permissions::from_mode(0o711)) {
        warn!(error = %e, "cannot open the work root to sandbox users");
    }
    let sandbox = build_sandbox(&config, &runner_id, shell.metrics().clone()).await?;
    let swept = sandbox.sweep().await?;
    let inputs = input_source(&config, &dialer, &bearer).await?;
    let service = RunnerService::new(
        runner_id.clone(),
        sandbox.clone(),
        config.limits.clone(),
        work_root,
        (config.slots, inputs),
        shell.metrics().clone(),
    );
    aide_telemetry::build_info(shell.metrics(), "runner");
    shell
        .metrics()
        .register(Arc::new(metrics::RunnerCollector(service.clone())));
    info!(%runner_id, %local, tls = server_tls.is_tls(), backend = sandbox.backend(), slots = config.slots, swept, "runner serving");

    if config.backend == BackendKind::Docker {
        let sandbox = sandbox.clone();
        let every = Duration::from_secs(config.docker.janitor_secs.max(1));
        shell
            .background()
            .spawn(|stop| janitor(sandbox, every, stop));
    }
    if let Some(coordinator) = config.coordinator.clone() {
        let reg = registry::Registration {
            endpoint: dialer.endpoint(&coordinator)?,
            bearer: bearer.clone(),
            coordinator,
            runner_id: runner_id.clone(),
            address: config
                .advertise
                .clone()
                .unwrap_or_else(|| format!("{}://{local}", dialer.scheme())),
            backend: config.backend.as_str().into(),
            labels: parse_labels(&config.labels),
        };
        let service = service.clone();
        shell
            .background()
            .spawn(|stop| registry::heartbeat_loop(reg, service, stop));
    }
    let drain = {
        let service = service.clone();
        async move {
            service.drain(Duration::from_secs(config.drain_secs)).await;
        }
    };
    let service_for_release = service.clone();
    let runner =
        RunnerServer::new(service).max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES);
    let guard = shell.guard(ServiceKind::Coordinator);
    let served = shell
        .tls(server_tls)
        .add_service(InterceptedService::new(runner, guard))
        .serve(listener, shutdown, drain)
        .await;
    sandbox.shutdown().await;
    service_for_release.release_quotas();
    if let Err(e) = sandbox.sweep().await {
        warn!(error = %e, "final sweep failed");
    }
    info!("runner stopped");
    Ok(served?)
}

/// Where executions' inputs come from: with a coordinator, a bundle cache fetching from it;
/// host directories only when the configuration says so (the runner of `aide run`).
async fn input_source(config: &Config, dialer: &Dialer, bearer: &Bearer) -> Result<InputSource> {
    let cache = match &config.coordinator {
        Some(coordinator) => {
            let channel = dialer.endpoint(coordinator)?.connect_lazy();
            let source = Arc::new(aide_bundle::GrpcBlobSource::with_bearer(
                channel,
                bearer.clone(),
            ));
            let cache_config = aide_bundle::CacheConfig {
                dir: config.cache_dir(),
                max_bytes: config.cache_max_bytes,
            };
            let cache = aide_bundle::BundleCache::open(cache_config, source)
                .await
                .map_err(Error::Input)?;
            info!(dir = %config.cache_dir().display(), stored = cache.stored_bytes(), "bundle cache open");
            Some(cache)
        }
        None => None,
    };
    // As root the process backend runs scripts as other uids, which may not read the
    // task's own directory.
    let private = match config.accept_local_input
        && config.backend == BackendKind::Process
        && nix::unistd::geteuid().is_root()
    {
        true => Some(Arc::new(private_input::PrivateInputs::new(
            config.work_root().join("private-inputs"),
        ))),
        false => None,
    };
    Ok(InputSource {
        cache,
        accept_local: config.accept_local_input,
        private,
    })
}

/// The runner's id: as configured, else its certificate's name; with TLS the two must
/// agree, since the coordinator takes registrations only for the runner a certificate names.
fn runner_id(config: &Config) -> Result<String> {
    let certified = aide_service::tls::own_identity(&config.tls)?;
    match (certified, &config.runner_id) {
        (None, _) => Ok(config.runner_id()),
        (Some(identity), _) if identity.kind != ServiceKind::Runner => Err(Error::Config(format!(
            "the TLS certificate is {identity}, not a runner's (`aide certs issue --role runner`)"
        ))),
        (Some(identity), Some(id)) if id != identity.name.as_str() => Err(Error::Config(format!(
            "--runner-id {id:?} differs from the certificate's name ({identity})"
        ))),
        (Some(identity), _) => Ok(identity.name.to_string()),
    }
}

/// Sweeps this runner's leftover containers every `every` until `stop`.
async fn janitor(sandbox: Arc<dyn Sandbox>, every: Duration, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if let Err(e) = sandbox.sweep().await {
            warn!(error = %e, "janitor sweep failed");
        }
    }
}

fn parse_labels(raw: &[String]) -> HashMap<String, String> {
    raw.iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}
