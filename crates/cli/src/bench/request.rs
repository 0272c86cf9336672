//! A spec made into CreateSweep's request: each task loaded (any layout; an unknown
//! MLE-bench competition id or a missing `leaderboard.csv` named), its data pushed once as
//! bundles, its leaderboard's scores read, its grading script read; the arms' settings and
//! the budget as the wire carries them.

use std::path::Path;

use aide_bundle::push::push_task;
use aide_coordinator::api::convert::settings_to_proto;
use aide_core::Task;
use aide_core::bundle::Limits;
use aide_core::grade::cell::leaderboard_scores;
use aide_core::sweep::definition::MAX_GRADER_BYTES;
use aide_core::sweep::{Spec, TaskSource};
use aide_proto::bearer::AuthedChannel;
use aide_proto::v1;

use crate::client::upload::{Progress, push_error};
use crate::error::CliError;

/// The request for `spec`, its tasks' data pushed over `channel`.
pub async fn create_request(
    spec: &Spec,
    name: String,
    channel: &AuthedChannel,
) -> Result<v1::CreateSweepRequest, CliError> {
    let mut tasks = Vec::with_capacity(spec.tasks.len());
    for (i, source) in spec.tasks.iter().enumerate() {
        eprintln!("task {}/{}: {}", i + 1, spec.tasks.len(), source.name());
        tasks.push(sweep_task(source, channel).await?);
    }
    Ok(v1::CreateSweepRequest {
        name,
        tasks,
        arms: spec
            .arms
            .iter()
            .map(|arm| v1::SweepArm {
                name: arm.name.clone(),
                settings: Some(settings_to_proto(&arm.settings)),
            })
            .collect(),
        seeds: spec.seeds.clone(),
        budget: Some(v1::SweepBudget {
            cost_usd: spec.budget.cost_usd,
            wall_clock_secs: spec.budget.wall_clock_secs,
            cells_at_once: spec.budget.cells_at_once,
        }),
    })
}

/// Everything a sweep needs of one task, checked before anything is created.
pub fn check_task(source: &TaskSource) -> Result<(Task, Vec<f64>, Option<v1::Grader>), CliError> {
    let task = load(source)?;
    let leaderboard = leaderboard(source)?;
    let grader = source
        .grader()
        .map(|g| read_grader(&g.script, g.timeout_secs))
        .transpose()?;
    if grader.is_none() && source.metric().or(task.metric.name.as_deref()).is_none() {
        return Err(CliError::Usage(format!(
            "task {:?} names no metric to grade with: give it `metric` in the spec ([mlebench] \
             metrics for competitions) or a `grader`",
            source.name()
        )));
    }
    if task.answers.is_none() && grader.is_none() {
        return Err(CliError::Usage(format!(
            "task {:?} has no held-back answers to grade against",
            source.name()
        )));
    }
    Ok((task, leaderboard, grader))
}

async fn sweep_task(
    source: &TaskSource,
    channel: &AuthedChannel,
) -> Result<v1::SweepTask, CliError> {
    let (task, leaderboard, grader) = check_task(source)?;
    let progress = Progress::default();
    let (bundle, _) = push_task(channel.clone(), &task, Limits::default(), &progress)
        .await
        .map_err(push_error)?;
    Ok(v1::SweepTask {
        name: source.name().to_owned(),
        source: Some(v1::TaskSource {
            source: Some(v1::task_source::Source::Bundle(bundle)),
            metric_name: source.metric().unwrap_or_default().to_owned(),
            direction: v1::MetricDirection::Unspecified as i32,
        }),
        leaderboard,
        grader,
    })
}

fn load(source: &TaskSource) -> Result<Task, CliError> {
    let path = source.path();
    if let TaskSource::MleBench { id, data_dir, .. } = source
        && !path.is_dir()
    {
        return Err(CliError::Usage(format!(
            "unknown MLE-bench competition {id:?}: no directory {} (run `mlebench prepare -c \
             {id}` with --data-dir {})",
            path.display(),
            data_dir.display()
        )));
    }
    Task::load(&path).map_err(|e| CliError::Usage(format!("task {:?}: {e}", source.name())))
}

/// The leaderboard's scores, best first (empty when the task has none).
fn leaderboard(source: &TaskSource) -> Result<Vec<f64>, CliError> {
    let candidates = source.leaderboard_candidates();
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => leaderboard_scores(path)
            .map_err(|e| CliError::Usage(format!("task {:?}: {e}", source.name()))),
        None if source.needs_leaderboard() => Err(CliError::Usage(format!(
            "task {:?} has no leaderboard.csv (looked for {})",
            source.name(),
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(Vec::new()),
    }
}

fn read_grader(script: &Path, timeout_secs: u64) -> Result<v1::Grader, CliError> {
    let code = std::fs::read_to_string(script)
        .map_err(|e| CliError::Usage(format!("grader {}: {e}", script.display())))?;
    if code.trim().is_empty() || code.len() > MAX_GRADER_BYTES {
        return Err(CliError::Usage(format!(
            "grader {}: 1 byte to {MAX_GRADER_BYTES} bytes of Python",
            script.display()
        )));
    }
    Ok(v1::Grader { code, timeout_secs })
}
