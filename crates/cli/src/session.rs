//! One embedded session over a stored run, shared by `aide run` and `aide resume`: start
//! the services, take the run's lease, drive it with the coordinator engine while the
//! progress display follows, handle Ctrl-C, then link the outputs and print the summary.

use aide_proto::bearer::Bearer;
use aide_service::tls::Dialer;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_coordinator::api::EventNotifier;
use aide_coordinator::dispatch::GrpcExecutor;
use aide_coordinator::engine::{Backoff, Engine, EngineConfig, GrpcAuthor, RunEnd};
use aide_service::signals::Stage;
use aide_store::{AnyStore, DatabaseUrl, Lease, RunRecord, RunStore};
use tokio_util::sync::CancellationToken;

use crate::embedded::{ServiceOptions, Services};
use crate::error::{CliError, EXIT_COMPLETED, EXIT_FAILED, EXIT_INTERNAL, EXIT_INTERRUPTED};
use crate::local_ui::LocalUi;
use crate::progress::{Mode, Progress, fmt_elapsed};
use crate::summary::{self, DB_FILE};
use aide_runner::BackendKind;

/// Lease time-to-live in embedded mode: short, so `aide resume` after a crash waits little.
pub const LEASE_TTL: Duration = Duration::from_secs(10);

/// Everything a session needs.
#[derive(Debug)]
pub struct Session {
    pub out: PathBuf,
    pub store: Arc<AnyStore>,
    pub run: RunRecord,
    pub sandbox: BackendKind,
    pub work_root: Option<PathBuf>,
    pub mode: Mode,
    /// Serve the web UI here (`--ui`), on loopback.
    pub ui: Option<std::net::SocketAddr>,
    /// The token counter, already loading (see [`start_counting_tokens`]).
    pub tokens: aide_core::TokenCounter,
}

/// A token counter whose vocabulary starts loading now, on a thread of its own: the first
/// draft's data preview needs it, and loading it takes longer than everything else `aide
/// run` does before its first model request. It is kept beside the runner's other caches
/// (`/var/cache/aide` as root, else `~/.cache/aide`), where it loads faster the next time.
pub fn start_counting_tokens() -> aide_core::TokenCounter {
    let tokens = aide_core::TokenCounter::cached_in(aide_runner::sandbox::venv::own_cache_home());
    tokens.preload();
    tokens
}

/// Ctrl-C: the first cancels `first` (the engine stops and releases the lease), the second
/// exits at once with the interrupted code.
#[derive(Debug, Clone)]
pub struct Interrupt {
    pub first: CancellationToken,
    /// Set once the run is over (only the web UI of `--ui` is left to stop).
    run_over: Arc<std::sync::atomic::AtomicBool>,
}

impl Interrupt {
    /// Installs the handler (SIGINT, and SIGTERM alike).
    pub fn install() -> Self {
        let first = CancellationToken::new();
        let run_over = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let over = run_over.clone();
        let installed =
            aide_service::signals::install(first.clone(), EXIT_INTERRUPTED.into(), move |stage| {
                match stage {
                    Stage::Draining => {
                        use std::io::IsTerminal;
                        let clear = if std::io::stderr().is_terminal() {
                            "\r\x1b[2K"
                        } else {
                            ""
                        };
                        if over.load(std::sync::atomic::Ordering::Relaxed) {
                            eprintln!("{clear}stopping the web UI");
                        } else {
                            eprintln!(
                                "{clear}stopping: releasing the run (Ctrl-C again to quit at once)"
                            );
                        }
                    }
                    Stage::Exiting => eprintln!("quitting at once"),
                }
            });
        if let Err(e) = installed {
            eprintln!("warning: {e}: Ctrl-C will not stop the run cleanly");
        }
        Self { first, run_over }
    }

    /// Says that the run is over, so a Ctrl-C only stops what is left (the web UI).
    fn run_is_over(&self) {
        self.run_over
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The SQLite URL of an output directory's database.
pub fn db_url(out: &Path) -> DatabaseUrl {
    DatabaseUrl::sqlite_file(&out.join(DB_FILE))
}

/// A lease owner name unique to this process.
pub fn owner() -> String {
    format!("aide-cli-{}", std::process::id())
}

/// Where `--ui` serves: `--ui-listen`, or a free port on 127.0.0.1.
pub fn ui_address(ui: bool, listen: Option<std::net::SocketAddr>) -> Option<std::net::SocketAddr> {
    ui.then(|| listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))))
}

/// Starts the services, claims the run (waiting out a previous session's lease), drives it
/// and prints the summary; returns the exit code.
pub async fn drive(session: Session, interrupt: &Interrupt) -> Result<u8, CliError> {
    let say = |text: &str| {
        if session.mode != Mode::Quiet {
            eprintln!("{text}");
        }
    };
    let options = ServiceOptions {
        sandbox: session.sandbox,
        slots: session.run.settings.workers,
        work_root: session.work_root.clone(),
        coordinator: None,
        redis_url: None,
        metrics: aide_telemetry::Metrics::new(),
    };
    let started = Instant::now();
    let services = tokio::select! {
        s = Services::start(&options, &say) => s?,
        _ = interrupt.first.cancelled() => return interrupted(&session.out),
    };
    // The process sandbox is known to work once provisioned, and its runner finishes
    // starting while the first model call is made; a Docker daemon is checked first.
    if session.sandbox != BackendKind::Process {
        let ready = tokio::select! {
            ready = services.runner_ready() => ready,
            _ = interrupt.first.cancelled() => Err(CliError::Interrupted),
        };
        if let Err(e) = ready {
            services.stop().await;
            return match e {
                CliError::Interrupted => interrupted(&session.out),
                e => Err(e),
            };
        }
    }
    let lease = tokio::select! {
        l = claim(&session, &say) => l,
        _ = interrupt.first.cancelled() => Err(CliError::Interrupted),
    };
    let lease = match lease {
        Ok(lease) => lease,
        Err(e) => {
            services.stop().await;
            return match e {
                CliError::Interrupted => interrupted(&session.out),
                e => Err(e),
            };
        }
    };
    let run_id = session.run.id;
    let notifier = EventNotifier::new();
    let ui = match session.ui {
        Some(address) => {
            let ui = LocalUi::start(session.store.clone(), run_id, address, notifier.clone());
            match ui.await {
                Ok(ui) => Some(ui),
                Err(e) => {
                    services.stop().await;
                    return Err(e);
                }
            }
        }
        None => None,
    };
    if let Some(ui) = &ui {
        // Said even with --quiet: it is what --ui asked for.
        eprintln!("web UI: {}", ui.url());
    }
    summary::link_outputs(&session.out, &session.run, false);
    let progress = Progress::start(
        session.store.clone(),
        run_id,
        session.run.settings.steps,
        session.run.task.metric.name.clone(),
        session.mode,
    );
    let driven = drive_engine(&session, &services, lease, interrupt, &notifier).await;
    progress.finish().await;
    let failure = services.failure();
    services.stop().await;
    let end = match driven {
        Ok(Some(end)) => end,
        Ok(None) => return Err(failure),
        Err(e) => return Err(e),
    };
    let run = session.store.get_run(run_id).await?;
    summary::link_outputs(&session.out, &run, true);
    let code = announce_end(&end, started.elapsed());
    summary::print(&session.store, &run, &session.out).await?;
    if let Some(ui) = ui {
        keep_serving(ui, interrupt).await;
    }
    if end == RunEnd::Interrupted {
        return interrupted(&session.out);
    }
    Ok(code)
}

/// Keeps the web UI up after the run ended, until Ctrl-C (at once when Ctrl-C ended it).
async fn keep_serving(ui: LocalUi, interrupt: &Interrupt) {
    if !interrupt.first.is_cancelled() {
        interrupt.run_is_over();
        eprintln!(
            "the run is over; the web UI stays up at {} until Ctrl-C",
            ui.url()
        );
        interrupt.first.cancelled().await;
    }
    ui.stop().await;
}

/// Drives the leased run on an engine over the in-process services until it ends; `None`
/// when a service died first (the engine is stopped cleanly before returning).
async fn drive_engine(
    session: &Session,
    services: &Services,
    lease: Lease,
    interrupt: &Interrupt,
    notifier: &EventNotifier,
) -> Result<Option<RunEnd>, CliError> {
    // Other fields (hooks for a served API) keep their defaults in embedded mode.
    #[allow(clippy::needless_update)]
    let config = EngineConfig {
        lease_ttl: LEASE_TTL,
        backoff: Backoff::default(),
        output_dir: Some(session.out.clone()),
        on_event: Some(notifier.hook()),
        tokens: session.tokens.clone(),
        ..EngineConfig::default()
    };
    let bearer = Bearer::new(&services.process_token);
    let author = GrpcAuthor::dial(&Dialer::plaintext(), &services.gateway_url, bearer.clone())
        .map_err(CliError::service("gateway client"))?;
    let executor = GrpcExecutor::new([services.runner_url.as_str()])
        .map_err(CliError::service("runner client"))?
        .with_bearer(bearer);
    let engine = Engine::new(
        session.store.clone(),
        Arc::new(author),
        Arc::new(executor),
        config,
    );
    let stop = interrupt.first.child_token();
    let drive = engine.drive(lease, stop.clone());
    tokio::pin!(drive);
    tokio::select! {
        end = &mut drive => end.map(Some).map_err(CliError::Engine),
        _ = services.died() => {
            // A service is gone: stop the engine cleanly, then report the service error.
            stop.cancel();
            let _ = drive.await;
            Ok(None)
        }
    }
}

/// Says how the drive ended and returns the exit code for it.
fn announce_end(end: &RunEnd, elapsed: Duration) -> u8 {
    match end {
        RunEnd::Completed { reason } => {
            eprintln!("run completed: {reason} ({})", fmt_elapsed(elapsed));
            EXIT_COMPLETED
        }
        RunEnd::Failed { reason } => {
            eprintln!("run failed: {reason}");
            EXIT_FAILED
        }
        RunEnd::Cancelled => {
            eprintln!("run cancelled");
            EXIT_INTERRUPTED
        }
        RunEnd::Interrupted => EXIT_INTERRUPTED,
        RunEnd::LeaseLost => {
            eprintln!("another aide session took this run over; stopping");
            EXIT_INTERNAL
        }
    }
}

fn interrupted(out: &Path) -> Result<u8, CliError> {
    eprintln!("interrupted; continue with: aide resume {}", out.display());
    Ok(EXIT_INTERRUPTED)
}

/// Claims the session's run; a lease a crashed session left is waited out (it expires
/// within [`LEASE_TTL`]); a lease that keeps being renewed means another live session.
async fn claim(session: &Session, say: &dyn Fn(&str)) -> Result<Lease, CliError> {
    let owner = owner();
    let deadline = Instant::now() + LEASE_TTL * 3;
    let mut told = false;
    loop {
        if let Some(lease) = session.store.claim_run(&owner, LEASE_TTL).await? {
            if lease.run_id != session.run.id {
                session.store.release_lease(&lease).await?;
                return Err(CliError::Service(format!(
                    "the database holds another unfinished run ({}); this session drives {}",
                    lease.run_id, session.run.id
                )));
            }
            return Ok(lease);
        }
        if Instant::now() >= deadline {
            return Err(CliError::Usage(format!(
                "run {} is held by another live aide session (its lease keeps being renewed)",
                session.run.id
            )));
        }
        if !told {
            say("waiting for the previous session's lease to expire (at most 10 s)…");
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
