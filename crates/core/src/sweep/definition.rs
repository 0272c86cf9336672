//! A sweep as the store keeps it and the coordinator runs it: its tasks (each a loaded task
//! with what grading needs), its arms and its seeds, the budget, and the lifecycle states of
//! the sweep and of its cells. A cell is a (task, arm, seed) triple of indices into the
//! definition.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::spec::Budget;
use crate::settings::RunSettings;
use crate::task::Task;

/// A sweep's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SweepId(pub Uuid);

impl SweepId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for SweepId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SweepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SweepId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim()).map(Self)
    }
}

/// What a sweep runs: every task × arm × seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepDefinition {
    pub tasks: Vec<SweepTask>,
    pub arms: Vec<SweepArm>,
    pub seeds: Vec<u64>,
}

/// One task of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepTask {
    /// The task's name in reports (unique within the sweep).
    pub name: String,
    pub task: Task,
    /// The leaderboard's scores, best first, when the task has one.
    pub leaderboard: Option<Vec<f64>>,
    /// The task's own grading command, instead of the built-in metric.
    pub grader: Option<Grader>,
}

/// A grading command: Python source run in a sandbox of its own, with no network, its
/// `./input` holding the held-back answers and the submission. It writes
/// `./working/grade.json`: `{"score": <number>}`, or `{"valid": false, "problem": "..."}`
/// for a submission it refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grader {
    pub code: String,
    pub timeout_secs: u64,
}

/// The file a grading command writes in `./working`.
pub const GRADE_FILE: &str = "grade.json";

/// The largest grading script a sweep takes, in bytes.
pub const MAX_GRADER_BYTES: usize = 1 << 20;

/// The most teams a leaderboard may list.
pub const MAX_LEADERBOARD_TEAMS: usize = 100_000;

/// One arm: its name and settings (the cell's seed replaces `settings.seed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepArm {
    pub name: String,
    pub settings: RunSettings,
}

/// One cell's place in its sweep's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellKey {
    pub task: u32,
    pub arm: u32,
    pub seed: u64,
}

impl SweepDefinition {
    /// Every cell, seed by seed (so that every task and arm gets its first seed early),
    /// then task, then arm.
    pub fn cells(&self) -> Vec<CellKey> {
        let mut cells = Vec::new();
        for &seed in &self.seeds {
            for task in 0..self.tasks.len() {
                for arm in 0..self.arms.len() {
                    cells.push(CellKey {
                        task: u32::try_from(task).unwrap_or(u32::MAX),
                        arm: u32::try_from(arm).unwrap_or(u32::MAX),
                        seed,
                    });
                }
            }
        }
        cells
    }

    /// The task of a cell.
    pub fn task(&self, key: CellKey) -> Option<&SweepTask> {
        self.tasks.get(usize::try_from(key.task).ok()?)
    }

    /// The arm of a cell.
    pub fn arm(&self, key: CellKey) -> Option<&SweepArm> {
        self.arms.get(usize::try_from(key.arm).ok()?)
    }

    /// The settings a cell's run gets: its arm's, with its seed.
    pub fn settings(&self, key: CellKey) -> Option<RunSettings> {
        let mut settings = self.arm(key)?.settings.clone();
        settings.seed = key.seed;
        Some(settings)
    }
}

/// What a sweep may use; `cells_at_once` is always set in a stored sweep.
pub type SweepBudget = Budget;

/// Cells at once when the spec does not say.
pub const DEFAULT_CELLS_AT_ONCE: u32 = 4;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }
    };
}

text_enum! {
    /// Lifecycle of a sweep.
    SweepStatus {
        /// Cells are started as the budget allows.
        Running = "running",
        /// A budget was reached; resumable with a bigger one.
        Stopped = "stopped",
        /// Cancelled on request; resumable.
        Cancelled = "cancelled",
        /// Every cell was graded or failed.
        Completed = "completed",
    }
}

text_enum! {
    /// Lifecycle of a cell.
    CellStatus {
        /// Waiting for its run to be started.
        Queued = "queued",
        /// Its run is queued or searching.
        Running = "running",
        /// Its run ended and a coordinator grades it.
        Grading = "grading",
        /// Graded (a missing or invalid submission is a grade too).
        Graded = "graded",
        /// Its run failed, or grading could not finish; see the cause.
        Failed = "failed",
        /// The sweep was cancelled before the cell finished.
        Cancelled = "cancelled",
    }
}

impl CellStatus {
    /// True once the cell has its outcome.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Graded | Self::Failed | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_text() {
        for status in [
            CellStatus::Queued,
            CellStatus::Running,
            CellStatus::Grading,
            CellStatus::Graded,
            CellStatus::Failed,
            CellStatus::Cancelled,
        ] {
            assert_eq!(status.as_str().parse::<CellStatus>(), Ok(status));
        }
        assert!("done".parse::<SweepStatus>().is_err());
    }
}
