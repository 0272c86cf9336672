//! One node over HTTP, with what the page about it shows: its parent's code (for the
//! diff), its children, its LLM calls and its execution attempts.

use aide_core::NodeId;
use aide_store::prelude::*;
use axum::Json;
use axum::extract::{Path, State};
use uuid::Uuid;

use super::Shared;
use super::auth::Authed;
use super::problem::Problem;
use super::views::NodeDetail;
use super::views::nodes::NodeContext;
use crate::api::{store_status, visible_run};
use crate::outputs::best_node;

/// One node in full.
#[utoipa::path(get, path = "/api/v1/nodes/{node_id}", tag = "nodes",
    params(("node_id" = Uuid, Path)),
    responses((status = 200, body = NodeDetail), (status = "4XX", body = Problem)))]
pub async fn get_node(
    State(api): State<Shared>,
    authed: Authed,
    Path(node_id): Path<Uuid>,
) -> Result<Json<NodeDetail>, Problem> {
    let store = &*api.store;
    let hidden = || Problem::not_found(format!("node {node_id} not found"));
    let node = match store.get_node(NodeId(node_id)).await {
        Ok(node) => node,
        Err(aide_store::Error::NotFound { .. }) => return Err(hidden()),
        Err(e) => return Err(store_status(e).into()),
    };
    let run = visible_run(store, &authed.caller, node.run_id)
        .await
        .map_err(|_| hidden())?;
    let (nodes, calls, executions) = tokio::try_join!(
        store.load_tree(run.id),
        store.node_llm_calls(node.id),
        store.list_executions(node.id)
    )
    .map_err(store_status)?;
    let parent_code = node
        .parent
        .and_then(|p| nodes.iter().find(|n| n.id == p))
        .and_then(|p| p.generation.as_ref())
        .and_then(|g| g.code.clone());
    let children = nodes
        .iter()
        .filter(|n| n.parent == Some(node.id))
        .map(|n| n.id.0)
        .collect();
    let is_best = best_node(&run, &nodes).is_some_and(|b| b.id == node.id);
    Ok(Json(NodeDetail::of(
        &node,
        NodeContext {
            children,
            parent_code,
            is_best,
            calls: &calls,
            executions: &executions,
        },
    )))
}
