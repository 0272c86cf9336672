//! The sweep spec, a TOML file:
//!
//! ```toml
//! seeds = 3                      # or a list: [0, 7, 42]
//! [settings]                     # any run setting, for every cell
//! steps = 10
//! [[tasks]]                      # task directories in any layout
//! path = "examples/diabetes"
//! leaderboard = "board.csv"      # optional (default: leaderboard.csv in the directory)
//! grader = "grade.py"            # optional grading command instead of the built-in metric
//! grader_timeout_secs = 600
//! metric = "rmse"                # optional: over the task's own metric
//! [mlebench]                     # competitions as `mlebench prepare` filled data_dir
//! data_dir = "/data/mle-bench"
//! competitions = "lite"          # a split name, a list of ids, or { file = "ids.txt" }
//! leaderboards = "mle-bench/mlebench/competitions"  # optional: <id>/leaderboard.csv
//! metrics = { "spaceship-titanic" = "accuracy" }    # the metric each competition is graded by
//! [[arms]]                       # named variants over the settings, compared cell by cell
//! name = "sonnet"
//! settings = { code = { model = "claude-sonnet-4-5" } }
//! [budget]
//! cost_usd = 50.0                # the sweep's total model spending
//! wall_clock_secs = 86400
//! cells_at_once = 8
//! ```
//!
//! Unknown keys are refused with their name and line; relative paths are relative to the
//! spec's directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::settings::RunSettings;
use crate::toml_text::{TomlError, parse};

/// MLE-bench's low-complexity split ("lite"), as its `experiments/splits/low.txt` lists it.
pub const MLEBENCH_LITE: &[&str] = &[
    "aerial-cactus-identification",
    "aptos2019-blindness-detection",
    "denoising-dirty-documents",
    "detecting-insults-in-social-commentary",
    "dog-breed-identification",
    "dogs-vs-cats-redux-kernels-edition",
    "histopathologic-cancer-detection",
    "jigsaw-toxic-comment-classification-challenge",
    "leaf-classification",
    "mlsp-2013-birds",
    "new-york-city-taxi-fare-prediction",
    "nomad2018-predict-transparent-conductors",
    "plant-pathology-2020-fgvc7",
    "random-acts-of-pizza",
    "ranzcr-clip-catheter-line-classification",
    "siim-isic-melanoma-classification",
    "spooky-author-identification",
    "tabular-playground-series-dec-2021",
    "tabular-playground-series-may-2022",
    "text-normalization-challenge-english-language",
    "text-normalization-challenge-russian-language",
    "the-icml-2013-whale-challenge-right-whale-redux",
];

/// The most cells one sweep may have.
pub const MAX_CELLS: usize = 100_000;

/// Why a spec cannot be used; each names the key, the file or the id at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Toml(#[from] TomlError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// A parsed, checked spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub seeds: Vec<u64>,
    pub tasks: Vec<TaskSource>,
    pub arms: Vec<ArmSettings>,
    pub budget: Budget,
}

/// Where a task comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskSource {
    /// A task directory (any layout).
    Dir {
        name: String,
        path: PathBuf,
        /// The leaderboard the `leaderboard` key names, else `leaderboard.csv` in the
        /// directory when there is one.
        leaderboard: Option<PathBuf>,
        /// The task's own grading command, instead of the built-in metric.
        grader: Option<GraderFile>,
        /// The metric grading uses, over the task's own.
        metric: Option<String>,
    },
    /// An MLE-bench competition under the data directory `mlebench prepare` filled.
    MleBench {
        id: String,
        data_dir: PathBuf,
        /// A directory of `<id>/leaderboard.csv` files (mle-bench's `mlebench/competitions`).
        leaderboards: Option<PathBuf>,
        /// The competition's metric (from `[mlebench] metrics`).
        metric: Option<String>,
    },
}

/// A grading command: a Python script run in a sandbox of its own with the submission and
/// the held-back answers (see [`crate::sweep::definition::Grader`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GraderFile {
    pub script: PathBuf,
    pub timeout_secs: u64,
}

/// The grading command's time limit when the spec gives none.
pub const DEFAULT_GRADER_TIMEOUT_SECS: u64 = 600;

impl TaskSource {
    /// The task's name in reports.
    pub fn name(&self) -> &str {
        match self {
            Self::Dir { name, .. } => name,
            Self::MleBench { id, .. } => id,
        }
    }

    /// The directory the task loads from.
    pub fn path(&self) -> PathBuf {
        match self {
            Self::Dir { path, .. } => path.clone(),
            Self::MleBench { id, data_dir, .. } => data_dir.join(id),
        }
    }

    /// The places the task's leaderboard may be, in order; for an MLE-bench competition
    /// one of them must hold it.
    pub fn leaderboard_candidates(&self) -> Vec<PathBuf> {
        const FILE: &str = "leaderboard.csv";
        match self {
            Self::Dir {
                leaderboard: Some(path),
                ..
            } => vec![path.clone()],
            Self::Dir { path, .. } => vec![path.join(FILE)],
            Self::MleBench {
                id,
                data_dir,
                leaderboards,
                ..
            } => {
                let mut places = vec![data_dir.join(id).join(FILE)];
                places.extend(leaderboards.iter().map(|dir| dir.join(id).join(FILE)));
                places
            }
        }
    }

    /// True when the task must have a leaderboard (MLE-bench competitions all do).
    pub fn needs_leaderboard(&self) -> bool {
        matches!(
            self,
            Self::MleBench { .. }
                | Self::Dir {
                    leaderboard: Some(_),
                    ..
                }
        )
    }

    /// The metric the spec names for the task.
    pub fn metric(&self) -> Option<&str> {
        match self {
            Self::Dir { metric, .. } | Self::MleBench { metric, .. } => metric.as_deref(),
        }
    }

    /// The task's grading command, when it names one.
    pub fn grader(&self) -> Option<&GraderFile> {
        match self {
            Self::Dir { grader, .. } => grader.as_ref(),
            Self::MleBench { .. } => None,
        }
    }
}

/// An arm: its name and the settings its cells run with (the sweep's, with its overrides).
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSettings {
    pub name: String,
    pub settings: RunSettings,
}

/// What the whole sweep may use.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Total model spending of all cells, in US dollars.
    pub cost_usd: Option<f64>,
    /// Wall-clock limit of the sweep, in seconds.
    pub wall_clock_secs: Option<u64>,
    /// Cells running at once.
    pub cells_at_once: Option<u32>,
}

/// One cell: a task, a seed, an arm.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub task: TaskSource,
    pub seed: u64,
    pub arm: String,
    /// The arm's settings with the cell's seed.
    pub settings: RunSettings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    seeds: Seeds,
    #[serde(default)]
    settings: toml::Table,
    #[serde(default)]
    tasks: Vec<TaskEntry>,
    mlebench: Option<MleBenchEntry>,
    #[serde(default)]
    arms: Vec<ArmEntry>,
    #[serde(default)]
    budget: Budget,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Seeds {
    Count(u32),
    List(Vec<u64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskEntry {
    path: PathBuf,
    name: Option<String>,
    leaderboard: Option<PathBuf>,
    grader: Option<PathBuf>,
    grader_timeout_secs: Option<u64>,
    metric: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MleBenchEntry {
    data_dir: PathBuf,
    competitions: Competitions,
    leaderboards: Option<PathBuf>,
    #[serde(default)]
    metrics: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Competitions {
    Split(String),
    List(Vec<String>),
    File { file: PathBuf },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArmEntry {
    name: String,
    #[serde(default)]
    settings: toml::Table,
}

impl Spec {
    /// Reads and checks the spec at `path`.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|e| SpecError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// Parses and checks spec text; `origin` names it in errors, relative paths are taken
    /// from `base`.
    pub fn parse(text: &str, origin: &str, base: &Path) -> Result<Self, SpecError> {
        let file: SpecFile = parse(text, origin)?;
        let seeds = seeds(file.seeds)?;
        let mut tasks: Vec<TaskSource> = file
            .tasks
            .into_iter()
            .map(|t| dir_task(base, t))
            .collect::<Result<_, _>>()?;
        if let Some(mle) = file.mlebench {
            tasks.extend(mlebench_tasks(base, mle)?);
        }
        if tasks.is_empty() {
            return Err(invalid(
                "the spec names no task: add [[tasks]] or [mlebench]",
            ));
        }
        let mut names = BTreeSet::new();
        if let Some(twice) = tasks.iter().find(|t| !names.insert(t.name().to_owned())) {
            return Err(invalid(format!(
                "two tasks are named {:?}: give one a `name`",
                twice.name()
            )));
        }
        let arms = arms(&file.settings, file.arms)?;
        let spec = Self {
            seeds,
            tasks,
            arms,
            budget: check_budget(file.budget)?,
        };
        if spec.cell_count() > MAX_CELLS {
            return Err(invalid(format!(
                "{} cells (tasks × seeds × arms) is more than {MAX_CELLS}",
                spec.cell_count()
            )));
        }
        Ok(spec)
    }

    pub fn cell_count(&self) -> usize {
        self.tasks.len() * self.seeds.len() * self.arms.len()
    }

    /// Every cell, task by task, then seed, then arm.
    pub fn cells(&self) -> Vec<Cell> {
        let mut cells = Vec::with_capacity(self.cell_count());
        for task in &self.tasks {
            for seed in &self.seeds {
                for arm in &self.arms {
                    let mut settings = arm.settings.clone();
                    settings.seed = *seed;
                    cells.push(Cell {
                        task: task.clone(),
                        seed: *seed,
                        arm: arm.name.clone(),
                        settings,
                    });
                }
            }
        }
        cells
    }
}

fn invalid(message: impl Into<String>) -> SpecError {
    SpecError::Invalid(message.into())
}

fn seeds(seeds: Seeds) -> Result<Vec<u64>, SpecError> {
    let list = match seeds {
        Seeds::Count(0) => return Err(invalid("seeds: at least 1")),
        Seeds::Count(n) => (0..u64::from(n)).collect(),
        Seeds::List(list) => list,
    };
    let distinct: BTreeSet<u64> = list.iter().copied().collect();
    match (list.is_empty(), distinct.len() == list.len()) {
        (true, _) => Err(invalid("seeds: the list is empty")),
        (_, false) => Err(invalid("seeds: a seed is listed twice")),
        _ => Ok(list),
    }
}

fn dir_task(base: &Path, entry: TaskEntry) -> Result<TaskSource, SpecError> {
    let path = base.join(&entry.path);
    let name = match entry.name {
        Some(name) => name,
        None => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                invalid(format!(
                    "[[tasks]] path {:?} names no directory",
                    entry.path
                ))
            })?,
    };
    if name.trim().is_empty() || name.len() > 200 {
        return Err(invalid(format!(
            "[[tasks]] name {name:?}: 1 to 200 characters"
        )));
    }
    let grader = match (entry.grader, entry.grader_timeout_secs) {
        (None, Some(_)) => {
            return Err(invalid(format!(
                "[[tasks]] {name:?}: grader_timeout_secs without a grader"
            )));
        }
        (None, None) => None,
        (Some(_), Some(0)) => {
            return Err(invalid(format!(
                "[[tasks]] {name:?}: grader_timeout_secs must be at least 1"
            )));
        }
        (Some(script), timeout) => Some(GraderFile {
            script: base.join(script),
            timeout_secs: timeout.unwrap_or(DEFAULT_GRADER_TIMEOUT_SECS),
        }),
    };
    Ok(TaskSource::Dir {
        name,
        path,
        leaderboard: entry.leaderboard.map(|l| base.join(l)),
        grader,
        metric: entry.metric,
    })
}

fn mlebench_tasks(base: &Path, entry: MleBenchEntry) -> Result<Vec<TaskSource>, SpecError> {
    let data_dir = base.join(&entry.data_dir);
    let leaderboards = entry.leaderboards.map(|dir| base.join(dir));
    let ids: Vec<String> = match entry.competitions {
        Competitions::Split(split) => match split.trim() {
            "lite" | "low" => MLEBENCH_LITE.iter().map(|s| (*s).to_owned()).collect(),
            other => {
                return Err(invalid(format!(
                    "[mlebench] competitions = {other:?}: known splits are \"lite\" (or \"low\"); \
                     give a list of ids or {{ file = \"ids.txt\" }} for others"
                )));
            }
        },
        Competitions::List(ids) => ids,
        Competitions::File { file } => {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path).map_err(|e| SpecError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        }
    };
    if ids.is_empty() {
        return Err(invalid("[mlebench] competitions: none listed"));
    }
    ids.into_iter()
        .map(|id| {
            let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
            if id.is_empty() || id.starts_with('.') || !id.chars().all(ok) {
                return Err(invalid(format!(
                    "[mlebench] competition id {id:?} is not an id"
                )));
            }
            Ok(TaskSource::MleBench {
                metric: entry.metrics.get(&id).cloned(),
                id,
                data_dir: data_dir.clone(),
                leaderboards: leaderboards.clone(),
            })
        })
        .collect()
}

/// The arms' settings: the sweep's `[settings]` with each arm's table laid over it (one arm
/// named "default" when the spec has none).
fn arms(base: &toml::Table, entries: Vec<ArmEntry>) -> Result<Vec<ArmSettings>, SpecError> {
    let entries = match entries.is_empty() {
        true => vec![ArmEntry {
            name: "default".into(),
            settings: toml::Table::new(),
        }],
        false => entries,
    };
    let mut names = BTreeSet::new();
    entries
        .into_iter()
        .map(|arm| {
            if arm.name.trim().is_empty() || !names.insert(arm.name.clone()) {
                return Err(invalid(format!(
                    "[[arms]] name {:?}: each arm needs a name of its own",
                    arm.name
                )));
            }
            let mut merged = base.clone();
            lay_over(&mut merged, arm.settings);
            let settings: RunSettings =
                toml::Value::Table(merged)
                    .try_into()
                    .map_err(|e: toml::de::Error| {
                        invalid(format!("settings of arm {:?}: {}", arm.name, e.message()))
                    })?;
            settings
                .validate()
                .map_err(|e| invalid(format!("settings of arm {:?}: {e}", arm.name)))?;
            Ok(ArmSettings {
                name: arm.name,
                settings,
            })
        })
        .collect()
}

/// Lays `over` onto `base`, tables merged key by key.
fn lay_over(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(value)) => lay_over(inner, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn check_budget(budget: Budget) -> Result<Budget, SpecError> {
    if budget.cost_usd.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return Err(invalid("[budget] cost_usd: a positive number of dollars"));
    }
    if budget.wall_clock_secs == Some(0) || budget.cells_at_once == Some(0) {
        return Err(invalid(
            "[budget] wall_clock_secs and cells_at_once: at least 1 when given",
        ));
    }
    Ok(budget)
}

#[cfg(test)]
mod tests;
