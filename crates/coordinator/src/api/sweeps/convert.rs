//! Sweeps and cells as the API shows them.

use aide_core::grade::Medal;
use aide_core::grade::cell::CellGrade;
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{CellStatus, SweepStatus};
use aide_proto::v1;
use aide_store::{CellRecord, SweepRecord};

use crate::api::convert::timestamp;

pub(super) fn sweep_to_proto(sweep: &SweepRecord, cost_usd: f64) -> v1::Sweep {
    let c = &sweep.cells;
    let definition = &sweep.definition;
    v1::Sweep {
        id: sweep.id.to_string(),
        name: sweep.name.clone(),
        project: sweep.project.to_string(),
        status: sweep_status(sweep.status) as i32,
        stop_reason: sweep.stop_reason.clone().unwrap_or_default(),
        budget: Some(budget_to_proto(&sweep.budget)),
        cells: Some(v1::CellCounts {
            queued: c.queued,
            running: c.running,
            grading: c.grading,
            graded: c.graded,
            failed: c.failed,
            cancelled: c.cancelled,
        }),
        cost_usd,
        tasks: definition.tasks.iter().map(|t| t.name.clone()).collect(),
        arms: definition.arms.iter().map(|a| a.name.clone()).collect(),
        seeds: definition.seeds.clone(),
        created_at: Some(timestamp(sweep.created_at)),
        finished_at: sweep.finished_at.map(timestamp),
    }
}

pub(super) fn budget_to_proto(budget: &SweepBudget) -> v1::SweepBudget {
    v1::SweepBudget {
        cost_usd: budget.cost_usd,
        wall_clock_secs: budget.wall_clock_secs,
        cells_at_once: budget.cells_at_once,
    }
}

pub(super) fn cell_to_proto(sweep: &SweepRecord, cell: &CellRecord) -> v1::Cell {
    let definition = &sweep.definition;
    v1::Cell {
        index: cell.index,
        task: definition
            .task(cell.key)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        arm: definition
            .arm(cell.key)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        seed: cell.key.seed,
        status: cell_status(cell.status) as i32,
        run_id: cell.run_id.map(|r| r.to_string()).unwrap_or_default(),
        attempts: cell.attempts,
        grade: cell.grade.as_ref().map(grade_to_proto),
        cause: cell.cause.clone().unwrap_or_default(),
        cost_usd: cell.cost_usd,
        wall_secs: cell.wall_secs(),
        curve: Vec::new(),
        best_metric: None,
    }
}

fn grade_to_proto(grade: &CellGrade) -> v1::CellGrade {
    v1::CellGrade {
        submitted: grade.submitted,
        valid: grade.valid,
        problem: grade.problem.clone().unwrap_or_default(),
        score: grade.score,
        above_median: grade.above_median,
        medal: match grade.medal {
            None => v1::Medal::Unspecified,
            Some(Medal::Bronze) => v1::Medal::Bronze,
            Some(Medal::Silver) => v1::Medal::Silver,
            Some(Medal::Gold) => v1::Medal::Gold,
        } as i32,
    }
}

fn sweep_status(status: SweepStatus) -> v1::SweepStatus {
    match status {
        SweepStatus::Running => v1::SweepStatus::Running,
        SweepStatus::Stopped => v1::SweepStatus::Stopped,
        SweepStatus::Cancelled => v1::SweepStatus::Cancelled,
        SweepStatus::Completed => v1::SweepStatus::Completed,
    }
}

fn cell_status(status: CellStatus) -> v1::CellStatus {
    match status {
        CellStatus::Queued => v1::CellStatus::Queued,
        CellStatus::Running => v1::CellStatus::Running,
        CellStatus::Grading => v1::CellStatus::Grading,
        CellStatus::Graded => v1::CellStatus::Graded,
        CellStatus::Failed => v1::CellStatus::Failed,
        CellStatus::Cancelled => v1::CellStatus::Cancelled,
    }
}
