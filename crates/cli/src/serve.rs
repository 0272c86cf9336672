//! `aide serve`: the three services in one process for a small team — the coordinator
//! (public API on `--listen`, supervisor, runner reaper) over Postgres (or SQLite on one
//! machine), the LLM gateway (Redis cache and shared limits when `--redis-url` is given) and
//! a sandbox runner on loopback ports, the runner registering with the in-process
//! coordinator. SIGINT/SIGTERM stop it gracefully (runs are released); a second one exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aide_coordinator::config::CoordinatorConfig;
use aide_coordinator::server::Listeners;
use aide_coordinator::task_roots::TaskRootArg;
use aide_core::redact::url_password;
use aide_service::signals::Stage;
use aide_store::{DatabaseUrl, Store};
use clap::Parser;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::embedded::{ServiceOptions, Services};
use crate::error::{CliError, EXIT_INTERRUPTED};
use aide_runner::BackendKind;

/// Flags of `aide serve` (also its `--print-config` output, passwords redacted).
#[derive(Debug, Clone, Parser, Serialize)]
pub struct ServeArgs {
    /// The store: postgres://user:pass@host/db (a team server), or sqlite:PATH (one machine).
    #[arg(long, env = "AIDE_DATABASE_URL", value_name = "URL")]
    #[serde(serialize_with = "redacted")]
    pub database_url: String,
    /// Redis for the gateway's response cache and shared rate limits (redis://host:6379);
    /// without it there is no cache and limits are per process.
    #[arg(long, env = "AIDE_REDIS_URL", value_name = "URL")]
    #[serde(serialize_with = "redacted_some")]
    pub redis_url: Option<String>,
    /// Address of the coordinator's public gRPC API (what `aide submit --server` dials).
    #[arg(
        long,
        env = "AIDE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    #[serde(skip)]
    pub tls: aide_service::tls::TlsArgs,
    /// Sandbox the scripts run in: docker (one container per execution, image
    /// aide-sandbox:py311; refused with a hint when Docker or the image is missing) or
    /// process (a limited process group, for a trusted single machine).
    #[arg(long, env = "AIDE_SANDBOX", value_enum, default_value = "docker")]
    pub sandbox: BackendKind,
    /// Executions the runner runs at once.
    #[arg(long, env = "AIDE_SLOTS", value_name = "N", default_value_t = 2)]
    pub slots: u32,
    /// Runs the coordinator drives at once (the others wait, queued).
    #[arg(long, env = "AIDE_MAX_RUNS", value_name = "N", default_value_t = 4)]
    pub max_runs: usize,
    /// Where each run's outputs are also written as files (`<dir>/<run id>/`); without it
    /// they are only in the database (`aide export` renders them).
    #[arg(long, env = "AIDE_OUTPUT_DIR", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Address to serve Prometheus metrics on (GET /metrics: the gRPC requests of all three
    /// services, by method and code) [default: off].
    #[arg(long, env = "AIDE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Address to serve the web UI and the HTTP API (/api/v1) on: plaintext on loopback,
    /// otherwise HTTPS with the --tls-* files [default: off].
    #[arg(long, env = "AIDE_HTTP_LISTEN", value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Where the coordinator keeps its data (local blobs in <DIR>/blobs)
    /// [default: $XDG_DATA_HOME/aide, else ~/.local/share/aide].
    #[arg(long, env = "AIDE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The blob store (task data, node files): s3://bucket/prefix (with the standard AWS_*
    /// variables, including AWS_ENDPOINT_URL for MinIO, SeaweedFS or R2), file:///path or a
    /// path [default: local, in --data-dir].
    #[arg(long, env = "AIDE_BLOB_STORE", value_name = "URL")]
    pub blob_store: Option<String>,
    /// The largest blob an upload may declare, in bytes [default: 16 GiB].
    #[arg(long, env = "AIDE_MAX_BLOB_BYTES", value_name = "BYTES")]
    pub max_blob_bytes: Option<u64>,
    /// A directory of tasks on this host served by name, as NAME=DIR (repeatable); clients
    /// run `aide submit --server-task NAME/TASK`.
    #[arg(
        long = "task-root",
        env = "AIDE_TASK_ROOTS",
        value_delimiter = ',',
        value_name = "NAME=DIR"
    )]
    #[serde(serialize_with = "task_roots")]
    pub task_roots: Vec<TaskRootArg>,
    /// Queued plus running runs one project may have [default: 100].
    #[arg(long, env = "AIDE_MAX_UNFINISHED_RUNS", value_name = "N")]
    pub max_unfinished_runs: Option<u64>,
    /// Model spending of one project's runs per 24 hours, in US dollars, beyond which it
    /// starts no run [default: no cap].
    #[arg(long, env = "AIDE_MAX_DAILY_COST_USD", value_name = "USD")]
    pub max_daily_cost_usd: Option<f64>,
    /// Print the resolved configuration (flags over environment, passwords redacted) and
    /// exit.
    #[arg(long)]
    #[serde(skip)]
    pub print_config: bool,
}

fn redacted<S: serde::Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&url_password(url))
}

fn redacted_some<S: serde::Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serializer.serialize_str(&url_password(url)),
        None => serializer.serialize_none(),
    }
}

/// The coordinator task of `aide serve`.
type CoordinatorTask = tokio::task::JoinHandle<Result<(), aide_coordinator::Error>>;

/// Runs `aide serve` until a signal; 0 after a clean shutdown.
pub async fn serve(args: ServeArgs) -> Result<u8, CliError> {
    if args.print_config {
        let text =
            aide_service::config::render(&args).map_err(CliError::service("--print-config"))?;
        print!("{text}");
        return Ok(0);
    }
    let shutdown = CancellationToken::new();
    install_signals(&shutdown)?;
    let Some(mut stack) = Stack::start(&args, &shutdown).await? else {
        return Ok(EXIT_INTERRUPTED);
    };
    stack.announce();
    let outcome = stack.serve_until(&shutdown).await;
    eprintln!("aide serve: stopping (runs are released and resume on the next start)");
    stack.stop().await;
    outcome.map(|()| 0)
}

/// The three services of `aide serve` running in this process.
#[derive(Debug)]
pub struct Stack {
    /// The coordinator's public API.
    pub api: SocketAddr,
    /// The web UI and HTTP API, when served.
    pub web: Option<SocketAddr>,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Where the coordinator keeps its data (the bootstrap admin token among it).
    pub data_dir: PathBuf,
    services: Services,
    options: ServiceOptions,
    coordinator: CoordinatorTask,
    coordinator_stop: CancellationToken,
    store: Arc<aide_store::AnyStore>,
}

impl Stack {
    /// Starts the services of `args` and waits for the runner to register; `None` when
    /// `shutdown` fired meanwhile.
    pub async fn start(
        args: &ServeArgs,
        shutdown: &CancellationToken,
    ) -> Result<Option<Self>, CliError> {
        let url = checked_url(args)?;
        if args.sandbox == BackendKind::Docker {
            check_docker().await?;
        }
        let listener = TcpListener::bind(args.listen)
            .await
            .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
        let local = listener
            .local_addr()
            .map_err(CliError::service("the listening address"))?;
        let http = match args.http_listen {
            Some(address) => Some(TcpListener::bind(address).await.map_err(|e| {
                CliError::Usage(format!("cannot serve the web UI on {address}: {e}"))
            })?),
            None => None,
        };
        let web = match &http {
            Some(l) => Some(
                l.local_addr()
                    .map_err(CliError::service("the web UI's address"))?,
            ),
            None => None,
        };
        let store = Arc::new(
            aide_store::connect(&url)
                .await
                .map_err(CliError::service(format!("cannot open the database {url}")))?,
        );
        eprintln!(
            "aide serve: database {url} · {} sandbox, {} slot(s) · up to {} run(s) at once",
            args.sandbox.as_str(),
            args.slots,
            args.max_runs
        );
        let mut tls = aide_service::tls::TlsConfig::default();
        aide_service::Overlay::apply(&args.tls, &mut tls);
        let shell = aide_service::Shell::new(aide_telemetry::Metrics::new());
        // The runner beside the coordinator dials it on loopback in plaintext: the public
        // port itself when it is plaintext, else a second port on loopback only.
        let (shell, internal) = match tls.files().map_err(|e| CliError::Usage(e.to_string()))? {
            None => (shell, local),
            Some(_) => internal_port(shell).await?,
        };
        let options = ServiceOptions {
            sandbox: args.sandbox,
            slots: args.slots,
            work_root: None,
            coordinator: Some(format!("http://{internal}")),
            redis_url: args.redis_url.clone().filter(|u| !u.trim().is_empty()),
            metrics: shell.metrics().clone(),
        };
        let shell = shell
            .metrics_on(args.metrics_listen)
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let say = |text: &str| eprintln!("{text}");
        let services = tokio::select! {
            s = Services::start(&options, &say) => s.map_err(|e| docker_hint(e, args.sandbox))?,
            () = shutdown.cancelled() => return Ok(None),
        };
        tokio::select! {
            ready = services.runner_ready() => ready.map_err(|e| docker_hint(e, args.sandbox))?,
            () = shutdown.cancelled() => return Ok(None),
        }
        let scheme = match tls.plaintext {
            true => "http",
            false => "https",
        };
        let config = coordinator_config(args, url, local, tls, &services);
        let data_dir = config.data_dir.clone();
        let coordinator_stop = CancellationToken::new();
        let mut coordinator = tokio::spawn(aide_coordinator::server::serve_store_in(
            shell,
            config,
            store.clone(),
            Listeners {
                api: listener,
                http,
            },
            coordinator_stop.clone(),
        ));
        let runner_id = format!("aide-{}", std::process::id());
        let ready = tokio::select! {
            r = wait_registered(&*store, &runner_id) => r,
            () = shutdown.cancelled() => Ok(()),
            ended = &mut coordinator => Err(coordinator_error(ended)),
            () = services.died() => Err(services.failure()),
        };
        let stack = Self {
            api: local,
            web,
            scheme,
            data_dir,
            services,
            options,
            coordinator,
            coordinator_stop,
            store,
        };
        match ready {
            Ok(()) if !shutdown.is_cancelled() => Ok(Some(stack)),
            other => {
                stack.stop().await;
                other.map(|()| None)
            }
        }
    }

    /// The coordinator's API URL.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.api)
    }

    /// Tells where everything listens.
    pub fn announce(&self) {
        announce_ready(&self.services, &self.options, self.api, self.scheme);
        if let Some(url) = self.web_url() {
            eprintln!("web UI and HTTP API on {url} (log in with a token)");
        }
    }

    /// The web UI's URL, when it is served.
    pub fn web_url(&self) -> Option<String> {
        self.web.map(|web| format!("{}://{web}/", self.scheme))
    }

    /// Runs until `shutdown` fires (Ok) or a service stops on its own (its error).
    pub async fn serve_until(&mut self, shutdown: &CancellationToken) -> Result<(), CliError> {
        tokio::select! {
            () = shutdown.cancelled() => Ok(()),
            ended = &mut self.coordinator => Err(coordinator_error(ended)),
            () = self.services.died() => Err(self.services.failure()),
        }
    }

    /// Stops the coordinator (its runs are released) and the services.
    pub async fn stop(self) {
        stop_coordinator(self.coordinator, &self.coordinator_stop).await;
        self.services.stop().await;
        self.store.close().await;
    }
}

/// The coordinator's configuration for `args`, beside the in-process services.
fn coordinator_config(
    args: &ServeArgs,
    url: DatabaseUrl,
    listen: SocketAddr,
    tls: aide_service::tls::TlsConfig,
    services: &Services,
) -> CoordinatorConfig {
    let mut config = CoordinatorConfig::new(url);
    config.listen = listen;
    config.tls = tls;
    config.process_token = Some(services.process_token.clone());
    config.gateway = services.gateway_url.clone();
    config.max_runs = args.max_runs;
    config.output_dir = args.output_dir.clone();
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    config.blob_store = args.blob_store.clone().filter(|u| !u.trim().is_empty());
    if let Some(max) = args.max_blob_bytes {
        config.max_blob_bytes = max;
    }
    for root in &args.task_roots {
        config
            .task_roots
            .insert(root.name.clone(), root.dir.clone());
    }
    if let Some(max) = args.max_unfinished_runs {
        config.caps.max_unfinished_runs_per_project = max;
    }
    config.caps.max_daily_cost_usd_per_project = args.max_daily_cost_usd;
    // `--sandbox process` is the operator's explicit choice of a trusted machine.
    config.allow_process_runners = args.sandbox == BackendKind::Process;
    config
}

/// A loopback port the in-process runner reaches the coordinator on, served by `shell`
/// beside the public TLS port.
async fn internal_port(
    shell: aide_service::Shell,
) -> Result<(aide_service::Shell, SocketAddr), CliError> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on loopback: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(CliError::service("the listening address"))?;
    let shell = shell
        .also_internal(listener)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((shell, address))
}

/// The database URL, once the flags are known to be usable.
fn checked_url(args: &ServeArgs) -> Result<DatabaseUrl, CliError> {
    if args.slots == 0 || args.max_runs == 0 {
        return Err(CliError::Usage(
            "--slots and --max-runs must be at least 1".into(),
        ));
    }
    if args.max_blob_bytes == Some(0) {
        return Err(CliError::Usage(
            "--max-blob-bytes must be at least 1".into(),
        ));
    }
    if args
        .max_daily_cost_usd
        .is_some_and(|usd| !(usd.is_finite() && usd >= 0.0))
    {
        return Err(CliError::Usage(
            "--max-daily-cost-usd must be a number of dollars, 0 or more".into(),
        ));
    }
    DatabaseUrl::parse(&args.database_url)
        .map_err(|e| CliError::Usage(format!("--database-url: {e}")))
}

/// The first SIGINT/SIGTERM cancels `shutdown`; a second one exits at once.
pub(crate) fn install_signals(shutdown: &CancellationToken) -> Result<(), CliError> {
    aide_service::signals::install(shutdown.clone(), EXIT_INTERRUPTED.into(), |stage| {
        eprintln!(
            "{}",
            match stage {
                Stage::Draining => "stopping (signal again to quit at once)",
                Stage::Exiting => "quitting at once",
            }
        )
    })
    .map_err(CliError::service("installing the signal handlers"))
}

/// Tells where everything listens once the runner has registered.
fn announce_ready(services: &Services, options: &ServiceOptions, api: SocketAddr, scheme: &str) {
    let redis = options
        .redis_url
        .as_deref()
        .map_or("none".into(), url_password);
    eprintln!(
        "gateway {} · runner {} · Redis {redis}",
        services.gateway_url, services.runner_url
    );
    eprintln!("coordinator API on {scheme}://{api}");
    eprintln!("ready: aide submit --server {scheme}://{api} <task> (Ctrl-C to stop)");
}

/// Stops the coordinator (its runs are released), waiting up to 30 s for it.
async fn stop_coordinator(mut coordinator: CoordinatorTask, stop: &CancellationToken) {
    stop.cancel();
    if coordinator.is_finished() {
        return;
    }
    match tokio::time::timeout(Duration::from_secs(30), &mut coordinator).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => eprintln!("coordinator: {e}"),
        Ok(Err(e)) => eprintln!("coordinator: {e}"),
        Err(_) => coordinator.abort(),
    }
}

fn coordinator_error(
    ended: Result<Result<(), aide_coordinator::Error>, tokio::task::JoinError>,
) -> CliError {
    match ended {
        Ok(Ok(())) => CliError::Service("the coordinator stopped unexpectedly".into()),
        Ok(Err(e)) => CliError::service("the coordinator failed")(e),
        Err(e) => CliError::service("the coordinator task failed")(e),
    }
}

/// Waits until the runner is in the registry (so a run submitted now finds it).
async fn wait_registered(store: &impl Store, runner_id: &str) -> Result<(), CliError> {
    for _ in 0..300 {
        let live = store.live_runners(Duration::from_secs(60)).await?;
        if live.iter().any(|r| r.info.id == runner_id) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(CliError::Service(
        "the runner did not register with the coordinator within 30 s".into(),
    ))
}

/// Refuses the docker sandbox early when the daemon or the image is missing.
async fn check_docker() -> Result<(), CliError> {
    const IMAGE: &str = "aide-sandbox:py311";
    let status = tokio::process::Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await;
    let why = match status {
        Ok(s) if s.success() => return Ok(()),
        Ok(_) => format!("the image {IMAGE} is missing or the Docker daemon is not running"),
        Err(e) => format!("cannot run docker: {e}"),
    };
    Err(CliError::Usage(format!(
        "--sandbox docker: {why}. Build the image (deploy/sandbox/README.md) or pass \
         --sandbox process to run scripts as limited local processes (trusted machines only)"
    )))
}

/// A service failure with the Docker sandbox, with a hint to the alternative.
fn docker_hint(err: CliError, sandbox: BackendKind) -> CliError {
    const HINT: &str = "is Docker running? --sandbox process avoids it";
    match (err, sandbox) {
        (CliError::Service(why), BackendKind::Docker) => {
            CliError::Service(format!("{why} ({HINT})"))
        }
        (CliError::ServiceStep { what, source }, BackendKind::Docker) => CliError::ServiceStep {
            what: format!("{what} ({HINT})"),
            source,
        },
        (err, _) => err,
    }
}

/// Task roots as `NAME=DIR` text in `--print-config`.
fn task_roots<S: serde::Serializer>(
    roots: &[TaskRootArg],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(
        roots
            .iter()
            .map(|r| format!("{}={}", r.name, r.dir.display())),
    )
}
