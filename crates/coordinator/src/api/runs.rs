//! CreateRun (task and settings resolution), GetRun, ListRuns, CancelRun and GetNode, each
//! for its caller: runs are made in the caller's project, and a run of another project is
//! NOT_FOUND as if it did not exist.

use aide_core::access::Role;
use aide_core::{NodeId, RunId};
use aide_proto::v1;
use aide_store::{NewRun, RunFilter, RunRecord, Store, Usage};
use tonic::Status;

use super::caps::RunCaps;
use super::convert::{node_to_proto, run_to_proto, settings_from_proto, status_filter};
use super::intake::TaskIntake;
use super::store_status;
use crate::access::Caller;

/// Runs ListRuns returns when the request names no limit, and the most it returns.
const DEFAULT_LIST_LIMIT: u32 = 50;
const MAX_LIST_LIMIT: u32 = 1000;

/// Resolves the task and the settings, then stores the run as queued.
pub(super) async fn create_run<S: Store>(
    store: &S,
    intake: &TaskIntake,
    caps: &RunCaps,
    caller: &Caller,
    request: v1::CreateRunRequest,
) -> Result<v1::Run, Status> {
    caller.require(Role::Member)?;
    let source = request
        .task
        .ok_or_else(|| Status::invalid_argument("task: required"))?;
    let settings = settings_from_proto(request.settings.as_ref())?;
    caps.check_settings(&settings)?;
    caps.check_project(store, &caller.project).await?;
    let override_direction = v1::MetricDirection::try_from(source.direction)
        .map_err(|_| Status::invalid_argument("task.direction: unknown value"))?
        .to_domain();
    let mut task = intake.task(source.source).await?;
    let metric_name = source.metric_name.trim();
    if !metric_name.is_empty() {
        task.metric.name = Some(metric_name.to_owned());
    }
    if let Some(direction) = override_direction {
        task.metric.direction = Some(direction);
    }
    let direction = task.metric.resolved_direction();
    let name = match request.name.trim() {
        "" => task.name.clone(),
        name => name.to_owned(),
    };
    caps.check_text("name", &name)?;
    let seed = settings.seed;
    let run = store
        .create_run(NewRun {
            project: caller.project.clone(),
            name,
            task,
            settings,
            direction,
            seed,
            fork_of: None,
        })
        .await
        .map_err(store_status)?;
    super::audit::created(store, caller, run.id).await;
    tracing::info!(run_id = %run.id, name = %run.name, project = %run.project,
        token_id = %caller.token_id, "run created");
    Ok(run_to_proto(&run, &[], &Usage::default()))
}

/// The run, when the caller's project holds it; NOT_FOUND otherwise, worded as for a run
/// that does not exist.
pub(crate) async fn visible_run<S: Store>(
    store: &S,
    caller: &Caller,
    run_id: RunId,
) -> Result<RunRecord, Status> {
    let run = store.get_run(run_id).await.map_err(store_status)?;
    if caller.sees(&run.project) {
        Ok(run)
    } else {
        Err(store_status(aide_store::Error::NotFound {
            what: "run",
            id: run_id.to_string(),
        }))
    }
}

/// The run as clients see it: record, tree statistics and usage.
pub(super) async fn run_view<S: Store>(
    store: &S,
    caller: &Caller,
    run_id: RunId,
) -> Result<v1::Run, Status> {
    let run = visible_run(store, caller, run_id).await?;
    view_of(store, &run).await
}

/// The client's view of a run record already read.
pub(super) async fn view_of<S: Store>(store: &S, run: &RunRecord) -> Result<v1::Run, Status> {
    let (nodes, usage) =
        tokio::try_join!(store.load_tree(run.id), store.run_usage(run.id)).map_err(store_status)?;
    Ok(run_to_proto(run, &nodes, &usage))
}

/// Runs, newest first. Each run's tree is read for its counts and best node: one tree read
/// per listed run, which the limit (at most 1000) keeps bounded.
pub(super) async fn list_runs<S: Store>(
    store: &S,
    caller: &Caller,
    request: v1::ListRunsRequest,
) -> Result<v1::ListRunsResponse, Status> {
    let status = v1::RunStatus::try_from(request.status)
        .map_err(|_| Status::invalid_argument("status: unknown value"))?;
    let limit = match request.limit {
        0 => DEFAULT_LIST_LIMIT,
        n => n.min(MAX_LIST_LIMIT),
    };
    let records = store
        .list_runs(RunFilter {
            project: Some(caller.project.clone()),
            status: status_filter(status),
            limit,
        })
        .await
        .map_err(store_status)?;
    let mut runs = Vec::with_capacity(records.len());
    for record in &records {
        runs.push(view_of(store, record).await?);
    }
    Ok(v1::ListRunsResponse { runs })
}

/// Asks the run to stop. Idempotent: a run that already finished (cancelled or not) is
/// returned unchanged.
pub(super) async fn cancel_run<S: Store>(
    store: &S,
    caller: &Caller,
    run_id: RunId,
) -> Result<v1::Run, Status> {
    caller.require(Role::Member)?;
    visible_run(store, caller, run_id).await?;
    super::audit::cancel_requested(store, caller, run_id).await?;
    let run = match store.request_cancel(run_id).await {
        Ok(run) => run,
        Err(aide_store::Error::InvalidState(why)) => {
            let run = store.get_run(run_id).await.map_err(store_status)?;
            if !run.status.is_terminal() {
                return Err(Status::failed_precondition(why));
            }
            run
        }
        Err(e) => return Err(store_status(e)),
    };
    tracing::info!(run_id = %run_id, status = %run.status, token_id = %caller.token_id,
        "cancel requested");
    view_of(store, &run).await
}

/// One node with its code, output, review and attempt count.
pub(super) async fn get_node<S: Store>(
    store: &S,
    caller: &Caller,
    node_id: NodeId,
) -> Result<v1::Node, Status> {
    let node = store.get_node(node_id).await.map_err(store_status)?;
    let run = visible_run(store, caller, node.run_id).await.map_err(|_| {
        store_status(aide_store::Error::NotFound {
            what: "node",
            id: node_id.to_string(),
        })
    })?;
    let executions = store.list_executions(node_id).await.map_err(store_status)?;
    Ok(node_to_proto(&node, &executions, run.direction))
}
