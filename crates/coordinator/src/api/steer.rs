//! SteerRun and ForkRun (ARCHITECTURE §14): a member's directives to a running search, and
//! new runs started from one of a run's nodes. A directive is checked against the run as
//! its owner will see it (the directives already recorded, replayed from the log) and
//! refused with the reason: a finished run, a node that is not the run's, a node in a
//! pruned subtree, a pin on a node still in flight, a full notebook. Accepted, it is one
//! `steered` event with its author, which the owner takes in, in order.

use aide_core::access::Role;
use aide_core::steer::{Directive, Forked, MAX_NOTES, Steered};
use aide_core::{NodeId, NodeStatus, RunEvent};
use aide_proto::v1;
use aide_store::{NewRun, NodeRecord, RunRecord, Store};
use tonic::Status;

use super::caps::RunCaps;
use super::runs::{view_of, visible_run};
use super::{parse_node_id, parse_run_id, store_status};
use crate::access::Caller;
use crate::engine::events::{Replayed, replay_after};
use crate::tree::search_tree;

/// Records a directive once the run and the node allow it.
pub(super) async fn steer_run<S: Store>(
    store: &S,
    caps: &RunCaps,
    caller: &Caller,
    request: v1::SteerRunRequest,
) -> Result<v1::SteerRunResponse, Status> {
    caller.require(Role::Member)?;
    let run_id = parse_run_id(&request.run_id)?;
    let directive = directive_of(request.directive)?;
    directive
        .check()
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    let run = visible_run(store, caller, run_id).await?;
    if run.status.is_terminal() {
        return Err(finished(&run));
    }
    let settings = directive
        .applied_to(&run.settings)
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
    caps.check_settings(&settings)?;
    refuse_what_the_run_cannot_take(store, &run, &directive).await?;
    let name = directive.name();
    let steered = Steered {
        by: caller.actor(),
        directive,
    };
    let seq = store
        .steer_run(run_id, &steered)
        .await
        .map_err(store_status)?;
    tracing::info!(%run_id, seq, directive = name, token_id = %caller.token_id, "run steered");
    let run = store.get_run(run_id).await.map_err(store_status)?;
    Ok(v1::SteerRunResponse {
        seq,
        run: Some(view_of(store, &run).await?),
    })
}

/// Starts a new run in the source run's project from `node`'s code, with the source's
/// task and settings; the source's log records who forked it and into which run.
pub(super) async fn fork_run<S: Store>(
    store: &S,
    caps: &RunCaps,
    caller: &Caller,
    request: v1::ForkRunRequest,
) -> Result<v1::Run, Status> {
    caller.require(Role::Member)?;
    let run_id = parse_run_id(&request.run_id)?;
    let node_id = parse_node_id(&request.node_id, "node_id")?;
    let source = visible_run(store, caller, run_id).await?;
    let node = node_of_run(store, &source, node_id).await?;
    if node
        .generation
        .as_ref()
        .and_then(|g| g.code.as_ref())
        .is_none()
    {
        return Err(Status::failed_precondition(format!(
            "node {node_id} has no code to fork yet"
        )));
    }
    let name = match request.name.trim() {
        "" => format!("{}-fork", source.name),
        name => name.to_owned(),
    };
    caps.check_text("name", &name)?;
    caps.check_settings(&source.settings)?;
    caps.check_project(store, &source.project).await?;
    let run = store
        .create_run(NewRun {
            project: source.project.clone(),
            name,
            task: source.task.clone(),
            settings: source.settings.clone(),
            direction: source.direction,
            seed: source.seed,
            fork_of: Some(node_id),
        })
        .await
        .map_err(store_status)?;
    super::audit::created(store, caller, run.id).await;
    let forked = RunEvent::Forked(Forked {
        by: caller.actor(),
        node: node_id,
        run: run.id,
    });
    if let Err(e) = store.append_event(run_id, &forked).await {
        tracing::warn!(%run_id, error = %e, "cannot record the fork on the source run");
    }
    tracing::info!(%run_id, node_id = %node_id, fork = %run.id, token_id = %caller.token_id,
        "run forked");
    view_of(store, &run).await
}

/// The directive a request carries; INVALID_ARGUMENT when it carries none or a bad id.
fn directive_of(directive: Option<v1::steer_run_request::Directive>) -> Result<Directive, Status> {
    use v1::steer_run_request::Directive as Wire;
    let node = |r: v1::NodeRef, field: &str| parse_node_id(&r.node_id, field);
    Ok(match directive {
        None => return Err(Status::invalid_argument("directive: required")),
        Some(Wire::Pin(r)) => Directive::Pin {
            node: node(r, "pin.node_id")?,
        },
        Some(Wire::Prune(r)) => Directive::Prune {
            node: node(r, "prune.node_id")?,
        },
        Some(Wire::Note(text)) => Directive::Note { text },
        Some(Wire::Budget(b)) => Directive::Budget {
            steps: b.steps,
            max_run_secs: b.max_run_secs,
        },
    })
}

/// Refuses a directive the run cannot take as it stands: a node that is not the run's, in
/// a pruned subtree, or (for a pin) not reviewed yet; a note beyond the run's last.
async fn refuse_what_the_run_cannot_take<S: Store>(
    store: &S,
    run: &RunRecord,
    directive: &Directive,
) -> Result<(), Status> {
    let mut replayed = Replayed::default();
    replay_after(store, run.id, 0, &mut replayed)
        .await
        .map_err(store_status)?;
    let steering = &replayed.steering;
    if let Directive::Note { .. } = directive
        && steering.notes().len() >= MAX_NOTES
    {
        return Err(Status::failed_precondition(format!(
            "run {} already has {MAX_NOTES} notes, the most a run keeps",
            run.id
        )));
    }
    let Some(node_id) = directive.node() else {
        return Ok(());
    };
    node_of_run(store, run, node_id).await?;
    let records = store.load_tree(run.id).await.map_err(store_status)?;
    let mut tree = search_tree(&records);
    for pruned in steering.pruned() {
        tree.prune(*pruned);
    }
    if tree.is_pruned(node_id) {
        return Err(Status::failed_precondition(format!(
            "node {node_id} is in a pruned subtree: it is never expanded again"
        )));
    }
    let in_flight = tree.get(node_id).map(|n| n.status) == Some(NodeStatus::InFlight);
    if matches!(directive, Directive::Pin { .. }) && in_flight {
        return Err(Status::failed_precondition(format!(
            "node {node_id} is not reviewed yet: pin it once its review is in"
        )));
    }
    Ok(())
}

/// Node `node_id`, when it is one of `run`'s; NOT_FOUND otherwise, worded the same whether
/// it belongs to another run or does not exist.
async fn node_of_run<S: Store>(
    store: &S,
    run: &RunRecord,
    node_id: NodeId,
) -> Result<NodeRecord, Status> {
    let not_of_run =
        || Status::not_found(format!("node {node_id} is not a node of run {}", run.id));
    match store.get_node(node_id).await {
        Ok(node) if node.run_id == run.id => Ok(node),
        Ok(_) | Err(aide_store::Error::NotFound { .. }) => Err(not_of_run()),
        Err(e) => Err(store_status(e)),
    }
}

fn finished(run: &RunRecord) -> Status {
    Status::failed_precondition(format!(
        "run {} is already {}: a finished run cannot be steered",
        run.id, run.status
    ))
}
