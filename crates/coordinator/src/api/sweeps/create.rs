//! CreateSweep's request checked into a [`NewSweep`]: every task taken in like CreateRun's
//! (bundles or server tasks), arms' settings checked against the caps, and every count and
//! size bounded.

use std::collections::BTreeSet;

use aide_core::access::ProjectName;
use aide_core::sweep::definition::{
    DEFAULT_CELLS_AT_ONCE, MAX_GRADER_BYTES, MAX_LEADERBOARD_TEAMS, SweepBudget,
};
use aide_core::sweep::spec::MAX_CELLS;
use aide_core::sweep::{Grader, SweepArm, SweepDefinition, SweepTask};
use aide_proto::v1;
use aide_store::NewSweep;
use tonic::Status;

use crate::api::caps::RunCaps;
use crate::api::convert::settings_from_proto;
use crate::api::intake::TaskIntake;

const MAX_TASKS: usize = 10_000;
const MAX_ARMS: usize = 100;
const MAX_SEEDS: usize = 1_000;
const MAX_CELLS_AT_ONCE: u32 = 10_000;
const MAX_GRADER_TIMEOUT_SECS: u64 = 24 * 3600;

/// The sweep the request describes, in `project`.
pub(super) async fn new_sweep(
    intake: &TaskIntake,
    caps: &RunCaps,
    project: ProjectName,
    request: v1::CreateSweepRequest,
) -> Result<NewSweep, Status> {
    let name = request.name.trim().to_owned();
    if name.is_empty() {
        return Err(Status::invalid_argument("name: required"));
    }
    caps.check_text("name", &name)?;
    counts(&request)?;
    let seeds = seeds(request.seeds)?;
    let arms = arms(caps, request.arms)?;
    let mut tasks = Vec::with_capacity(request.tasks.len());
    let mut names = BTreeSet::new();
    for task in request.tasks {
        let task = sweep_task(intake, caps, task).await?;
        if !names.insert(task.name.clone()) {
            return Err(Status::invalid_argument(format!(
                "tasks: two are named {:?}",
                task.name
            )));
        }
        tasks.push(task);
    }
    Ok(NewSweep {
        project,
        name,
        definition: SweepDefinition { tasks, arms, seeds },
        budget: budget(request.budget.as_ref())?,
    })
}

fn counts(request: &v1::CreateSweepRequest) -> Result<(), Status> {
    let (tasks, arms, seeds) = (request.tasks.len(), request.arms.len(), request.seeds.len());
    if tasks == 0 || arms == 0 || seeds == 0 {
        return Err(Status::invalid_argument(
            "a sweep needs at least one task, one arm and one seed",
        ));
    }
    if tasks > MAX_TASKS || arms > MAX_ARMS || seeds > MAX_SEEDS {
        return Err(Status::invalid_argument(format!(
            "at most {MAX_TASKS} tasks, {MAX_ARMS} arms and {MAX_SEEDS} seeds"
        )));
    }
    let cells = tasks * arms * seeds;
    if cells > MAX_CELLS {
        return Err(Status::invalid_argument(format!(
            "{cells} cells is more than {MAX_CELLS}"
        )));
    }
    Ok(())
}

fn seeds(seeds: Vec<u64>) -> Result<Vec<u64>, Status> {
    let distinct: BTreeSet<u64> = seeds.iter().copied().collect();
    if distinct.len() != seeds.len() {
        return Err(Status::invalid_argument("seeds: a seed is listed twice"));
    }
    Ok(seeds)
}

fn arms(caps: &RunCaps, arms: Vec<v1::SweepArm>) -> Result<Vec<SweepArm>, Status> {
    let mut names = BTreeSet::new();
    arms.into_iter()
        .map(|arm| {
            let name = arm.name.trim().to_owned();
            if name.is_empty() || !names.insert(name.clone()) {
                return Err(Status::invalid_argument(format!(
                    "arms: each needs a name of its own (got {name:?})"
                )));
            }
            caps.check_text("arm name", &name)?;
            let settings = settings_from_proto(arm.settings.as_ref())
                .map_err(|e| Status::invalid_argument(format!("arm {name:?}: {}", e.message())))?;
            caps.check_settings(&settings)?;
            Ok(SweepArm { name, settings })
        })
        .collect()
}

async fn sweep_task(
    intake: &TaskIntake,
    caps: &RunCaps,
    task: v1::SweepTask,
) -> Result<SweepTask, Status> {
    let name = task.name.trim().to_owned();
    if name.is_empty() {
        return Err(Status::invalid_argument("tasks: each needs a name"));
    }
    caps.check_text("task name", &name)?;
    let source = task
        .source
        .ok_or_else(|| Status::invalid_argument(format!("task {name:?}: source required")))?;
    let mut loaded = intake.task(source.source).await?;
    let metric = source.metric_name.trim();
    if !metric.is_empty() {
        loaded.metric.name = Some(metric.to_owned());
    }
    if let Some(direction) = v1::MetricDirection::try_from(source.direction)
        .map_err(|_| Status::invalid_argument("direction: unknown value"))?
        .to_domain()
    {
        loaded.metric.direction = Some(direction);
    }
    Ok(SweepTask {
        leaderboard: leaderboard(&name, task.leaderboard)?,
        grader: task.grader.map(|g| grader(&name, g)).transpose()?,
        name,
        task: loaded,
    })
}

fn leaderboard(task: &str, scores: Vec<f64>) -> Result<Option<Vec<f64>>, Status> {
    if scores.is_empty() {
        return Ok(None);
    }
    if scores.len() > MAX_LEADERBOARD_TEAMS || scores.iter().any(|s| !s.is_finite()) {
        return Err(Status::invalid_argument(format!(
            "task {task:?}: a leaderboard has at most {MAX_LEADERBOARD_TEAMS} finite scores"
        )));
    }
    Ok(Some(scores))
}

fn grader(task: &str, grader: v1::Grader) -> Result<Grader, Status> {
    if grader.code.trim().is_empty() || grader.code.len() > MAX_GRADER_BYTES {
        return Err(Status::invalid_argument(format!(
            "task {task:?}: a grader's code is 1 byte to {MAX_GRADER_BYTES} bytes"
        )));
    }
    if !(1..=MAX_GRADER_TIMEOUT_SECS).contains(&grader.timeout_secs) {
        return Err(Status::invalid_argument(format!(
            "task {task:?}: a grader's timeout is 1 to {MAX_GRADER_TIMEOUT_SECS} s"
        )));
    }
    Ok(Grader {
        code: grader.code,
        timeout_secs: grader.timeout_secs,
    })
}

/// The budget of a request (absent fields: no limit; cells at once: the default).
pub(super) fn budget(proto: Option<&v1::SweepBudget>) -> Result<SweepBudget, Status> {
    let proto = proto.cloned().unwrap_or_default();
    if proto.cost_usd.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return Err(Status::invalid_argument(
            "budget.cost_usd: a positive number of dollars",
        ));
    }
    if proto.wall_clock_secs == Some(0)
        || proto.wall_clock_secs.is_some_and(|s| s > i64::MAX as u64)
    {
        return Err(Status::invalid_argument(
            "budget.wall_clock_secs: at least 1",
        ));
    }
    let at_once = proto.cells_at_once.unwrap_or(DEFAULT_CELLS_AT_ONCE);
    if !(1..=MAX_CELLS_AT_ONCE).contains(&at_once) {
        return Err(Status::invalid_argument(format!(
            "budget.cells_at_once: 1 to {MAX_CELLS_AT_ONCE}"
        )));
    }
    Ok(SweepBudget {
        cost_usd: proto.cost_usd,
        wall_clock_secs: proto.wall_clock_secs,
        cells_at_once: Some(at_once),
    })
}
