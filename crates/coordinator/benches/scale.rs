//! Benchmark (not a test): how many runs one coordinator engine drives — the scale mode of
//! issue 14. One engine (the real run loop, a real store on Postgres) drives 1, 50 and 500
//! runs at once with an instant author and an instant executor (`tests/it/scale_harness.rs`),
//! so all the time measured is orchestration. For each size it prints nodes per second, p50
//! and p99 orchestration time per node, store calls per node (a counting wrapper around the
//! engine's store) and SQL statements per node (sqlx's statement log, `BEGIN`/`COMMIT`
//! included) and Postgres transactions per node (`pg_stat_database` of the size's own
//! database, read with its pools closed, less what opening a store costs: each commit waits
//! for a WAL flush, the cost that dominates on a small machine), then the store calls per
//! node by method. Every run is claimed before the clock starts, so all of them are in
//! flight at once.
//!
//! Each size gets a fresh database on the server at `AIDE_TEST_POSTGRES_URL` (fails when it
//! is unreachable under CI, skips loudly otherwise). Scaled by environment variables:
//! `BENCH_RUNS` (comma-separated sizes, default `1,50,500`), `BENCH_STEPS` (nodes per run,
//! default 20), `BENCH_OUTPUTS` (`0` leaves the run outputs out; default on, in a temporary
//! directory, as `aide run` writes them).
//!
//! `cargo bench -p aide-coordinator --bench scale`

#[path = "../tests/it/scale_harness.rs"]
mod scale_harness;

use scale_harness::{
    Scale, ScaleReport, StatementCounter, bad_trees, measure, scale_task, seed, transactions,
};
use tracing_subscriber::layer::SubscriberExt;

const COMMAND: &str = "cargo bench -p aide-coordinator --bench scale";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

fn sizes() -> Vec<u32> {
    std::env::var("BENCH_RUNS")
        .unwrap_or_else(|_| "1,50,500".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("BENCH_RUNS: {s} is not a number"))
        })
        .collect()
}

async fn one(scale: Scale, statements: &StatementCounter) -> Option<ScaleReport> {
    let database = aide_testkit::TestDatabase::create("aide_bench_scale").await?;
    let (url, admin, name) = (
        database.url(),
        aide_testkit::postgres::admin_url(),
        database.name(),
    );
    let connect = || async { aide_store::connect(url).await.expect("postgres store") };
    let store = connect().await;
    let data = tempfile::tempdir().expect("task dir");
    seed(&store, &scale_task(data.path()), scale).await;
    store.close().await;
    // What opening a store costs (its migration check), to leave it out.
    let seeded = transactions(&admin, name).await;
    connect().await.close().await;
    let opened = transactions(&admin, name).await;
    let store = connect().await;
    let outputs = tempfile::tempdir().expect("outputs dir");
    let mut report = measure(
        store.clone(),
        scale,
        statements,
        scale.outputs.then_some(outputs.path()),
    )
    .await;
    store.close().await;
    let driven = transactions(&admin, name).await;
    report.transactions = Some(driven - opened - (opened - seeded));
    let store = connect().await;
    let bad = bad_trees(&store, report.scale.steps).await;
    store.close().await;
    assert!(
        report.not_completed.is_empty() && bad.is_empty(),
        "runs that did not complete: {:?}; wrong trees: {bad:?}",
        report.not_completed,
    );
    Some(report)
}

#[tokio::main]
async fn main() {
    let statements = StatementCounter::default();
    let subscriber = tracing_subscriber::registry().with(statements.layer());
    tracing::subscriber::set_global_default(subscriber).expect("the statement counter");
    let steps = env_or("BENCH_STEPS", 20);
    let outputs = env_or("BENCH_OUTPUTS", 1) != 0;
    println!(
        "scale mode: one engine over Postgres, instant author and executor, {steps} steps per \
         run, outputs {} — `{COMMAND}`",
        if outputs { "on" } else { "off" }
    );
    let mut reports = Vec::new();
    for runs in sizes() {
        let scale = Scale {
            runs,
            steps,
            outputs,
        };
        let Some(report) = one(scale, &statements).await else {
            return;
        };
        println!("{}", report.line());
        reports.push(report);
    }
    println!();
    println!("store calls per node, by method:");
    for report in &reports {
        println!(
            "{:>5} runs: {}",
            report.scale.runs,
            report.calls_by_method()
        );
    }
}
