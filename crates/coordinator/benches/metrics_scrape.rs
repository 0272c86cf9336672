//! Benchmark (not a test): what a scrape of the coordinator's metrics costs with 10,000 runs
//! in the store — the [`CoordinatorCollector`] reads the runs by status, the sweep cells by
//! state and the live runners at every scrape. Measured in-process
//! (`Metrics::collect_and_render`) and as Prometheus sees it (`GET /metrics` over loopback
//! from `serve_metrics`, by `aide_telemetry::scrape`), on a SQLite file and on a fresh
//! Postgres database (at `AIDE_TEST_POSTGRES_URL`, skipped when unreachable).
//!
//! Each store is seeded through the store API as a coordinator would leave it: runs created,
//! claimed and finished (8,000 completed, 1,000 failed), cancelled while queued (600), held
//! by a live lease (100) and queued (300); three sweeps of 20 cells (graded, failed, running,
//! queued, cancelled); 20 runners heartbeating every 5 s. Postgres is measured again after
//! `VACUUM ANALYZE`, as autovacuum leaves the table a while after such a burst of writes
//! (until then counting the runs reads the table, not the status index).
//!
//! `cargo bench -p aide-coordinator --bench metrics_scrape`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aide_coordinator::dispatch::SlotQueue;
use aide_coordinator::metrics::{CoordinatorCollector, RUNNERS, RUNS, SWEEP_CELLS};
use aide_coordinator::registry::STALE_INTERVALS;
use aide_core::access::ProjectName;
use aide_core::grade::cell::CellGrade;
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{CellStatus, SweepId, SweepStatus};
use aide_core::{Direction, RunSettings, RunStatus};
use aide_store::prelude::*;
use aide_store::{AnyStore, CellOutcome, NewRun, NewSweep, RunnerInfo, RunnerLoad};
use aide_telemetry::Metrics;
use aide_testkit::fixtures::{sample_sweep, sample_task};
use tokio_util::sync::CancellationToken;

const COMMAND: &str = "cargo bench -p aide-coordinator --bench metrics_scrape";

/// The runs in the store by status when seeding is done (10,000 in all), sweep runs included.
const MIX: [(RunStatus, u32); 5] = [
    (RunStatus::Completed, 8_000),
    (RunStatus::Failed, 1_000),
    (RunStatus::Cancelled, 600),
    (RunStatus::Running, 100),
    (RunStatus::Queued, 300),
];
/// Sweeps, each of `SWEEP_TASKS` tasks × one arm × `SWEEP_SEEDS` seeds.
const SWEEP_TASKS: usize = 4;
const SWEEP_SEEDS: u64 = 5;
/// Cells of the first sweep running at once: graded (or failed), then as many started.
const CELLS_AT_ONCE: u32 = 4;
const LIVE_RUNNERS: u32 = 20;
const RUNNER_SLOTS: u32 = 4;
/// The coordinator's default runner heartbeat; a runner silent for 3 of them is not live.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Leases of the runs left running outlive the bench.
const LONG: Duration = Duration::from_secs(3600);
const WARM_UP: usize = 10;
const SCRAPES: usize = 200;
/// Seeding progress is printed every this many runs.
const PROGRESS_EVERY: u32 = 1_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn target(status: RunStatus) -> u32 {
    MIX.iter()
        .find(|(s, _)| *s == status)
        .map_or(0, |(_, n)| *n)
}

fn new_run(i: u32) -> NewRun {
    NewRun {
        project: ProjectName::default_project(),
        name: format!("run-{i}"),
        task: sample_task("house-prices"),
        settings: RunSettings::default(),
        direction: Some(Direction::Minimize),
        seed: u64::from(i),
        fork_of: None,
    }
}

fn new_sweep(name: &str) -> NewSweep {
    let budget = SweepBudget {
        cost_usd: Some(50.0),
        wall_clock_secs: Some(86_400),
        cells_at_once: Some(CELLS_AT_ONCE),
    };
    sample_sweep(name, SWEEP_TASKS, SWEEP_SEEDS, budget)
}

/// Prints seeding progress every `PROGRESS_EVERY` runs.
struct Progress {
    backend: &'static str,
    started: Instant,
    runs: AtomicU32,
}

impl Progress {
    fn add(&self, n: u32) {
        let before = self.runs.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        if after / PROGRESS_EVERY > before / PROGRESS_EVERY || after == total_runs() {
            eprintln!(
                "  {}: {after:>6}/{} runs seeded ({:.1} s)",
                self.backend,
                total_runs(),
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

fn total_runs() -> u32 {
    MIX.iter().map(|(_, n)| n).sum()
}

/// Runs `n` jobs on `workers` tasks at once; `job(i)` for i in 0..n.
async fn fan_out<F, Fut>(workers: usize, n: u32, job: F)
where
    F: Fn(u32) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (next, job) = (next.clone(), job.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                job(i).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("seeding worker");
    }
}

/// Claims the oldest claimable run (another worker's, maybe: each worker creates before it
/// claims, so one is there, unless a rival's claim holds it for a moment).
async fn claim(store: &AnyStore, owner: &str, ttl: Duration) -> aide_store::Lease {
    loop {
        if let Some(lease) = store.claim_run(owner, ttl).await.expect("claim") {
            return lease;
        }
        tokio::task::yield_now().await;
    }
}

/// The three sweeps: the first with 3 cells graded and 1 failed, 4 running (their runs
/// queued, started last so that no claim below takes them) and 12 queued; the second
/// cancelled; the third queued. Returns the first, and leaves 4 completed runs.
async fn seed_sweeps(store: &AnyStore) -> SweepId {
    let first = store
        .create_sweep(new_sweep("graded"))
        .await
        .expect("sweep");
    let started = store
        .start_cells(first.id, CELLS_AT_ONCE)
        .await
        .expect("start cells");
    for _ in &started {
        let lease = claim(store, "replica-0", LONG).await;
        store
            .finish_run(&lease, RunStatus::Completed, "steps done")
            .await
            .expect("finish");
    }
    for i in 0..started.len() {
        let claim = store
            .claim_grading("replica-0", LONG)
            .await
            .expect("claim grading")
            .expect("a cell to grade");
        let outcome = match i {
            0 => CellOutcome::Failed("no submission".into()),
            _ => CellOutcome::Graded(CellGrade {
                submitted: true,
                valid: true,
                problem: None,
                score: Some(0.1 * i as f64),
                above_median: Some(true),
                medal: None,
            }),
        };
        store.finish_cell(&claim, outcome).await.expect("grade");
    }
    let cancelled = store
        .create_sweep(new_sweep("cancelled"))
        .await
        .expect("sweep");
    store
        .stop_sweep(cancelled.id, SweepStatus::Cancelled, "cancelled by bench")
        .await
        .expect("cancel sweep");
    store
        .create_sweep(new_sweep("queued"))
        .await
        .expect("sweep");
    first.id
}

/// Fills `store` as described above; returns how long it took.
async fn seed(backend: &'static str, store: &Arc<AnyStore>, workers: usize) -> Duration {
    let progress = Arc::new(Progress {
        backend,
        started: Instant::now(),
        runs: AtomicU32::new(0),
    });
    let sweep = seed_sweeps(store).await;
    let sweep_runs = CELLS_AT_ONCE;
    progress.add(sweep_runs);

    // Claimed and finished, completed and failed spread evenly.
    let completed = target(RunStatus::Completed) - sweep_runs;
    let failed = target(RunStatus::Failed);
    let finished = completed + failed;
    let (s, p) = (store.clone(), progress.clone());
    fan_out(workers, finished, move |i| {
        let (store, progress) = (s.clone(), p.clone());
        async move {
            store.create_run(new_run(i)).await.expect("create");
            let lease = claim(&store, "replica-0", LONG).await;
            let failed_here = (i + 1) * failed / finished > i * failed / finished;
            let (status, reason) = match failed_here {
                true => (RunStatus::Failed, "engine failed 3 times"),
                false => (RunStatus::Completed, "steps done"),
            };
            store
                .finish_run(&lease, status, reason)
                .await
                .expect("finish");
            progress.add(1);
        }
    })
    .await;

    // Cancelled while queued: nobody claims meanwhile.
    let (s, p) = (store.clone(), progress.clone());
    fan_out(workers, target(RunStatus::Cancelled), move |i| {
        let (store, progress) = (s.clone(), p.clone());
        async move {
            let run = store
                .create_run(new_run(finished + i))
                .await
                .expect("create");
            store.request_cancel(run.id).await.expect("cancel");
            progress.add(1);
        }
    })
    .await;

    // Held by three replicas' live leases.
    let (s, p) = (store.clone(), progress.clone());
    let base = finished + target(RunStatus::Cancelled);
    fan_out(workers, target(RunStatus::Running), move |i| {
        let (store, progress) = (s.clone(), p.clone());
        async move {
            store.create_run(new_run(base + i)).await.expect("create");
            claim(&store, &format!("replica-{}", i % 3), LONG).await;
            progress.add(1);
        }
    })
    .await;

    // Queued: the last sweep cells' runs and the rest.
    let (s, p) = (store.clone(), progress.clone());
    let base = base + target(RunStatus::Running);
    fan_out(workers, target(RunStatus::Queued) - sweep_runs, move |i| {
        let (store, progress) = (s.clone(), p.clone());
        async move {
            store.create_run(new_run(base + i)).await.expect("create");
            progress.add(1);
        }
    })
    .await;
    let started = store
        .start_cells(sweep, CELLS_AT_ONCE)
        .await
        .expect("start cells");
    progress.add(started.len() as u32);
    progress.started.elapsed()
}

/// Registers the runners and heartbeats them every `HEARTBEAT` until `stop`.
async fn runners(store: &Arc<AnyStore>, stop: &CancellationToken) -> tokio::task::JoinHandle<()> {
    let load = |i: u32| {
        let running = i % (RUNNER_SLOTS + 1);
        RunnerLoad {
            free_slots: RUNNER_SLOTS - running,
            running,
            cpu_load: f64::from(running) / f64::from(RUNNER_SLOTS),
            memory_load: 0.3,
            cache_bytes: Some(u64::from(i) << 30),
        }
    };
    for i in 0..LIVE_RUNNERS {
        store
            .register_runner(RunnerInfo {
                id: format!("runner-{i}"),
                address: format!("http://10.0.0.{}:50061", i + 10),
                slots: RUNNER_SLOTS,
                labels: serde_json::json!({ "backend": "process" }),
            })
            .await
            .expect("register runner");
        store
            .heartbeat_runner(&format!("runner-{i}"), load(i))
            .await
            .expect("heartbeat");
    }
    let (store, stop) = (store.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(HEARTBEAT) => {}
            }
            for i in 0..LIVE_RUNNERS {
                store
                    .heartbeat_runner(&format!("runner-{i}"), load(i))
                    .await
                    .expect("heartbeat");
            }
        }
    })
}

/// `WARM_UP` untimed calls of `once`, then `SCRAPES` timed: the sorted times and the size
/// of the last answer.
async fn time<F, Fut>(mut once: F) -> (Vec<Duration>, usize)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = usize>,
{
    for _ in 0..WARM_UP {
        once().await;
    }
    let mut samples = Vec::with_capacity(SCRAPES);
    let mut bytes = 0;
    for _ in 0..SCRAPES {
        let started = Instant::now();
        bytes = once().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    (samples, bytes)
}

fn row(what: &str, samples: &[Duration], bytes: Option<usize>) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what:<44} {:>8.2} {:>8.2} {:>8.2} {:>8}",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
        bytes.map_or_else(|| "-".to_owned(), |b| b.to_string()),
    );
}

/// Checks that a scrape sees what was seeded.
fn check(metrics: &Metrics) {
    for (status, n) in MIX {
        let seen = metrics.get(&RUNS, &[("status", status.as_str())]);
        assert_eq!(seen, f64::from(n), "runs {}", status.as_str());
    }
    assert_eq!(metrics.get(&RUNNERS, &[]), f64::from(LIVE_RUNNERS));
    let per_sweep = SWEEP_TASKS as u32 * SWEEP_SEEDS as u32;
    let open = CELLS_AT_ONCE;
    for (state, n) in [
        (CellStatus::Queued, 2 * per_sweep - 2 * open),
        (CellStatus::Running, open),
        (CellStatus::Grading, 0),
        (CellStatus::Graded, open - 1),
        (CellStatus::Failed, 1),
        (CellStatus::Cancelled, per_sweep),
    ] {
        let seen = metrics.get(&SWEEP_CELLS, &[("state", state.as_str())]);
        assert_eq!(seen, f64::from(n), "cells {state}");
    }
}

/// Times the scrapes (and the store reads they make) and prints their table under `title`.
async fn report(title: &str, metrics: &Metrics, store: &AnyStore, address: SocketAddr) {
    let (m, s) = (metrics, store);
    let (rendered, rendered_bytes) =
        time(|| async move { m.collect_and_render().await.len() }).await;
    check(metrics);
    let (scraped, scraped_bytes) =
        time(|| async move { aide_telemetry::scrape(address).await.expect("scrape").len() }).await;
    check(metrics);
    let (count_runs, _) = time(|| async move {
        s.count_runs().await.expect("count runs");
        0
    })
    .await;
    let (count_cells, _) = time(|| async move {
        s.count_all_cells().await.expect("count cells");
        0
    })
    .await;
    let (live, _) = time(|| async move {
        let live = s
            .live_runners(HEARTBEAT * STALE_INTERVALS)
            .await
            .expect("live runners");
        assert_eq!(live.len(), LIVE_RUNNERS as usize);
        0
    })
    .await;

    println!();
    println!("{title}; {SCRAPES} scrapes after {WARM_UP} warm-up — `{COMMAND}`");
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>8}",
        "", "p50 ms", "p99 ms", "max ms", "bytes"
    );
    row(
        "collect_and_render (in-process)",
        &rendered,
        Some(rendered_bytes),
    );
    row(
        "GET /metrics over loopback (scrape)",
        &scraped,
        Some(scraped_bytes),
    );
    row("  of which store.count_runs()", &count_runs, None);
    row("  of which store.count_all_cells()", &count_cells, None);
    row("  of which store.live_runners()", &live, None);
}

/// Seeds `store` and reports its scrapes; on Postgres (`postgres_url`), again after
/// `VACUUM ANALYZE`, as autovacuum leaves a table some time after a burst of writes.
async fn measure(
    backend: &'static str,
    store: Arc<AnyStore>,
    workers: usize,
    postgres_url: Option<&str>,
) {
    let seeded = seed(backend, &store, workers).await;
    let stop = CancellationToken::new();
    let heartbeats = runners(&store, &stop).await;
    // As the coordinator's server sets it up.
    let metrics = Metrics::new();
    aide_coordinator::metrics::declare(&metrics);
    metrics.register(Arc::new(CoordinatorCollector {
        store: store.clone(),
        queue: Arc::new(SlotQueue::default()),
        stale_after: HEARTBEAT * STALE_INTERVALS,
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address: SocketAddr = listener.local_addr().expect("address");
    let served = tokio::spawn(aide_telemetry::serve_metrics(
        listener,
        metrics.clone(),
        axum::Router::new(),
        stop.clone(),
    ));

    let what = format!(
        "{backend}: {} runs, {} sweep cells, {LIVE_RUNNERS} live runners",
        total_runs(),
        3 * SWEEP_TASKS * SWEEP_SEEDS as usize,
    );
    let title = format!("{what}, just seeded ({:.1} s)", seeded.as_secs_f64());
    report(&title, &metrics, &store, address).await;
    if let Some(url) = postgres_url {
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(url)
            .await
            .expect("connect");
        sqlx::raw_sql("VACUUM ANALYZE")
            .execute(&mut connection)
            .await
            .expect("vacuum");
        let title = format!("{what}, after VACUUM ANALYZE");
        report(&title, &metrics, &store, address).await;
    }

    stop.cancel();
    heartbeats.await.expect("heartbeats");
    served.await.expect("server").expect("serve metrics");
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!("coordinator metrics scrape cost — `{COMMAND}`");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("metrics.db").display());
    let sqlite = aide_store::connect(&url).await.expect("sqlite store");
    // One writer at a time: SQLite serialises them anyway.
    measure("SQLite", Arc::new(sqlite), 1, None).await;
    let Some(database) = aide_testkit::TestDatabase::create("aide_bench_metrics").await else {
        return;
    };
    let postgres = aide_store::connect(database.url())
        .await
        .expect("postgres store");
    measure("Postgres", Arc::new(postgres), 4, Some(database.url())).await;
}
