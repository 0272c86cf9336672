//! Steering over HTTP: a directive to a run (pin, prune, note, budget) and a fork from one
//! of its nodes; both go through the gRPC service's checks, so each refusal reads the same
//! on either API.

use aide_proto::v1;
use aide_proto::v1::coordinator_server::Coordinator;
use aide_proto::v1::steer_run_request::Directive as Wire;
use axum::Json;
use axum::extract::{Path, State};
use tonic::Code;
use uuid::Uuid;

use super::Shared;
use super::auth::Authed;
use super::problem::Problem;
use super::runs::get_run;
use super::views::{DirectiveBody, ForkBody, RunSummary, Steered};

/// Gives a running search a directive (members and admins); it is recorded as an event
/// with its author and applied in order. 409 for a finished run, a pruned node or a pin on
/// a node not reviewed yet; 404 for a node that is not the run's.
#[utoipa::path(post, path = "/api/v1/runs/{run_id}/steer", tag = "runs",
    params(("run_id" = Uuid, Path)), request_body = DirectiveBody,
    responses((status = 200, body = Steered), (status = "4XX", body = Problem)))]
pub async fn steer_run(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
    Json(body): Json<DirectiveBody>,
) -> Result<Json<Steered>, Problem> {
    let request = authed.request(v1::SteerRunRequest {
        run_id: run_id.to_string(),
        directive: Some(wire(body)),
    });
    let seq = api.coordinator.steer_run(request).await?.into_inner().seq;
    let Json(run) = get_run(State(api), authed, Path(run_id)).await?;
    Ok(Json(Steered { seq, run }))
}

/// Starts a new run from a node's code (members and admins), with the run's task and
/// settings; the source run may have finished.
#[utoipa::path(post, path = "/api/v1/runs/{run_id}/fork", tag = "runs",
    params(("run_id" = Uuid, Path)), request_body = ForkBody,
    responses((status = 200, body = RunSummary), (status = "4XX", body = Problem)))]
pub async fn fork_run(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
    Json(body): Json<ForkBody>,
) -> Result<Json<RunSummary>, Problem> {
    let request = authed.request(v1::ForkRunRequest {
        run_id: run_id.to_string(),
        node_id: body.node_id.to_string(),
        name: body.name.unwrap_or_default(),
    });
    let fork = api.coordinator.fork_run(request).await?.into_inner();
    let fork_id = Uuid::parse_str(&fork.id)
        .map_err(|_| Problem::new(Code::Internal, "the fork was made without a valid id"))?;
    get_run(State(api), authed, Path(fork_id)).await
}

fn wire(body: DirectiveBody) -> Wire {
    let node = |id: Uuid| v1::NodeRef {
        node_id: id.to_string(),
    };
    match body {
        DirectiveBody::Pin { node_id } => Wire::Pin(node(node_id)),
        DirectiveBody::Prune { node_id } => Wire::Prune(node(node_id)),
        DirectiveBody::Note { text } => Wire::Note(text),
        DirectiveBody::Budget {
            steps,
            max_run_secs,
        } => Wire::Budget(v1::BudgetChange {
            steps,
            max_run_secs,
        }),
    }
}
