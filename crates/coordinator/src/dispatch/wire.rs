//! The runner protocol's side of the [`Executor`](crate::engine::Executor) port: the
//! `ExecuteRequest` of a [`ScriptRun`] and the [`Executed`] of a `Finished` event.

use std::time::{Duration, SystemTime};

use aide_core::ExceptionInfo;
use aide_proto::bundle::digest_to_wire;
use aide_proto::v1::{ExecuteRequest, Finished, GradingWork, InputBundle, Limits, WorkContext};

use crate::engine::{Executed, ScriptInput, ScriptRun};

/// Margin added to the script's time limit for the execution's deadline (sandbox set-up,
/// collecting files).
const DEADLINE_SLACK: Duration = Duration::from_secs(60);

/// The request that runs `script` on a runner.
pub fn execute_request(script: &ScriptRun) -> ExecuteRequest {
    ExecuteRequest {
        work: Some(WorkContext {
            run_id: script.run_id.to_string(),
            node_id: script.node_id.to_string(),
            attempt: script.attempt,
            // A timeout too large to add to the clock has no deadline rather than a panic.
            deadline: SystemTime::now()
                .checked_add(script.timeout.saturating_add(DEADLINE_SLACK))
                .map(Into::into),
            grading: script.grading.map(|g| GradingWork {
                sweep_id: g.sweep_id.to_string(),
                cell: g.cell,
            }),
        }),
        code: script.code.clone(),
        input: match &script.input {
            ScriptInput::Bundle { digest, manifest } => Some(InputBundle {
                digest: digest_to_wire(digest),
                manifest: Some(manifest.as_ref().into()),
            }),
            ScriptInput::Local(_) => None,
        },
        local_input_dir: match &script.input {
            ScriptInput::Local(dir) => dir.to_string_lossy().into_owned(),
            ScriptInput::Bundle { .. } => String::new(),
        },
        limits: Some(Limits {
            timeout: prost_types::Duration::try_from(script.timeout).ok(),
            ..Limits::default()
        }),
        allow_network: false,
        collect_globs: Vec::new(),
        submission_file: script.submission_file.clone().unwrap_or_default(),
        // Warm unless the script's `# aide: cold` pragma says otherwise (read by the runner).
        cold_start: false,
    }
}

/// How the execution ended, from the runner's `Finished` event.
pub fn executed(finished: Finished, runner_id: Option<String>) -> Executed {
    let seconds = |d: Option<prost_types::Duration>| d.and_then(|d| Duration::try_from(d).ok());
    let exception = finished
        .exception
        .filter(|e| !e.r#type.is_empty())
        .map(|e| {
            let info = ExceptionInfo {
                message: e.message,
                line: e.line,
                traceback: e.traceback,
            };
            (e.r#type, info)
        });
    Executed {
        runner_id,
        exit_code: finished.exit_code,
        timed_out: finished.timed_out,
        oom_killed: finished.oom_killed,
        wall_time: seconds(finished.wall_time).unwrap_or_default(),
        cpu_time: seconds(finished.cpu_time),
        peak_memory_bytes: finished.peak_memory_bytes,
        output: finished.output,
        output_bytes: finished.output_bytes,
        exception,
        files: finished
            .files
            .into_iter()
            .map(|f| (f.path, f.content))
            .collect(),
    }
}
