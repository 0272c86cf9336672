//! A database outage in the middle of a run: the engine drives the diabetes example over a
//! private Postgres cluster (its own `initdb` directory and port, so the shared server other
//! tests use is never touched), the cluster is restarted quickly after the first node is
//! reviewed and stopped for longer after the second, and the run still completes with
//! exactly its steps, no node buggy because of the outage, the lease kept, and the retries
//! recorded as `infra_retry` events.
//!
//! The store's pool waits up to 30 s for a connection, so a quick restart mostly goes
//! unnoticed: only a query in flight when the server shuts down fails (and is retried). The
//! second time the cluster stays down for [`OUTAGE`], longer than that wait: the writes the
//! engine makes early in the outage fail, are retried with backoff, and their `infra_retry`
//! events are written as soon as the database accepts connections again. The lease's ttl is
//! longer than the outage.
//!
//! Needs root (the cluster runs as the `postgres` user) and the PostgreSQL server binaries
//! under `/usr/lib/postgresql/<version>/bin`; without them the test is skipped loudly, or
//! fails when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine_support::*;
use aide_coordinator::dispatch::GrpcExecutor;
use aide_coordinator::engine::{Engine, GrpcAuthor, RunEnd};
use aide_core::{NodeStage, Task};
use aide_store::{AnyStore, EventStore, Lease, NewRun, NodeStore, RunStatus, RunStore};
use tokio_util::sync::CancellationToken;

/// How long the database stays down (more than the pool's 30 s connection wait).
const OUTAGE: Duration = Duration::from_secs(40);
/// The lease's ttl: longer than the outage, so renewals failing meanwhile do not lose it.
const LEASE_TTL: Duration = Duration::from_secs(120);

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Runs `bin/<tool> args…` as the `postgres` user and panics with its output on failure.
fn as_postgres(bin: &Path, tool: &str, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("runuser {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Postgres cluster of this test only, stopped and deleted on drop.
struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    data: String,
    port: u16,
}

impl PgCluster {
    fn start() -> Result<Self, String> {
        if !aide_testkit::is_root() {
            return Err("the test is not running as root".into());
        }
        let bin = postgres_bin().ok_or("no /usr/lib/postgresql/<version>/bin/initdb")?;
        let port = aide_testkit::free_port();
        let dir = std::env::temp_dir().join(format!("aide-pg-restart-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .map_err(|e| format!("chown: {e}"))?;
        if !chown.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err("cannot chown the cluster directory to the postgres user".into());
        }
        // From here on the guard cleans up, whatever fails.
        let cluster = Self {
            bin,
            data: dir.join("data").to_string_lossy().into_owned(),
            dir,
            port,
        };
        as_postgres(
            &cluster.bin,
            "initdb",
            &[
                "-D",
                &cluster.data,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.pg_ctl_start();
        as_postgres(
            &cluster.bin,
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "aide",
            ],
        );
        Ok(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/aide", self.port)
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port, self.data
        );
        let log = self.dir.join("log").to_string_lossy().into_owned();
        as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", &self.data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    fn pg_ctl_stop(&self, mode: &str) -> bool {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &self.data, "-m", mode, "-w", "stop"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until `n` nodes of the run are reviewed (the run still going).
async fn wait_reviewed<T>(
    store: &AnyStore,
    lease: &Lease,
    n: usize,
    driving: &tokio::task::JoinHandle<T>,
) {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let nodes = store.load_tree(lease.run_id).await.expect("tree");
        let reviewed = nodes
            .iter()
            .filter(|n| n.stage == NodeStage::Reviewed)
            .count();
        if reviewed >= n {
            return;
        }
        assert!(!driving.is_finished(), "the run ended before {n} reviews");
        assert!(Instant::now() < deadline, "not {n} nodes reviewed in 300 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn diabetes_task() -> Task {
    Task::load(&aide_testkit::example_dir("diabetes")).expect("diabetes task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_mid_run_is_retried_and_recorded() {
    let cluster = match tokio::task::spawn_blocking(PgCluster::start)
        .await
        .expect("cluster start")
    {
        Ok(cluster) => Arc::new(cluster),
        Err(why) => {
            aide_testkit::unavailable::<()>(
                "a private Postgres cluster (root and the PostgreSQL server binaries)",
                why,
            );
            return;
        }
    };
    let store: Arc<AnyStore> = Arc::new(aide_store::connect(&cluster.url()).await.expect("store"));
    let gw = gateway("").await;
    let rn = runner(1, 37000).await;

    let task = diabetes_task();
    let run = store
        .create_run(NewRun {
            project: aide_core::access::ProjectName::default_project(),
            name: task.name.clone(),
            task,
            settings: settings(4, 2),
            direction: None,
            seed: 7,
            fork_of: None,
        })
        .await
        .expect("create run");
    let lease = store
        .claim_run("test-coordinator", LEASE_TTL)
        .await
        .expect("claim")
        .expect("a claimable run");
    assert_eq!(lease.run_id, run.id);

    let mut engine_config = config(None);
    engine_config.lease_ttl = LEASE_TTL;
    let author = GrpcAuthor::connect_lazy(&gw.url).expect("author");
    let executor = GrpcExecutor::new([rn.url.clone()]).expect("executor");
    let engine = Engine::new(
        store.clone(),
        Arc::new(author),
        Arc::new(executor),
        engine_config,
    );
    let started = Instant::now();
    let driving = {
        let lease = lease.clone();
        tokio::spawn(async move { engine.drive(lease, CancellationToken::new()).await })
    };

    // A quick restart after the first review: the pool reconnects on its own.
    wait_reviewed(&store, &lease, 1, &driving).await;
    let restart_at = started.elapsed();
    {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || {
            assert!(cluster.pg_ctl_stop("fast"), "pg_ctl stop failed");
            std::thread::sleep(Duration::from_secs(2));
            cluster.pg_ctl_start();
        })
        .await
        .expect("quick restart");
    }
    eprintln!(
        "quick restart (2 s down) at {restart_at:.1?}, up again at {:.1?}",
        started.elapsed()
    );

    // After the second review, a long outage.
    wait_reviewed(&store, &lease, 2, &driving).await;
    let before = store
        .events_after(lease.run_id, 0, 10_000)
        .await
        .expect("events")
        .last()
        .map_or(0, |e| e.seq);
    let down_at = started.elapsed();
    let stopping = Instant::now();
    let stopped = {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || cluster.pg_ctl_stop("fast"))
            .await
            .expect("stop")
    };
    assert!(stopped, "pg_ctl stop failed");
    eprintln!(
        "database stopped at {down_at:.1?} (after event #{before}), stop took {:.1?}",
        stopping.elapsed()
    );
    tokio::time::sleep(OUTAGE).await;
    assert!(
        !driving.is_finished(),
        "the run ended while the database was down"
    );
    let starting = Instant::now();
    {
        let cluster = cluster.clone();
        tokio::task::spawn_blocking(move || cluster.pg_ctl_start())
            .await
            .expect("start");
    }
    eprintln!(
        "database up again at {:.1?} (start took {:.1?})",
        started.elapsed(),
        starting.elapsed()
    );

    let end = tokio::time::timeout(Duration::from_secs(600), driving)
        .await
        .expect("the run finishes within 600 s after the restart")
        .expect("join")
        .expect("drive");
    eprintln!("run finished at {:.1?}: {end:?}", started.elapsed());
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (4 nodes)".into()
        }
    );

    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, RunStatus::Completed);
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 4, "{nodes:#?}");
    for node in &nodes {
        assert_eq!(node.stage, NodeStage::Reviewed, "{node:#?}");
        let review = node.review.as_ref().expect("review");
        let reasons: Vec<String> = review.bug_reasons.iter().map(|r| r.to_string()).collect();
        eprintln!(
            "node {}: buggy {} {reasons:?} metric {:?}",
            node.step, review.is_buggy, review.metric
        );
        assert!(
            !reasons.iter().any(|r| {
                let r = r.to_lowercase();
                r.contains("database") || r.contains("connection") || r.contains("infra")
            }),
            "node {} is buggy because of the outage: {reasons:?}",
            node.step
        );
    }

    let events = store
        .events_after(lease.run_id, 0, 10_000)
        .await
        .expect("events");
    let retries: Vec<_> = events
        .iter()
        .filter(|e| e.event.kind() == "infra_retry" && e.seq > before)
        .collect();
    for e in events.iter().filter(|e| e.event.kind() == "infra_retry") {
        eprintln!("infra_retry #{} at {}: {:?}", e.seq, e.created_at, e.event);
    }
    assert!(
        !retries.is_empty(),
        "no infra_retry event after the outage: {:#?}",
        events
            .iter()
            .map(|e| (e.seq, e.event.kind().to_owned(), e.event.payload()))
            .collect::<Vec<_>>()
    );
    assert!(
        retries.iter().all(|e| matches!(
            &e.event,
            aide_core::RunEvent::InfraRetry(retry) if retry.error.contains("database")
        )),
        "{retries:#?}"
    );
    let count = |kind: &str| events.iter().filter(|e| e.event.kind() == kind).count();
    assert_eq!(count("node_created"), 4);
    assert_eq!(count("node_reviewed"), 4);
    assert_eq!(count("run_finished"), 1);
    assert_eq!(count("run_resumed"), 0, "the lease was never lost");
    drop(store);
}
