//! Sweeps over HTTP: the list and one sweep with its cell matrix and report.

use aide_core::sweep::SweepId;
use aide_store::prelude::*;
use axum::Json;
use axum::extract::{Path, State};
use uuid::Uuid;

use super::Shared;
use super::auth::Authed;
use super::problem::Problem;
use super::views::{SweepDetail, SweepList, SweepSummary};
use crate::api::store_status;

/// Sweeps listed at most.
const MAX_SWEEPS: u32 = 200;

/// The caller's project's sweeps, newest first.
#[utoipa::path(get, path = "/api/v1/sweeps", tag = "sweeps",
    responses((status = 200, body = SweepList), (status = "4XX", body = Problem)))]
pub async fn list_sweeps(
    State(api): State<Shared>,
    authed: Authed,
) -> Result<Json<SweepList>, Problem> {
    let sweeps = api
        .store
        .list_sweeps(Some(&authed.caller.project), MAX_SWEEPS)
        .await
        .map_err(store_status)?;
    let mut summaries = Vec::with_capacity(sweeps.len());
    for sweep in &sweeps {
        let cost = api.store.sweep_cost(sweep.id).await.map_err(store_status)?;
        summaries.push(SweepSummary::of(sweep, cost));
    }
    Ok(Json(SweepList { sweeps: summaries }))
}

/// One sweep: its cells (task × arm × seed, with scores and medals) and its report.
#[utoipa::path(get, path = "/api/v1/sweeps/{sweep_id}", tag = "sweeps",
    params(("sweep_id" = Uuid, Path)),
    responses((status = 200, body = SweepDetail), (status = "4XX", body = Problem)))]
pub async fn get_sweep(
    State(api): State<Shared>,
    authed: Authed,
    Path(sweep_id): Path<Uuid>,
) -> Result<Json<SweepDetail>, Problem> {
    let hidden = || Problem::not_found(format!("sweep {sweep_id} not found"));
    let sweep = match api.store.get_sweep(SweepId(sweep_id)).await {
        Ok(sweep) if authed.caller.sees(&sweep.project) => sweep,
        Ok(_) | Err(aide_store::Error::NotFound { .. }) => return Err(hidden()),
        Err(e) => return Err(store_status(e).into()),
    };
    let cells = api.store.list_cells(sweep.id).await.map_err(store_status)?;
    Ok(Json(SweepDetail::of(&sweep, &cells)))
}
