//! Conformance: sweeps and their cells — starting cells within the budget, grading claims
//! fenced by their epoch, stop, resume, retry and completion, and replicas racing to start
//! cells.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aide_core::grade::cell::CellGrade;
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{CellStatus, SweepStatus};
use aide_core::{LlmPurpose, RunStatus};
use aide_store::prelude::*;
use aide_store::{CellOutcome, Error, NewSweep, SweepRecord};

use super::{Harness, LONG};
use crate::assert_err;

fn new_sweep(tasks: usize, seeds: u64, at_once: u32) -> NewSweep {
    let budget = SweepBudget {
        cost_usd: Some(5.0),
        wall_clock_secs: Some(3600),
        cells_at_once: Some(at_once),
    };
    aide_testkit::fixtures::sample_sweep("bench", tasks, seeds, budget)
}

fn graded(score: f64) -> CellOutcome {
    CellOutcome::Graded(CellGrade {
        submitted: true,
        valid: true,
        problem: None,
        score: Some(score),
        above_median: Some(true),
        medal: None,
    })
}

/// Claims the run `run_id` (the only claimable one) and ends it with `status`.
async fn end_run<S: Store>(store: &S, status: RunStatus) -> aide_core::RunId {
    let lease = store
        .claim_run("replica-a", LONG)
        .await
        .expect("claim")
        .expect("a claimable run");
    store
        .finish_run(&lease, status, "done")
        .await
        .expect("finish run");
    lease.run_id
}

async fn statuses<S: Store>(store: &S, sweep: &SweepRecord) -> Vec<CellStatus> {
    let cells = store.list_cells(sweep.id).await.expect("cells");
    cells.iter().map(|c| c.status).collect()
}

pub async fn sweep_lifecycle<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let sweep = store
        .create_sweep(new_sweep(2, 2, 1))
        .await
        .expect("create");
    assert_eq!(
        (sweep.status, sweep.cells.queued),
        (SweepStatus::Running, 4)
    );
    assert_eq!(
        store.running_sweeps().await.expect("running"),
        vec![sweep.id]
    );

    // No room (no slot anywhere): nothing starts.
    assert!(
        store
            .start_cells(sweep.id, 0)
            .await
            .expect("start")
            .is_empty()
    );
    // One cell at once: one run, and no second while it is open.
    let started = store.start_cells(sweep.id, u32::MAX).await.expect("start");
    let all = store.count_all_cells().await.expect("count cells");
    assert_eq!((all.queued, all.running, all.total()), (3, 1, 4));
    assert_eq!(started.len(), 1);
    assert!(
        store
            .start_cells(sweep.id, u32::MAX)
            .await
            .expect("start")
            .is_empty()
    );
    let run = store.get_run(started[0]).await.expect("run");
    assert_eq!(run.sweep_id, Some(sweep.id));
    assert_eq!(run.name, "bench/task-0/default/seed-0");
    assert_eq!(run.seed, 0);

    // Nothing to grade until the run ends; then one claim, fenced by its epoch.
    assert!(
        store
            .claim_grading("a", LONG)
            .await
            .expect("claim")
            .is_none()
    );
    store
        .record_llm_call(super::ledger::call(run.id, LlmPurpose::Code, 10, 0.75))
        .await
        .expect("ledger");
    assert_eq!(end_run(&store, RunStatus::Completed).await, run.id);
    let claim = store
        .claim_grading("a", Duration::ZERO)
        .await
        .expect("claim")
        .expect("a cell to grade");
    assert_eq!((claim.run_id, claim.index), (run.id, 0));
    tokio::time::sleep(Duration::from_millis(20)).await;
    // An expired claim is taken over; the first owner's outcome is refused.
    let again = store
        .claim_grading("b", LONG)
        .await
        .expect("claim")
        .expect("the expired claim");
    assert_eq!(again.epoch, claim.epoch + 1);
    assert_err!(
        store.finish_cell(&claim, graded(0.5)).await,
        Error::InvalidState(_)
    );
    store
        .finish_cell(&again, graded(0.5))
        .await
        .expect("finish");
    assert_err!(
        store.finish_cell(&again, graded(0.6)).await,
        Error::InvalidState(_)
    );
    let cells = store.list_cells(sweep.id).await.expect("cells");
    assert_eq!(cells[0].grade.as_ref().and_then(|g| g.score), Some(0.5));
    assert!((cells[0].cost_usd - 0.75).abs() < 1e-9);
    assert!(cells[0].wall_secs().is_some());
    assert!((store.sweep_cost(sweep.id).await.expect("cost") - 0.75).abs() < 1e-9);

    // The next cell's run fails: the cell fails with the cause.
    store.start_cells(sweep.id, u32::MAX).await.expect("start");
    end_run(&store, RunStatus::Failed).await;
    let claim = store
        .claim_grading("a", LONG)
        .await
        .expect("claim")
        .expect("failed cell");
    store
        .finish_cell(&claim, CellOutcome::Failed("the run failed: done".into()))
        .await
        .expect("finish");

    // A budget stop cancels the running cell with its run; a resume queues it again.
    let started = store.start_cells(sweep.id, u32::MAX).await.expect("start");
    let stopped = store
        .stop_sweep(sweep.id, SweepStatus::Stopped, "cost budget reached")
        .await
        .expect("stop");
    assert_eq!(stopped.status, SweepStatus::Stopped);
    assert_eq!(stopped.stop_reason.as_deref(), Some("cost budget reached"));
    assert_eq!(
        store.get_run(started[0]).await.expect("run").status,
        RunStatus::Cancelled
    );
    assert!(
        store
            .start_cells(sweep.id, u32::MAX)
            .await
            .expect("start")
            .is_empty()
    );
    assert_err!(
        store
            .stop_sweep(sweep.id, SweepStatus::Cancelled, "again")
            .await,
        Error::InvalidState(_)
    );
    assert_eq!(
        statuses(&store, &sweep).await,
        [
            CellStatus::Graded,
            CellStatus::Failed,
            CellStatus::Cancelled,
            CellStatus::Queued
        ]
    );
    let budget = SweepBudget {
        cells_at_once: Some(2),
        ..stopped.budget
    };
    let resumed = store.resume_sweep(sweep.id, budget).await.expect("resume");
    assert_eq!(
        (resumed.status, resumed.cells.queued),
        (SweepStatus::Running, 2)
    );
    assert_eq!(resumed.budget.cells_at_once, Some(2));
    assert_eq!(
        store
            .start_cells(sweep.id, u32::MAX)
            .await
            .expect("start")
            .len(),
        2
    );
    for _ in 0..2 {
        end_run(&store, RunStatus::Completed).await;
        let claim = store
            .claim_grading("a", LONG)
            .await
            .expect("claim")
            .expect("cell");
        assert!(!store.complete_sweep(sweep.id).await.expect("complete"));
        store
            .finish_cell(&claim, graded(0.1))
            .await
            .expect("finish");
    }
    // Every cell has its outcome: complete; a retry of the failed one reopens it.
    assert!(store.complete_sweep(sweep.id).await.expect("complete"));
    let done = store.get_sweep(sweep.id).await.expect("get");
    assert_eq!(done.status, SweepStatus::Completed);
    assert_eq!((done.cells.graded, done.cells.failed), (3, 1));
    assert_eq!(store.retry_failed_cells(sweep.id).await.expect("retry"), 1);
    let reopened = store.get_sweep(sweep.id).await.expect("get");
    assert_eq!(
        (reopened.status, reopened.cells.queued),
        (SweepStatus::Running, 1)
    );
    let cells = store.list_cells(sweep.id).await.expect("cells");
    assert_eq!((cells[1].run_id, cells[1].attempts), (None, 1));

    // Cancel cancels the queued cells too; listing shows the sweep.
    let cancelled = store
        .stop_sweep(sweep.id, SweepStatus::Cancelled, "cancelled by a user")
        .await
        .expect("cancel");
    assert_eq!(cancelled.cells.cancelled, 1);
    let listed = store.list_sweeps(None, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].definition.tasks.len(), 2);
    assert_err!(
        store.get_sweep(aide_core::sweep::SweepId::new()).await,
        Error::NotFound { .. }
    );
    let mut missing = new_sweep(1, 1, 1);
    missing.project = "nobody".parse().expect("name");
    assert_err!(store.create_sweep(missing).await, Error::NotFound { .. });
}

pub async fn replicas_start_each_cell_once<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let sweep = store
        .create_sweep(new_sweep(5, 4, 7))
        .await
        .expect("create");
    let mut replicas = Vec::new();
    for _ in 0..4 {
        let store = h.open().await;
        let id = sweep.id;
        replicas.push(tokio::spawn(async move {
            let mut runs = Vec::new();
            for _ in 0..5 {
                runs.extend(store.start_cells(id, u32::MAX).await.expect("start"));
            }
            runs
        }));
    }
    let mut runs = BTreeSet::new();
    for replica in replicas {
        for run in replica.await.expect("replica") {
            assert!(runs.insert(run), "a run was started twice");
        }
    }
    assert_eq!(runs.len(), 7, "exactly cells_at_once runs start");
    let cells = store.list_cells(sweep.id).await.expect("cells");
    let with_runs: BTreeSet<_> = cells.iter().filter_map(|c| c.run_id).collect();
    assert_eq!(with_runs, runs);
    assert_eq!(
        cells.iter().map(|c| c.index).collect::<Vec<_>>(),
        (0..20).collect::<Vec<u32>>()
    );
}
