//! Real components for the engine tests: an aide-gateway (baseline, or a mock OpenAI
//! provider with prices) and an aide-runner with the process backend started in-process by
//! aide-testkit's `services`, a SQLite store in a temporary directory, the shared
//! house-prices task, and engines over them.
#![allow(dead_code)]

pub mod stubs;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aide_coordinator::dispatch::GrpcExecutor;
use aide_coordinator::engine::{Author, Backoff, Engine, EngineConfig, Executor, GrpcAuthor};
use aide_core::task::ReferenceTask;
use aide_core::{RunSettings, Task};
use aide_store::{AnyStore, EventStore, Lease, NewRun, RunStore};
pub use aide_testkit::house_prices_dir;
// The `it` and `trace` binaries each use a part of what is re-exported here.
#[allow(unused_imports)]
pub use aide_testkit::python::sandbox_python;
#[allow(unused_imports)]
pub use aide_testkit::services::{Service, gateway, gateway_on, refusing_address, runner};

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
            project: aide_core::access::ProjectName::default_project(),
            name: task.name.clone(),
            task,
            settings,
            direction: None,
            seed: 7,
            fork_of: None,
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
            max_service_retries: 1_000,
        },
        output_dir,
        outputs_in_place: false,
        on_event: None,
        task_files: Default::default(),
        metrics: Default::default(),
        tokens: Default::default(),
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
