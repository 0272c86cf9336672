//! Sweeps as the HTTP API shows them: the summary, the task × arm × seed matrix of cells
//! and the report's aggregates (mean ± SEM over seeds).

use aide_core::grade::Medal;
use aide_core::sweep::report::{CellResult, Report};
use aide_store::{CellRecord, SweepRecord};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A sweep and how far it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct SweepSummary {
    pub id: Uuid,
    pub name: String,
    pub project: String,
    /// running, stopped, cancelled or completed.
    pub status: String,
    pub stop_reason: Option<String>,
    pub tasks: u32,
    pub arms: u32,
    pub seeds: u32,
    pub cells: CellCountsView,
    /// What the model calls of its cells' runs cost, in US dollars.
    pub cost_usd: f64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How many cells are in each state.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellCountsView {
    pub queued: u64,
    pub running: u64,
    pub grading: u64,
    pub graded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub total: u64,
}

impl SweepSummary {
    pub fn of(sweep: &SweepRecord, cost_usd: f64) -> Self {
        let definition = &sweep.definition;
        let c = sweep.cells;
        Self {
            id: sweep.id.0,
            name: sweep.name.clone(),
            project: sweep.project.to_string(),
            status: sweep.status.to_string(),
            stop_reason: sweep.stop_reason.clone(),
            tasks: count(definition.tasks.len()),
            arms: count(definition.arms.len()),
            seeds: count(definition.seeds.len()),
            cells: CellCountsView {
                queued: c.queued,
                running: c.running,
                grading: c.grading,
                graded: c.graded,
                failed: c.failed,
                cancelled: c.cancelled,
                total: c.total(),
            },
            cost_usd,
            created_at: sweep.created_at,
            finished_at: sweep.finished_at,
        }
    }
}

/// Sweeps, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SweepList {
    pub sweeps: Vec<SweepSummary>,
}

/// One cell: a task under an arm with a seed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CellView {
    pub index: u32,
    pub task: String,
    pub arm: String,
    pub seed: u64,
    /// queued, running, grading, graded, failed or cancelled.
    pub status: String,
    pub run_id: Option<Uuid>,
    pub score: Option<f64>,
    pub valid: Option<bool>,
    pub above_median: Option<bool>,
    /// gold, silver or bronze.
    #[schema(value_type = Option<String>)]
    pub medal: Option<Medal>,
    /// Why the cell failed, or why its submission was invalid.
    pub error: Option<String>,
    pub cost_usd: f64,
    pub wall_secs: Option<f64>,
}

/// A sweep with its cells and its report.
#[derive(Debug, Serialize, ToSchema)]
pub struct SweepDetail {
    pub sweep: SweepSummary,
    pub task_names: Vec<String>,
    pub arm_names: Vec<String>,
    pub seeds: Vec<u64>,
    pub cells: Vec<CellView>,
    /// Per task and per arm: score, valid, above-median and medal rates as mean ± SEM over
    /// seeds, cost and wall time (the same report `aide bench report --format json` writes).
    #[schema(value_type = Object)]
    pub report: Report,
}

impl SweepDetail {
    pub fn of(sweep: &SweepRecord, cells: &[CellRecord]) -> Self {
        let definition = &sweep.definition;
        let views: Vec<CellView> = cells.iter().map(|c| cell_view(sweep, c)).collect();
        let results: Vec<CellResult> = cells
            .iter()
            .zip(&views)
            .map(|(cell, view)| CellResult {
                task: view.task.clone(),
                seed: view.seed,
                arm: view.arm.clone(),
                grade: cell.grade.clone(),
                cost_usd: cell.cost_usd,
                wall_secs: cell.wall_secs(),
            })
            .collect();
        let report = Report::of(&results);
        Self {
            sweep: SweepSummary::of(sweep, report.cost_usd),
            task_names: definition.tasks.iter().map(|t| t.name.clone()).collect(),
            arm_names: definition.arms.iter().map(|a| a.name.clone()).collect(),
            seeds: definition.seeds.clone(),
            cells: views,
            report,
        }
    }
}

fn cell_view(sweep: &SweepRecord, cell: &CellRecord) -> CellView {
    let definition = &sweep.definition;
    let grade = cell.grade.as_ref();
    CellView {
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
        status: cell.status.to_string(),
        run_id: cell.run_id.map(|r| r.0),
        score: grade.and_then(|g| g.score),
        valid: grade.map(|g| g.valid),
        above_median: grade.and_then(|g| g.above_median),
        medal: grade.and_then(|g| g.medal),
        error: cell
            .cause
            .clone()
            .or_else(|| grade.and_then(|g| g.problem.clone())),
        cost_usd: cell.cost_usd,
        wall_secs: cell.wall_secs(),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
