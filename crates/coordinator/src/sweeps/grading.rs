//! Grading one cell outside the agent's sandbox: the run's best submission against the
//! task's held-back answers (read from the private bundle, which runners never receive),
//! with the built-in metric, the sample submission's shape and the leaderboard's medals;
//! or, when the task names one, with its grading command ([`super::command`]). A run that
//! failed or was cancelled makes a failed cell with its cause; a missing or malformed
//! submission is a grade ("invalid"), never a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aide_core::bundle::Manifest;
use aide_core::grade::cell::{self, Grading};
use aide_core::sweep::SweepTask;
use aide_core::task::TaskData;
use aide_core::{RunStatus, Task};
use aide_store::{CellOutcome, GradingClaim, NodeFileBody, RunRecord, Store};

use crate::Error;
use crate::blobs::BlobStore;
use crate::engine::{Executor, GradingTarget};

/// Grades cells for a replica's pump.
#[derive(Debug)]
pub struct Grader<S: Store, E: Executor> {
    store: Arc<S>,
    blobs: BlobStore,
    executor: Arc<E>,
}

impl<S: Store, E: Executor> Grader<S, E> {
    pub fn new(store: Arc<S>, blobs: BlobStore, executor: Arc<E>) -> Self {
        Self {
            store,
            blobs,
            executor,
        }
    }

    /// The outcome of the claimed cell; `Err` only when grading should be tried again.
    pub async fn grade(&self, claim: &GradingClaim) -> Result<CellOutcome, Error> {
        let run = self.store.get_run(claim.run_id).await?;
        match run.status {
            RunStatus::Completed => {}
            RunStatus::Failed => {
                return Ok(CellOutcome::Failed(format!(
                    "its run failed: {}",
                    run.stop_reason.as_deref().unwrap_or("no reason recorded")
                )));
            }
            RunStatus::Cancelled => {
                return Ok(CellOutcome::Failed(
                    "its run was cancelled (retry the cell to run it again)".into(),
                ));
            }
            other => {
                return Err(Error::Grading(format!("run {} is still {other}", run.id)));
            }
        }
        let sweep = self.store.get_sweep(claim.sweep_id).await?;
        let task = sweep
            .definition
            .task(claim.key)
            .ok_or_else(|| Error::Grading(format!("sweep {} has no such cell", sweep.id)))?;
        let submission = self.best_submission(&run).await?;
        let dir = tempfile::tempdir().map_err(|e| Error::Grading(e.to_string()))?;
        let submission_path = match submission {
            Some((name, bytes)) => {
                let path = dir.path().join(safe_name(&name));
                write(&path, &bytes).await?;
                Some(path)
            }
            None => None,
        };
        match &task.grader {
            Some(grader) => {
                let target = GradingTarget {
                    sweep_id: claim.sweep_id,
                    cell: claim.index,
                };
                super::command::grade(
                    &*self.executor,
                    &self.blobs,
                    target,
                    &run,
                    grader,
                    task,
                    submission_path.as_deref(),
                )
                .await
            }
            None => self.builtin(task, dir.path(), submission_path).await,
        }
    }

    /// The built-in metric, the sample's shape and the leaderboard.
    async fn builtin(
        &self,
        task: &SweepTask,
        dir: &Path,
        submission: Option<PathBuf>,
    ) -> Result<CellOutcome, Error> {
        let Some(metric) = task.task.metric.name.clone() else {
            return Ok(CellOutcome::Failed(format!(
                "task {:?} names no metric to grade with: give it `metric` in the spec, or \
                 a grader",
                task.name
            )));
        };
        let Some(answers) = self.answers_file(&task.task, dir).await? else {
            return Ok(CellOutcome::Failed(format!(
                "task {:?} has no held-back answers to grade with",
                task.name
            )));
        };
        let sample = self.sample_file(&task.task, dir).await?;
        let leaderboard = task.leaderboard.clone();
        let grade = tokio::task::spawn_blocking(move || {
            let grading = Grading {
                metric: &metric,
                answers: &answers,
                sample: sample.as_deref(),
                leaderboard: leaderboard.as_deref(),
            };
            cell::grade(&grading, submission.as_deref())
        })
        .await
        .map_err(|e| Error::Grading(format!("the grading task failed: {e}")))?;
        Ok(CellOutcome::Graded(grade))
    }

    /// The best node's submission file (its name and bytes), when the run has one.
    async fn best_submission(&self, run: &RunRecord) -> Result<Option<(String, Vec<u8>)>, Error> {
        let Some(name) = run.task.submission.as_ref().map(|s| s.file_name.clone()) else {
            return Ok(None);
        };
        let nodes = self.store.load_tree(run.id).await?;
        let Some(best) = crate::tree::best_node(run.direction, &nodes) else {
            return Ok(None);
        };
        let Some(file) = self.store.get_node_file(best.id, &name).await? else {
            return Ok(None);
        };
        let bytes = match file.body {
            NodeFileBody::Inline(bytes) => bytes,
            NodeFileBody::Blob(digest) => self.blobs.read_all(&digest).await?.to_vec(),
        };
        Ok(Some((name, bytes)))
    }

    /// The answers file on this host: local answers as they are, stored ones copied into
    /// `dir`.
    async fn answers_file(&self, task: &Task, dir: &Path) -> Result<Option<PathBuf>, Error> {
        let Some(answers) = &task.answers else {
            return Ok(None);
        };
        match &answers.data {
            TaskData::Local { .. } => Ok(answers.local_answers_file()),
            TaskData::Bundle(bundle) => {
                let manifest = self.blobs.get_manifest(&bundle.digest).await?;
                let target = dir.join("answers").join(safe_name(&answers.file));
                self.copy_out(&manifest, &answers.file, &target).await
            }
        }
    }

    /// The sample submission on this host, when the task has one.
    async fn sample_file(&self, task: &Task, dir: &Path) -> Result<Option<PathBuf>, Error> {
        let Some(sample) = task.submission.as_ref().and_then(|s| s.sample.clone()) else {
            return Ok(None);
        };
        match &task.input {
            TaskData::Local { path } => Ok(Some(path.join(sample))),
            TaskData::Bundle(bundle) => {
                let manifest = self.blobs.get_manifest(&bundle.digest).await?;
                let relative = sample.to_string_lossy().replace('\\', "/");
                let target = dir.join("sample").join(safe_name(&relative));
                self.copy_out(&manifest, &relative, &target).await
            }
        }
    }

    /// Writes the bundle file at `relative` to `target`; `None` when the bundle lacks it.
    async fn copy_out(
        &self,
        manifest: &Manifest,
        relative: &str,
        target: &Path,
    ) -> Result<Option<PathBuf>, Error> {
        let Some(entry) = manifest.files.iter().find(|f| f.path == relative) else {
            return Ok(None);
        };
        let bytes = self.blobs.read_all(&entry.sha256).await?;
        write(target, &bytes).await?;
        Ok(Some(target.to_owned()))
    }
}

/// The last component of a bundle path, for a file name of our own choosing.
fn safe_name(relative: &str) -> String {
    let name = relative.rsplit('/').next().unwrap_or_default();
    match name {
        "" | "." | ".." => "file".into(),
        name => name.to_owned(),
    }
}

async fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::Grading(format!("{}: {e}", parent.display())))?;
    }
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| Error::Grading(format!("{}: {e}", path.display())))
}
