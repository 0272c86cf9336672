//! Runs over HTTP: the list (filtered by status and name), one run, its tree, a page of its
//! events, cancelling it and exporting its outputs.

// utoipa's generated code names the query types by path.
#![allow(unused_qualifications)]

use aide_core::RunId;
use aide_proto::v1;
use aide_proto::v1::coordinator_server::Coordinator;
use aide_store::prelude::*;
use aide_store::{RunFilter, RunStatus};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Shared;
use super::auth::Authed;
use super::problem::Problem;
use super::views::{EventList, EventView, RunList, RunSummary, RunTree};
use crate::api::feed::RunSnapshot;
use crate::api::visible_run;

/// Runs listed when the query names no limit, and the most listed.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1000;
/// Events per page when the query names no limit, and the most.
const DEFAULT_EVENTS: u32 = 500;
const MAX_EVENTS: u32 = 1000;

/// Which runs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// queued, running, completed, failed or cancelled.
    status: Option<String>,
    /// Only runs whose name contains this text (any case).
    name: Option<String>,
    /// The caller's own project (a token sees one project; another name lists nothing).
    project: Option<String>,
    /// At most this many (default 50, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Runs of the caller's project, newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(RunQuery),
    responses((status = 200, body = RunList), (status = "4XX", body = Problem)))]
pub async fn list_runs(
    State(api): State<Shared>,
    authed: Authed,
    Query(query): Query<RunQuery>,
) -> Result<Json<RunList>, Problem> {
    let status = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(RunStatus::parse(text).ok_or_else(|| {
            Problem::invalid(format!(
                "status: {text:?} is not one of queued, running, completed, failed, cancelled"
            ))
        })?),
    };
    if query
        .project
        .as_deref()
        .is_some_and(|p| !p.is_empty() && p != authed.caller.project.as_str())
    {
        return Ok(Json(RunList { runs: Vec::new() }));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let name = query
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_lowercase();
    let records = api
        .store
        .list_runs(RunFilter {
            project: Some(authed.caller.project.clone()),
            status,
            // A name filter is applied here, so it looks through as many runs as allowed.
            limit: if name.is_empty() { limit } else { MAX_LIMIT },
        })
        .await
        .map_err(crate::api::store_status)?;
    let mut runs = Vec::new();
    for record in records
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&name))
        .take(limit as usize)
    {
        let (nodes, usage) = tokio::try_join!(
            api.store.load_tree(record.id),
            api.store.run_usage(record.id)
        )
        .map_err(crate::api::store_status)?;
        runs.push(RunSummary::of(record, &nodes, &usage));
    }
    Ok(Json(RunList { runs }))
}

/// One run.
#[utoipa::path(get, path = "/api/v1/runs/{run_id}", tag = "runs",
    params(("run_id" = Uuid, Path)),
    responses((status = 200, body = RunSummary), (status = "4XX", body = Problem)))]
pub async fn get_run(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
) -> Result<Json<RunSummary>, Problem> {
    let snapshot = visible_snapshot(&api, &authed, RunId(run_id)).await?;
    Ok(Json(RunSummary::of(
        &snapshot.run,
        &snapshot.nodes,
        &snapshot.usage,
    )))
}

/// Asks a run to stop (members and admins); a finished run is returned unchanged.
#[utoipa::path(post, path = "/api/v1/runs/{run_id}/cancel", tag = "runs",
    params(("run_id" = Uuid, Path)),
    responses((status = 200, body = RunSummary), (status = "4XX", body = Problem)))]
pub async fn cancel_run(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
) -> Result<Json<RunSummary>, Problem> {
    let request = authed.request(v1::CancelRunRequest {
        run_id: run_id.to_string(),
    });
    api.coordinator.cancel_run(request).await?;
    get_run(State(api), authed, Path(run_id)).await
}

/// A run's whole tree, each node without its texts, and the path to the best node.
#[utoipa::path(get, path = "/api/v1/runs/{run_id}/tree", tag = "runs",
    params(("run_id" = Uuid, Path)),
    responses((status = 200, body = RunTree), (status = "4XX", body = Problem)))]
pub async fn run_tree(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
) -> Result<Json<RunTree>, Problem> {
    let snapshot = visible_snapshot(&api, &authed, RunId(run_id)).await?;
    Ok(Json(RunTree::of(
        &snapshot.run,
        &snapshot.nodes,
        &snapshot.usage,
    )))
}

/// Which events to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Events after this sequence number (default 0: from the first).
    after: Option<u64>,
    /// At most this many (default 500, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A page of a run's event log, in order.
#[utoipa::path(get, path = "/api/v1/runs/{run_id}/events", tag = "runs",
    params(("run_id" = Uuid, Path), EventQuery),
    responses((status = 200, body = EventList), (status = "4XX", body = Problem)))]
pub async fn run_events(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
    Query(query): Query<EventQuery>,
) -> Result<Json<EventList>, Problem> {
    let run = visible_run(&*api.store, &authed.caller, RunId(run_id)).await?;
    let limit = query.limit.unwrap_or(DEFAULT_EVENTS).clamp(1, MAX_EVENTS);
    let events = api
        .store
        .events_after(run.id, query.after.unwrap_or(0), limit)
        .await
        .map_err(crate::api::store_status)?;
    Ok(Json(EventList {
        events: events.iter().map(EventView::of).collect(),
    }))
}

/// What to export.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Journal,
    BestSolution,
    Submission,
    TreeHtml,
    Report,
}

impl From<ExportFormat> for v1::ExportFormat {
    fn from(format: ExportFormat) -> Self {
        match format {
            ExportFormat::Journal => Self::Journal,
            ExportFormat::BestSolution => Self::BestSolution,
            ExportFormat::Submission => Self::Submission,
            ExportFormat::TreeHtml => Self::TreeHtml,
            ExportFormat::Report => Self::Report,
        }
    }
}

/// One of a run's outputs as a download, byte for byte what `aide export` writes.
#[utoipa::path(get, path = "/api/v1/runs/{run_id}/export/{format}", tag = "runs",
    params(("run_id" = Uuid, Path), ("format" = inline(ExportFormat), Path)),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
        (status = "4XX", body = Problem)))]
pub async fn export_run(
    State(api): State<Shared>,
    authed: Authed,
    Path((run_id, format)): Path<(Uuid, ExportFormat)>,
) -> Result<Response, Problem> {
    let request = authed.request(v1::ExportRunRequest {
        run_id: run_id.to_string(),
        format: v1::ExportFormat::from(format) as i32,
    });
    let mut stream = api.coordinator.export_run(request).await?.into_inner();
    let first = match stream.next().await {
        Some(first) => first?,
        None => return Err(Problem::not_found("the export is empty")),
    };
    let name = safe_file_name(&first.file_name);
    let rest = stream.map(|piece| {
        piece
            .map(|p| p.content)
            .map_err(|status| std::io::Error::other(status.message().to_owned()))
    });
    let body = futures::stream::once(async move { Ok(first.content) }).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// A file name fit for a header: its last component, quotes and controls left out.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = base
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .collect();
    if kept.trim().is_empty() {
        "export".to_owned()
    } else {
        kept
    }
}

/// The run, its tree and usage, when the caller's project holds it.
async fn visible_snapshot(
    api: &Shared,
    authed: &Authed,
    run_id: RunId,
) -> Result<RunSnapshot, Problem> {
    let run = visible_run(&*api.store, &authed.caller, run_id).await?;
    Ok(RunSnapshot::of(&*api.store, run).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_are_safe_in_a_header() {
        assert_eq!(safe_file_name("submission.csv"), "submission.csv");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("a\"b\r\n.csv"), "ab.csv");
        assert_eq!(safe_file_name("\"\""), "export");
    }
}
