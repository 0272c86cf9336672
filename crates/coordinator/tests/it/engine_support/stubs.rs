//! Stub ports for the engine tests that need many fast steps: an executor that "runs" a
//! script by reading it, and a task without test data.

use std::time::Duration;

use aide_coordinator::engine::{Answer, Executed, Executor, PortError, ScriptRun};
use aide_core::task::ReferenceTask;
use aide_core::{ExceptionInfo, Task};

/// "Runs" a stub author's scripts by reading them: `raise …` fails with a ValueError,
/// `print('…')` prints its text.
#[derive(Debug)]
pub struct ReadingExecutor;

impl Executor for ReadingExecutor {
    async fn execute(&self, script: ScriptRun) -> Result<Executed, PortError> {
        assert!(script.attempt >= 1 && !script.timeout.is_zero());
        let ran = if script.code.starts_with("raise") {
            let exception = ExceptionInfo {
                message: "scripted failure".into(),
                ..ExceptionInfo::default()
            };
            Executed {
                exit_code: Some(1),
                output: "Traceback ...\nValueError: scripted failure\n".into(),
                exception: Some(("ValueError".into(), exception)),
                ..Executed::default()
            }
        } else {
            let printed = script
                .code
                .trim_start_matches("print('")
                .trim_end_matches("')");
            Executed {
                exit_code: Some(0),
                output: format!("{printed}\n"),
                wall_time: Duration::from_millis(1),
                ..Executed::default()
            }
        };
        Ok(Executed {
            runner_id: Some("reader".into()),
            ..ran
        })
    }
}

/// A task without test data (no submission needed), its data in `dir`.
pub fn tiny_task(dir: &std::path::Path) -> Task {
    std::fs::write(dir.join("train.csv"), "x,y\n1,2\n").expect("data");
    Task::from_reference(&ReferenceTask {
        data_dir: Some(dir.to_path_buf()),
        goal: Some("Predict y.".into()),
        eval: None,
        desc_file: None,
    })
    .expect("task")
}

/// A stub review: the `submit_review` call of a reviewer that reads the `AIDE_METRIC:` line
/// of `output` (buggy without one), lower being better.
pub fn metric_review(output: &str, summary: &str) -> Answer {
    let metric = output
        .lines()
        .find_map(|l| l.strip_prefix("AIDE_METRIC: "))
        .and_then(|m| m.trim().parse::<f64>().ok());
    Answer::FunctionArguments(
        serde_json::json!({"is_bug": metric.is_none(), "summary": summary, "metric": metric,
                           "lower_is_better": true})
        .to_string(),
    )
}
