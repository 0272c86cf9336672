//! Tasks: what a run is asked to solve, loaded from one of three layouts.
//!
//! - [`Task::from_reference`]: the reference implementation's style, a data directory plus
//!   a goal and optional evaluation text, or a description file;
//! - a task directory holding `task.toml` ([`manifest`]);
//! - an MLE-bench competition directory: `description.md` and `prepared/public/` ([`mlebench`]).
//!
//! [`Task::load`] detects the layout of a directory. Every failure names what is missing.

mod manifest;
mod mlebench;
mod reference;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metric::Direction;

pub use reference::ReferenceTask;

/// The file name solutions write their test predictions to, inside `./working`.
pub const DEFAULT_SUBMISSION_FILE: &str = "submission.csv";

/// A loaded, validated task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Short name used in run listings and output paths.
    pub name: String,
    /// What the solution must achieve, in the user's words.
    pub goal: String,
    /// How solutions are evaluated, when the user said so.
    pub eval: Option<String>,
    /// A longer description in markdown (a description file or competition page).
    pub description: Option<String>,
    /// The directory whose files are the solution's `./input`.
    pub data_dir: PathBuf,
    pub metric: MetricSpec,
    /// What a submission is, when the task has test data.
    pub submission: Option<SubmissionSpec>,
    /// Held-back answers for scoring a submission outside the sandbox.
    pub answers: Option<PathBuf>,
    pub layout: TaskLayout,
}

/// The validation metric as the task states it; both parts are optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    pub name: Option<String>,
    pub direction: Option<Direction>,
}

impl MetricSpec {
    /// The direction the task fixes: explicit, else inferred from the metric's name.
    pub fn resolved_direction(&self) -> Option<Direction> {
        self.direction
            .or_else(|| self.name.as_deref().and_then(Direction::from_metric_name))
    }
}

/// What a valid submission file looks like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionSpec {
    /// File name the solution writes inside `./working`.
    pub file_name: String,
    /// A sample submission inside the data directory, when there is one.
    pub sample: Option<PathBuf>,
}

/// Which layout a task came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskLayout {
    Reference,
    Manifest,
    MleBench,
}

impl Task {
    /// Loads the task at `path`: a directory with `task.toml`, a `task.toml` file itself,
    /// or an MLE-bench competition directory.
    pub fn load(path: &Path) -> Result<Task> {
        if path.is_file() {
            if path.file_name().is_some_and(|n| n == manifest::FILE_NAME) {
                return manifest::load(path);
            }
            return Err(Error::task(
                path,
                format!(
                    "expected a task directory or a {} file",
                    manifest::FILE_NAME
                ),
            ));
        }
        if !path.is_dir() {
            return Err(Error::task(path, "no such file or directory"));
        }
        let manifest_path = path.join(manifest::FILE_NAME);
        if manifest_path.is_file() {
            return manifest::load(&manifest_path);
        }
        if mlebench::looks_like(path) {
            return mlebench::load(path);
        }
        Err(Error::task(
            path,
            format!(
                "not a task directory: expected {} (task directory), or description.md and \
                 prepared/public/ (MLE-bench competition); for a bare data directory give a goal \
                 or a description file as well",
                manifest::FILE_NAME
            ),
        ))
    }

    /// Builds a task the way the reference implementation takes it.
    pub fn from_reference(args: &ReferenceTask) -> Result<Task> {
        reference::load(args)
    }

    /// True when the data directory holds test inputs, so a submission file is required.
    pub fn has_test_data(&self) -> bool {
        self.submission.is_some()
    }
}

/// The task's name from a directory's final component.
fn name_of(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "task".into())
}

/// Checks that `dir` is a readable directory with at least one file in it.
fn check_data_dir(task_path: &Path, dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::task(
            task_path,
            format!("data directory {} does not exist", dir.display()),
        ));
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    if entries.next().is_none() {
        return Err(Error::task(
            task_path,
            format!("data directory {} is empty", dir.display()),
        ));
    }
    Ok(())
}

/// Infers the submission spec from a data directory: a sample submission or any file whose
/// name starts with `test` means the task has test data.
fn infer_submission(data_dir: &Path) -> Result<Option<SubmissionSpec>> {
    let mut has_test = false;
    let mut sample = None;
    let entries = std::fs::read_dir(data_dir).map_err(|e| Error::io(data_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(data_dir, e))?;
        let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
        if name.starts_with("sample_submission") || name.starts_with("samplesubmission") {
            sample = Some(PathBuf::from(entry.file_name()));
        } else if name.starts_with("test") {
            has_test = true;
        }
    }
    Ok((has_test || sample.is_some()).then(|| SubmissionSpec {
        file_name: DEFAULT_SUBMISSION_FILE.into(),
        sample,
    }))
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests;
