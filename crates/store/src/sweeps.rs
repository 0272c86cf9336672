//! The values of the sweep store ([`SweepStore`](crate::SweepStore)): a new sweep, a stored
//! sweep with its cell counts, a cell, a grading claim and the outcome a grading records.

use crate::types::NewRun;
use aide_core::RunId;
use aide_core::access::ProjectName;
use aide_core::grade::cell::CellGrade;
use aide_core::sweep::definition::{CellKey, SweepBudget};
use aide_core::sweep::{CellStatus, SweepDefinition, SweepId, SweepStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A sweep to create: every cell of its definition starts queued.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSweep {
    /// The project the sweep (and every cell's run) belongs to; it must exist.
    pub project: ProjectName,
    pub name: String,
    pub definition: SweepDefinition,
    /// `cells_at_once` is required (the caller applies its default).
    pub budget: SweepBudget,
}

/// A stored sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    pub id: SweepId,
    pub project: ProjectName,
    pub name: String,
    pub definition: SweepDefinition,
    pub status: SweepStatus,
    /// Why it stopped (a budget, a cancel), while it is stopped or cancelled.
    pub stop_reason: Option<String>,
    pub budget: SweepBudget,
    pub cells: CellCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// How many cells are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellCounts {
    pub queued: u64,
    pub running: u64,
    pub grading: u64,
    pub graded: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl CellCounts {
    pub(crate) fn add(&mut self, status: CellStatus, n: u64) {
        let slot = match status {
            CellStatus::Queued => &mut self.queued,
            CellStatus::Running => &mut self.running,
            CellStatus::Grading => &mut self.grading,
            CellStatus::Graded => &mut self.graded,
            CellStatus::Failed => &mut self.failed,
            CellStatus::Cancelled => &mut self.cancelled,
        };
        *slot += n;
    }

    /// Each state with its count.
    pub fn by_status(&self) -> [(CellStatus, u64); 6] {
        [
            (CellStatus::Queued, self.queued),
            (CellStatus::Running, self.running),
            (CellStatus::Grading, self.grading),
            (CellStatus::Graded, self.graded),
            (CellStatus::Failed, self.failed),
            (CellStatus::Cancelled, self.cancelled),
        ]
    }

    pub fn total(&self) -> u64 {
        self.queued + self.running + self.grading + self.graded + self.failed + self.cancelled
    }

    /// Cells that have their outcome.
    pub fn finished(&self) -> u64 {
        self.graded + self.failed + self.cancelled
    }
}

/// A stored cell, with what its current (or last) run cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub sweep_id: SweepId,
    /// The cell's number within the sweep.
    pub index: u32,
    pub key: CellKey,
    pub status: CellStatus,
    /// The cell's run, once started (cleared when the cell is queued again).
    pub run_id: Option<RunId>,
    /// Runs started for the cell so far.
    pub attempts: u32,
    pub grade: Option<CellGrade>,
    /// Why the cell failed.
    pub cause: Option<String>,
    /// Model spending of the cell's current run.
    pub cost_usd: f64,
    /// When the current run was created and finished.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl CellRecord {
    /// Wall time of the cell's run, once it finished.
    pub fn wall_secs(&self) -> Option<f64> {
        let (start, end) = (self.started_at?, self.finished_at?);
        Some((end - start).num_milliseconds().max(0) as f64 / 1000.0)
    }
}

/// A cell whose run ended, taken for grading by one owner; its outcome is recorded only
/// with this claim's epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct GradingClaim {
    pub sweep_id: SweepId,
    pub index: u32,
    pub key: CellKey,
    pub run_id: RunId,
    pub owner: String,
    pub epoch: u32,
}

/// What grading a cell came to.
#[derive(Debug, Clone, PartialEq)]
pub enum CellOutcome {
    Graded(CellGrade),
    Failed(String),
}

impl CellOutcome {
    pub(crate) fn status(&self) -> CellStatus {
        match self {
            Self::Graded(_) => CellStatus::Graded,
            Self::Failed(_) => CellStatus::Failed,
        }
    }
}

/// The run a cell of `sweep` starts: named `<sweep>/<task>/<arm>/seed-<n>`, with the task,
/// the arm's settings and the cell's seed.
pub(crate) fn cell_run(sweep: &SweepRecord, key: CellKey) -> crate::Result<NewRun> {
    let definition = &sweep.definition;
    let missing = || crate::Error::corrupt(format!("sweep {} has no cell {key:?}", sweep.id));
    let task = definition.task(key).ok_or_else(missing)?;
    let arm = definition.arm(key).ok_or_else(missing)?;
    let settings = definition.settings(key).ok_or_else(missing)?;
    Ok(NewRun {
        project: sweep.project.clone(),
        name: format!(
            "{}/{}/{}/seed-{}",
            sweep.name, task.name, arm.name, key.seed
        ),
        direction: task.task.metric.resolved_direction(),
        task: task.task.clone(),
        settings,
        seed: key.seed,
        fork_of: None,
    })
}

/// The cells of a definition as the JSON array of `[task, arm, seed]` the insert reads.
pub(crate) fn cells_json(definition: &SweepDefinition) -> serde_json::Value {
    definition
        .cells()
        .into_iter()
        .map(|c| serde_json::json!([c.task, c.arm, c.seed as i64]))
        .collect()
}

/// The budget's wall clock as the `bigint` column holds it.
pub(crate) fn wall_clock_db(budget: &SweepBudget) -> crate::Result<Option<i64>> {
    budget
        .wall_clock_secs
        .map(|s| {
            i64::try_from(s).map_err(|_| {
                crate::Error::InvalidArgument("wall_clock_secs is out of range".into())
            })
        })
        .transpose()
}

/// The budget's cells at once, required in a stored sweep.
pub(crate) fn cells_at_once_db(budget: &SweepBudget) -> crate::Result<i32> {
    budget
        .cells_at_once
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| crate::Error::InvalidArgument("cells_at_once: 1 or more".into()))
}

/// The grade and cause columns of an outcome.
pub(crate) fn outcome_columns(
    outcome: &CellOutcome,
) -> crate::Result<(Option<serde_json::Value>, Option<String>)> {
    Ok(match outcome {
        CellOutcome::Graded(grade) => (Some(crate::types::to_json(grade, "grade")?), None),
        CellOutcome::Failed(cause) => (None, Some(cause.clone())),
    })
}

impl SweepRecord {
    /// Why a stop of this sweep, which is not running, was refused.
    pub(crate) fn not_running(&self) -> crate::Error {
        crate::Error::InvalidState(format!("sweep {} is already {}", self.id, self.status))
    }

    /// Why a resume of this sweep was refused.
    pub(crate) fn not_resumable(&self) -> crate::Error {
        crate::Error::InvalidState(format!(
            "sweep {} is {}: only a stopped, cancelled or running sweep can be resumed \
             (retry its failed cells instead)",
            self.id, self.status
        ))
    }
}

impl GradingClaim {
    /// The error of an outcome recorded under a claim another owner took over.
    pub(crate) fn lost(&self) -> crate::Error {
        crate::Error::InvalidState(format!(
            "the grading claim {} of cell {} of sweep {} was taken over",
            self.epoch, self.index, self.sweep_id
        ))
    }
}
