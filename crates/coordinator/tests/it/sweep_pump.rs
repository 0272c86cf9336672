//! The sweep pump of one replica over a real SQLite store: it starts cells within
//! `cells_at_once` and the live runners' slots, stops a sweep when its spending reaches the cost budget or its wall clock
//! runs out (the running cells cancelled with their runs), and a resumed sweep runs the
//! cancelled cells again.

use std::sync::Arc;
use std::time::Duration;

use aide_coordinator::blobs::BlobStore;
use aide_coordinator::engine::{Executed, Executor, PortError, ScriptRun};
use aide_coordinator::sweeps::{PumpConfig, SweepPump};
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{CellStatus, SweepArm, SweepDefinition, SweepStatus, SweepTask};
use aide_core::{LlmPurpose, RunSettings, RunStatus};
use aide_store::prelude::*;
use aide_store::{AnyStore, CallUsage, NewLlmCall, NewSweep, RunnerInfo};

use crate::api_support::house_prices_task;

/// Grading commands are not part of these sweeps.
#[derive(Debug)]
struct NoExecutions;

impl Executor for NoExecutions {
    async fn execute(&self, _: ScriptRun) -> Result<Executed, PortError> {
        Err(PortError::request("no executions here"))
    }
}

fn new_sweep(seeds: u64, budget: SweepBudget) -> NewSweep {
    NewSweep {
        project: aide_core::access::ProjectName::default_project(),
        name: "budgeted".into(),
        definition: SweepDefinition {
            tasks: vec![SweepTask {
                name: "house-prices".into(),
                task: house_prices_task(),
                leaderboard: None,
                grader: None,
            }],
            arms: vec![SweepArm {
                name: "default".into(),
                settings: RunSettings::default(),
            }],
            seeds: (0..seeds).collect(),
        },
        budget,
    }
}

async fn statuses(store: &AnyStore, sweep: aide_core::sweep::SweepId) -> Vec<CellStatus> {
    let cells = store.list_cells(sweep).await.expect("cells");
    cells.iter().map(|c| c.status).collect()
}

#[tokio::test]
async fn the_pump_stops_a_sweep_at_its_budgets_and_a_resume_runs_the_cut_cells_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("pump.db").display());
    let store = Arc::new(aide_store::connect(&url).await.expect("store"));
    let blobs = BlobStore::from_url(None, dir.path()).expect("blobs");
    let pump = SweepPump::new(
        store.clone(),
        blobs,
        Arc::new(NoExecutions),
        PumpConfig::new("pump-test"),
    );
    // No runner, no slot: no cell starts.
    let idle = store
        .create_sweep(new_sweep(
            1,
            SweepBudget {
                cells_at_once: Some(4),
                ..SweepBudget::default()
            },
        ))
        .await
        .expect("create")
        .id;
    pump.tick().await;
    assert_eq!(statuses(&store, idle).await, [CellStatus::Queued]);
    store
        .stop_sweep(idle, SweepStatus::Cancelled, "done with it")
        .await
        .expect("cancel");
    // One runner of 3 slots: cells in progress are bounded by cells_at_once (2) too.
    store
        .register_runner(RunnerInfo {
            id: "r1".into(),
            address: "http://127.0.0.1:1".into(),
            slots: 3,
            labels: serde_json::json!({}),
        })
        .await
        .expect("register");
    let budget = SweepBudget {
        cost_usd: Some(1.0),
        wall_clock_secs: None,
        cells_at_once: Some(2),
    };
    let sweep = store
        .create_sweep(new_sweep(4, budget))
        .await
        .expect("create")
        .id;

    pump.tick().await;
    assert_eq!(
        statuses(&store, sweep).await,
        [
            CellStatus::Running,
            CellStatus::Running,
            CellStatus::Queued,
            CellStatus::Queued
        ]
    );
    let cells = store.list_cells(sweep).await.expect("cells");
    let first_run = cells[0].run_id.expect("a run");
    store
        .record_llm_call(NewLlmCall {
            run_id: first_run,
            node_id: None,
            purpose: LlmPurpose::Code,
            usage: CallUsage {
                provider: "openai".into(),
                model: "gpt-4o".into(),
                cost_usd: 1.5,
                ..CallUsage::default()
            },
            prompt: None,
        })
        .await
        .expect("ledger");

    pump.tick().await;
    let stopped = store.get_sweep(sweep).await.expect("sweep");
    assert_eq!(stopped.status, SweepStatus::Stopped);
    let reason = stopped.stop_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("cost budget of $1.00 reached ($1.50 spent)"),
        "{reason}"
    );
    assert_eq!(
        store.get_run(first_run).await.expect("run").status,
        RunStatus::Cancelled,
        "a queued run of a stopped sweep is cancelled at once"
    );
    assert_eq!((stopped.cells.cancelled, stopped.cells.queued), (2, 2));

    // A bigger budget: the cut cells are queued again and get new runs.
    let bigger = SweepBudget {
        cost_usd: Some(10.0),
        ..stopped.budget
    };
    store.resume_sweep(sweep, bigger).await.expect("resume");
    pump.tick().await;
    let cells = store.list_cells(sweep).await.expect("cells");
    assert_eq!(cells[0].status, CellStatus::Running);
    assert_eq!(cells[0].attempts, 2);
    assert_ne!(cells[0].run_id, Some(first_run));
    assert!((store.sweep_cost(sweep).await.expect("cost") - 1.5).abs() < 1e-9);

    // The wall clock counts from the sweep's creation.
    let clocked = SweepBudget {
        cost_usd: None,
        wall_clock_secs: Some(1),
        cells_at_once: Some(1),
    };
    let late = store
        .create_sweep(new_sweep(2, clocked))
        .await
        .expect("create")
        .id;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    pump.tick().await;
    let stopped = store.get_sweep(late).await.expect("sweep");
    assert_eq!(stopped.status, SweepStatus::Stopped);
    assert!(
        stopped
            .stop_reason
            .as_deref()
            .is_some_and(|r| r.contains("wall-clock budget of 1 s")),
        "{stopped:?}"
    );
    assert_eq!(stopped.cells.queued, 2, "nothing started past the budget");
}
