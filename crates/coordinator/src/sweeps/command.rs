//! A task's own grading command: its Python source runs as an execution of its own on a
//! runner — never in the agent's sandbox, with no network — whose `./input` is a bundle made
//! for it of the held-back answers and the submission. It writes `./working/grade.json`
//! ([`aide_core::sweep::definition::Grader`]); a command that hangs is stopped at its time
//! limit and the cell fails saying so.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aide_core::NodeId;
use aide_core::bundle::{BundleFile, Manifest};
use aide_core::grade::Thresholds;
use aide_core::grade::cell::CellGrade;
use aide_core::sweep::SweepTask;
use aide_core::sweep::definition::{GRADE_FILE, Grader};
use aide_core::task::TaskData;
use aide_store::{CellOutcome, RunRecord};
use serde::Deserialize;

use crate::Error;
use crate::blobs::BlobStore;
use crate::engine::{Executed, Executor, GradingTarget, ScriptInput, ScriptRun};

/// What a grading command writes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradeFile {
    score: Option<f64>,
    valid: Option<bool>,
    problem: Option<String>,
}

/// Grades `submission` (absent: the run wrote none) with the task's command.
pub async fn grade<E: Executor>(
    executor: &E,
    blobs: &BlobStore,
    target: GradingTarget,
    run: &RunRecord,
    grader: &Grader,
    task: &SweepTask,
    submission: Option<&Path>,
) -> Result<CellOutcome, Error> {
    let Some(submission) = submission else {
        return Ok(CellOutcome::Graded(invalid(false, "no submission")));
    };
    let manifest = input_manifest(blobs, task, submission).await?;
    let digest = blobs.put_manifest(&manifest).await?;
    let timeout = Duration::from_secs(grader.timeout_secs);
    let script = ScriptRun {
        run_id: run.id,
        node_id: NodeId::new(),
        attempt: 1,
        code: grader.code.clone(),
        input: ScriptInput::Bundle {
            digest,
            manifest: Arc::new(manifest),
        },
        timeout,
        submission_file: Some(GRADE_FILE.to_owned()),
        grading: Some(target),
    };
    let executed = match executor.execute(script).await {
        Ok(executed) => executed,
        Err(e) if e.is_infrastructure() => return Err(Error::Grading(e.to_string())),
        Err(e) => return Ok(CellOutcome::Failed(format!("the grading command: {e}"))),
    };
    Ok(outcome(&executed, grader, task.leaderboard.as_deref()))
}

/// How the command's execution ended, as the cell's outcome.
fn outcome(executed: &Executed, grader: &Grader, leaderboard: Option<&[f64]>) -> CellOutcome {
    if executed.timed_out {
        return CellOutcome::Failed(format!(
            "the grading command timed out after {} s",
            grader.timeout_secs
        ));
    }
    if executed.exit_code != Some(0) {
        let tail: String = executed.output.chars().rev().take(500).collect();
        let tail: String = tail.chars().rev().collect();
        return CellOutcome::Failed(format!(
            "the grading command failed ({}): {}",
            executed
                .exit_code
                .map_or("killed".to_owned(), |c| format!("exit {c}")),
            tail.trim()
        ));
    }
    let Some(bytes) = executed.file(GRADE_FILE) else {
        return CellOutcome::Failed(format!("the grading command wrote no {GRADE_FILE}"));
    };
    let file: GradeFile = match serde_json::from_slice(bytes) {
        Ok(file) => file,
        Err(e) => {
            return CellOutcome::Failed(format!(
                "the grading command's {GRADE_FILE} is not {{\"score\": number}}: {e}"
            ));
        }
    };
    CellOutcome::Graded(grade_of(file, leaderboard))
}

fn grade_of(file: GradeFile, leaderboard: Option<&[f64]>) -> CellGrade {
    let score = file.score.filter(|s| s.is_finite());
    if file.valid == Some(false) || score.is_none() {
        let problem = file
            .problem
            .unwrap_or_else(|| "the grading command gave no score".into());
        return invalid(true, &problem);
    }
    let mut grade = CellGrade {
        submitted: true,
        valid: true,
        problem: None,
        score,
        above_median: None,
        medal: None,
    };
    if let (Some(board), Some(score)) = (leaderboard, score) {
        match Thresholds::of_leaderboard(board) {
            Ok(thresholds) => {
                let placing = thresholds.place(score);
                grade.above_median = Some(placing.above_median);
                grade.medal = placing.medal;
            }
            Err(e) => grade.problem = Some(format!("no medal: {e}")),
        }
    }
    grade
}

fn invalid(submitted: bool, problem: &str) -> CellGrade {
    CellGrade {
        submitted,
        valid: false,
        problem: Some(problem.to_owned()),
        score: None,
        above_median: None,
        medal: None,
    }
}

/// The grading execution's `./input`: the private bundle's files (or the local answers
/// file) and the submission under its own name.
async fn input_manifest(
    blobs: &BlobStore,
    task: &SweepTask,
    submission: &Path,
) -> Result<Manifest, Error> {
    let mut files: Vec<BundleFile> = Vec::new();
    if let Some(answers) = &task.task.answers {
        match &answers.data {
            TaskData::Bundle(bundle) => {
                files.extend(blobs.get_manifest(&bundle.digest).await?.files);
            }
            TaskData::Local { .. } => {
                if let Some(path) = answers.local_answers_file() {
                    files.push(stored_file(blobs, &path, &answers.file).await?);
                }
            }
        }
    }
    let name = submission.file_name().map_or("submission.csv".into(), |n| {
        n.to_string_lossy().into_owned()
    });
    files.retain(|f| f.path != name);
    files.push(stored_file(blobs, submission, &name).await?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest { files })
}

/// Stores the file at `path` as a blob and names it `name` in a manifest.
async fn stored_file(blobs: &BlobStore, path: &Path, name: &str) -> Result<BundleFile, Error> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| Error::Grading(format!("{}: {e}", path.display())))?;
    let sha256 = blobs.put_bytes(&bytes).await?;
    Ok(BundleFile {
        path: name.to_owned(),
        size: bytes.len() as u64,
        sha256,
        executable: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executed(exit: Option<i32>, timed_out: bool, grade: Option<&str>) -> Executed {
        Executed {
            exit_code: exit,
            timed_out,
            output: "Traceback: boom".into(),
            files: grade
                .map(|g| vec![(GRADE_FILE.to_owned(), g.as_bytes().to_vec())])
                .unwrap_or_default(),
            ..Executed::default()
        }
    }

    #[test]
    fn a_grade_file_a_hang_a_crash_and_a_refusal_each_make_their_outcome() {
        let grader = Grader {
            code: String::new(),
            timeout_secs: 5,
        };
        let board = [0.9, 0.8, 0.7, 0.6];
        match outcome(
            &executed(Some(0), false, Some(r#"{"score": 0.95}"#)),
            &grader,
            Some(&board),
        ) {
            CellOutcome::Graded(g) => {
                assert_eq!(
                    (g.valid, g.score, g.above_median),
                    (true, Some(0.95), Some(true))
                );
            }
            other => panic!("{other:?}"),
        }
        match outcome(&executed(None, true, None), &grader, None) {
            CellOutcome::Failed(why) => assert!(why.contains("timed out after 5 s"), "{why}"),
            other => panic!("{other:?}"),
        }
        match outcome(&executed(Some(1), false, None), &grader, None) {
            CellOutcome::Failed(why) => assert!(why.contains("exit 1") && why.contains("boom")),
            other => panic!("{other:?}"),
        }
        let refused = r#"{"valid": false, "problem": "ids differ"}"#;
        match outcome(&executed(Some(0), false, Some(refused)), &grader, None) {
            CellOutcome::Graded(g) => {
                assert!(!g.valid && g.problem.as_deref() == Some("ids differ"));
            }
            other => panic!("{other:?}"),
        }
        match outcome(&executed(Some(0), false, Some("not json")), &grader, None) {
            CellOutcome::Failed(why) => assert!(why.contains("grade.json")),
            other => panic!("{other:?}"),
        }
    }
}
