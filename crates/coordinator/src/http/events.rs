//! A run's events as server-sent events: the stored ones after `after` (or the browser's
//! `Last-Event-ID` when it reconnects), then live ones, read through the replica's shared
//! feed, so a hundred watchers cost the store what one does. Each message's `id` is the
//! event's sequence number and its data the event with the run as it stood then; an `end`
//! message says the run is over and everything was sent (the client closes, rather than
//! reconnecting). A failure sends an `error` message with the problem and ends the stream.
//! Streams end at shutdown and count against the token's cap of open streams.

// utoipa's generated code names the query types by path.
#![allow(unused_qualifications)]

use std::collections::VecDeque;
use std::convert::Infallible;

use aide_core::RunId;
use aide_store::AnyStore;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::Shared;
use super::auth::Authed;
use super::problem::Problem;
use super::views::{EventView, LiveEvent, RunSummary};
use crate::api::WatchSlot;
use crate::api::feed::{FeedPage, RunWatch};
use crate::api::visible_run;

/// Where a stream starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Events after this sequence number (default 0). A `Last-Event-ID` header wins.
    after: Option<u64>,
}

/// A run's events, live, as `text/event-stream`.
#[utoipa::path(get, path = "/api/v1/runs/{run_id}/events/stream", tag = "runs",
    params(("run_id" = Uuid, Path), StreamQuery),
    responses((status = 200, description = "server-sent events: `id` the sequence number, \
        data a LiveEvent; an `end` event when the run is over", content_type = "text/event-stream"),
        (status = "4XX", body = Problem)))]
pub async fn event_stream(
    State(api): State<Shared>,
    authed: Authed,
    Path(run_id): Path<Uuid>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Problem> {
    let run = visible_run(&*api.store, &authed.caller, RunId(run_id)).await?;
    let after = last_event_id(&headers).or(query.after).unwrap_or(0);
    let slot = api
        .watchers
        .acquire(authed.caller.token_id, api.settings.max_watch_streams)?;
    let watch = api.feeds.watch(run.id, after).await?;
    let messages = futures::stream::unfold(
        Streaming {
            watch,
            queued: VecDeque::new(),
            ended: false,
            _slot: slot,
        },
        Streaming::next,
    )
    .take_until(api.shutdown.clone().cancelled_owned());
    Ok(Sse::new(messages.map(Ok)).keep_alive(KeepAlive::default()))
}

/// The sequence number a reconnecting browser sends.
fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// One stream's state: its watch, the messages of the page being sent, and its slot.
struct Streaming {
    watch: RunWatch<AnyStore>,
    queued: VecDeque<Event>,
    ended: bool,
    _slot: WatchSlot,
}

impl Streaming {
    async fn next(mut self) -> Option<(Event, Self)> {
        loop {
            if let Some(message) = self.queued.pop_front() {
                return Some((message, self));
            }
            if self.ended {
                return None;
            }
            match self.watch.next_page().await {
                Ok(Some(page)) => self.queued = messages(&page),
                Ok(None) => {
                    self.ended = true;
                    self.queued
                        .push_back(Event::default().event("end").data("{}"));
                }
                Err(status) => {
                    self.ended = true;
                    let problem = serde_json::to_string(&Problem::from(status)).unwrap_or_default();
                    self.queued
                        .push_back(Event::default().event("error").data(problem));
                }
            }
        }
    }
}

/// The messages of one page: each event with the run as it stood after the page.
fn messages(page: &FeedPage) -> VecDeque<Event> {
    let snapshot = &page.snapshot;
    let run = RunSummary::of(&snapshot.run, &snapshot.nodes, &snapshot.usage);
    page.events
        .iter()
        .map(|record| {
            let live = LiveEvent {
                event: EventView::of(record),
                run: run.clone(),
            };
            Event::default()
                .id(record.seq.to_string())
                .json_data(&live)
                .unwrap_or_else(|_| Event::default().id(record.seq.to_string()).data("{}"))
        })
        .collect()
}
