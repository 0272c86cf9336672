//! Tasks: what a run is asked to solve, loaded from one of three layouts.
//!
//! - [`Task::from_reference`]: the reference implementation's style, a data directory plus
//!   a goal and optional evaluation text, or a description file;
//! - a task directory holding `task.toml` ([`manifest`]);
//! - an MLE-bench competition directory: `description.md` and `prepared/public/` ([`mlebench`]).
//!
//! [`Task::load`] detects the layout of a directory. Every failure names what is missing.

mod data;
mod manifest;
mod mlebench;
mod reference;
mod stored;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metric::Direction;

pub use data::{Answers, BundleRef, TaskData};
pub use reference::ReferenceTask;

/// The file name solutions write their test predictions to, inside `./working`.
pub const DEFAULT_SUBMISSION_FILE: &str = "submission.csv";

/// A loaded, validated task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "stored::StoredTask")]
pub struct Task {
    /// Short name used in run listings and output paths.
    pub name: String,
    /// What the solution must achieve, in the user's words.
    pub goal: String,
    /// How solutions are evaluated, when the user said so.
    pub eval: Option<String>,
    /// A longer description in markdown (a description file or competition page).
    pub description: Option<String>,
    /// The files that are the solution's `./input`.
    pub input: TaskData,
    pub metric: MetricSpec,
    /// What a submission is, when the task has test data.
    pub submission: Option<SubmissionSpec>,
    /// Held-back answers for scoring a submission outside the sandbox; never part of what a
    /// sandbox receives.
    pub answers: Option<Answers>,
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
    /// or an MLE-bench competition directory. Paths a `task.toml` names may lead anywhere on
    /// this host (the user's own files).
    pub fn load(path: &Path) -> Result<Task> {
        load_layout(path, &Within::Anywhere)
    }

    /// Loads the task at `path` reading nothing outside `root`: every file the task names
    /// (data, description, answers) must resolve, links followed, under `root`. For tasks a
    /// server serves from a task root on behalf of a client.
    pub fn load_within(path: &Path, root: &Path) -> Result<Task> {
        let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
        load_layout(path, &Within::Root(root))
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

/// Detects the layout of `path` and loads it.
fn load_layout(path: &Path, within: &Within) -> Result<Task> {
    within.check(path)?;
    if path.is_file() {
        if path.file_name().is_some_and(|n| n == manifest::FILE_NAME) {
            return manifest::load(path, within);
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
        return manifest::load(&manifest_path, within);
    }
    if mlebench::looks_like(path) {
        return mlebench::load(path, within);
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

/// Where a task's files may be.
enum Within {
    Anywhere,
    /// Under this canonical directory.
    Root(PathBuf),
}

impl Within {
    /// Refuses a path that resolves outside the root.
    fn check(&self, path: &Path) -> Result<()> {
        let Self::Root(root) = self else {
            return Ok(());
        };
        let resolved = path.canonicalize().map_err(|e| Error::io(path, e))?;
        if resolved.starts_with(root) {
            Ok(())
        } else {
            Err(Error::task(path, "resolves outside the task root"))
        }
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

/// The largest text file a task may name (task.toml, a description).
const MAX_TEXT_BYTES: u64 = 4 << 20;

/// True for a regular file (links followed).
fn is_regular_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// A task's text file: a regular file of at most [`MAX_TEXT_BYTES`], under the root when
/// there is one. Anything else (a FIFO, a device, /proc) is refused with its path.
fn read_text(path: &Path, within: &Within) -> Result<String> {
    within.check(path)?;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::task(path, "not a regular file"));
    }
    if meta.len() > MAX_TEXT_BYTES {
        return Err(Error::task(
            path,
            format!(
                "{} bytes, over the limit of {MAX_TEXT_BYTES} for a text file",
                meta.len()
            ),
        ));
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests;
