//! Real components for the engine tests, started in-process on loopback: an aide-gateway
//! (baseline, or a mock OpenAI provider with prices), an aide-runner with the process
//! backend, a SQLite store in a temporary directory, and the shared house-prices data.
//!
//! The interpreter the runner uses: `AIDE_TEST_PYTHON` when set; otherwise `python3` from
//! `PATH` when the tests are not root; as root the runner drops scripts to sandbox uids that
//! cannot read a pyenv under `/root`, so a world-readable virtualenv is built once from
//! `/usr/bin/python3` (numpy, pandas, scikit-learn, lightgbm, from the sandbox image's wheel
//! cache when present) under `/var/tmp` and reused.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aide_coordinator::dispatch::GrpcExecutor;
use aide_coordinator::engine::{Author, Backoff, Engine, EngineConfig, Executor, GrpcAuthor};
use aide_core::task::ReferenceTask;
use aide_core::{RunSettings, Task};
use aide_store::{AnyStore, EventStore, Lease, NewRun, RunStore};
pub use aide_testkit::house_prices_dir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub fn house_prices_task() -> Task {
    Task::from_reference(&ReferenceTask {
        data_dir: Some(house_prices_dir()),
        goal: Some("Predict the sales price for each house.".into()),
        eval: Some(
            "RMSE between the logarithm of the predicted value and the logarithm of the \
             observed sales price."
                .into(),
        ),
        desc_file: None,
    })
    .expect("house-prices task")
}

static PYTHON: OnceLock<String> = OnceLock::new();

/// The interpreter for the process backend (see the module docs).
pub fn sandbox_python() -> String {
    PYTHON.get_or_init(find_python).clone()
}

fn find_python() -> String {
    if let Ok(p) = std::env::var("AIDE_TEST_PYTHON") {
        return p;
    }
    if !aide_testkit::is_root() {
        return "python3".into();
    }
    let venv = PathBuf::from("/var/tmp/aide-coordinator-test-venv");
    let python = venv.join("bin/python3");
    if venv.join(".ready").exists() {
        return python.to_string_lossy().into_owned();
    }
    let building = PathBuf::from(format!("{}.{}", venv.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let run = |cmd: &mut Command| {
        let out = cmd.output().expect("spawn");
        assert!(
            out.status.success(),
            "building the test venv failed: {cmd:?}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(&building));
    let mut pip = Command::new(building.join("bin/pip"));
    pip.args(["install", "-q"]);
    let wheels = Path::new("/var/cache/aide-sandbox/wheels/cp311-amd64");
    if wheels.is_dir() {
        pip.arg("--no-index").arg("--find-links").arg(wheels);
    }
    run(pip.args(["numpy", "pandas", "scikit-learn", "lightgbm"]));
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&building));
    std::fs::write(building.join(".ready"), b"ok").expect("marker");
    if std::fs::rename(&building, &venv).is_err() {
        // Another test process won the race; use its venv.
        let _ = std::fs::remove_dir_all(&building);
    }
    python.to_string_lossy().into_owned()
}

/// A service running on loopback until dropped.
pub struct Service {
    pub url: String,
    shutdown: CancellationToken,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Service {
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

/// A gateway with `config` (TOML) and no provider keys: the baseline answers by default.
pub async fn gateway(config: &str) -> Service {
    gateway_on(
        config,
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
}

/// [`gateway`] serving on `listener`.
pub async fn gateway_on(config: &str, listener: TcpListener) -> Service {
    let config = aide_gateway::config::GatewayConfig::from_toml(config).expect("gateway config");
    let no_env = |_: &str| None;
    let gateway = aide_gateway::service::Gateway::new(&config, &no_env)
        .await
        .expect("gateway");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(aide_gateway::server::serve(
        gateway,
        listener,
        shutdown.clone(),
    ));
    Service {
        url,
        shutdown,
        _dir: None,
    }
}

/// A process-backend runner; `uid_base` keeps parallel tests' sandbox users apart.
pub async fn runner(slots: usize, uid_base: u32) -> Service {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("chmod");
    let root = dir.path().join("work").to_string_lossy().into_owned();
    let python = sandbox_python();
    let (slots, uid) = (slots.to_string(), uid_base.to_string());
    let config = aide_runner::Config::from_argv([
        "aide-runner",
        "--listen",
        "127.0.0.1:0",
        "--work-root",
        &root,
        "--backend",
        "process",
        "--slots",
        &slots,
        "--python",
        &python,
        "--uid-base",
        &uid,
        "--grace-secs",
        "1",
        "--drain-secs",
        "1",
        "--runner-id",
        "test-runner",
    ])
    .expect("runner config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    let served = aide_runner::serve(config, listener, shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = served.await {
            panic!("runner failed: {e}");
        }
    });
    // Wait until it accepts connections.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Service {
        url,
        shutdown,
        _dir: Some(dir),
    }
}

/// An address nothing listens on.
pub async fn refusing_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}

/// A SQLite store in a temporary directory.
pub async fn store(dir: &Path) -> Arc<AnyStore> {
    let url = format!("sqlite:{}", dir.join("aide.db").display());
    Arc::new(aide_store::connect(&url).await.expect("store"))
}

/// Settings for short test runs.
pub fn settings(steps: u32, num_drafts: u32) -> RunSettings {
    let mut s = RunSettings {
        steps,
        exec_timeout_secs: 120,
        k_fold_validation: 3,
        seed: 7,
        ..RunSettings::default()
    };
    s.search.num_drafts = num_drafts;
    s
}

/// Creates a run and claims it.
pub async fn claimed_run(store: &AnyStore, task: Task, settings: RunSettings) -> Lease {
    let run = store
        .create_run(NewRun {
            name: task.name.clone(),
            task,
            settings,
            direction: None,
            seed: 7,
        })
        .await
        .expect("create run");
    let lease = claim(store).await;
    assert_eq!(lease.run_id, run.id);
    lease
}

pub async fn claim(store: &AnyStore) -> Lease {
    store
        .claim_run("test-coordinator", Duration::from_secs(30))
        .await
        .expect("claim")
        .expect("a claimable run")
}

pub fn config(output_dir: Option<PathBuf>) -> EngineConfig {
    EngineConfig {
        lease_ttl: Duration::from_secs(30),
        backoff: Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        },
        output_dir,
        outputs_in_place: false,
        on_event: None,
    }
}

pub fn grpc_engine(
    store: Arc<AnyStore>,
    gateway: &str,
    runners: &[&str],
    output_dir: Option<PathBuf>,
) -> Engine<AnyStore, GrpcAuthor, GrpcExecutor> {
    let author = GrpcAuthor::connect_lazy(gateway).expect("author");
    let executor = GrpcExecutor::new(runners.iter().copied())
        .expect("executor")
        .with_penalty(Duration::from_secs(60));
    engine(store, author, executor, output_dir)
}

pub fn engine<A: Author, E: Executor>(
    store: Arc<AnyStore>,
    author: A,
    executor: E,
    output_dir: Option<PathBuf>,
) -> Engine<AnyStore, A, E> {
    Engine::new(
        store,
        Arc::new(author),
        Arc::new(executor),
        config(output_dir),
    )
}

/// Kinds of every event of a run, in order.
pub async fn event_kinds(
    store: &AnyStore,
    run: aide_core::RunId,
) -> Vec<(String, serde_json::Value)> {
    store
        .events_after(run, 0, 10_000)
        .await
        .expect("events")
        .into_iter()
        .map(|e| (e.event.kind().to_owned(), e.event.payload()))
        .collect()
}
