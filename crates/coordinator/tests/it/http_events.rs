//! Server-sent events as a browser reads them: the stored events, then live ones, each
//! with its sequence number as the message id and the run beside it; a reconnect with
//! `Last-Event-ID` resumes after it; the stream ends with an `end` message once the run is
//! over. And the point of the shared feed: a hundred watchers of one run cost the store
//! what one watcher does (Postgres's own count of the test database's transactions).

use std::sync::Arc;
use std::time::Duration;

use aide_core::RunEvent;
use aide_core::RunStatus;
use aide_core::event::{BestChanged, RunFinished};
use aide_store::prelude::*;
use aide_testkit::sse::EventReader;
use reqwest::Method;

use crate::http_support::{Web, run_web};

crate::web_tests!(a_stream_sends_stored_then_live_events_resumes_and_ends_with_the_run);

const WITHIN: Duration = Duration::from_secs(10);

fn best(step: u32) -> RunEvent {
    RunEvent::BestChanged(BestChanged {
        node_id: aide_core::NodeId::new(),
        step,
        metric: f64::from(step),
    })
}

async fn stream(web: &Web, run: aide_core::RunId, last_event_id: Option<u64>) -> EventReader {
    let mut request = web.request(
        Method::GET,
        &format!("/api/v1/runs/{run}/events/stream?after=0"),
        Some(web.member()),
    );
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    EventReader::new(request.send().await.expect("stream"))
}

async fn a_stream_sends_stored_then_live_events_resumes_and_ends_with_the_run(web: Arc<Web>) {
    let h = &web.harness;
    let lease = h.running_run("streamed").await;
    let run = lease.run_id;
    let stored = h.store.append_event(run, &best(1)).await.expect("append");
    let mut reader = stream(&web, run, None).await;
    let first = reader.next(WITHIN).await.expect("a stored event");
    assert_eq!(first.id.as_deref(), Some(stored.to_string().as_str()));
    let data = first.json();
    assert_eq!(data["kind"], "best_changed");
    assert_eq!(data["seq"], stored);
    assert_eq!(data["run"]["id"], run.to_string());
    assert_eq!(data["run"]["status"], "running");

    let live = h.store.append_event(run, &best(2)).await.expect("append");
    h.notifier.notify(run);
    let next = reader.next(WITHIN).await.expect("a live event");
    assert_eq!(next.id.as_deref(), Some(live.to_string().as_str()));
    assert_eq!(next.json()["payload"]["step"], 2);

    // A browser reconnecting after the first event gets the second, and nothing twice.
    let mut resumed = stream(&web, run, Some(stored)).await;
    let again = resumed.next(WITHIN).await.expect("the event after it");
    assert_eq!(again.id.as_deref(), Some(live.to_string().as_str()));

    h.store
        .finish_run(&lease, RunStatus::Completed, "steps budget reached")
        .await
        .expect("finish");
    let finished = h
        .store
        .append_event(
            run,
            &RunEvent::RunFinished(RunFinished {
                status: RunStatus::Completed,
                reason: "steps budget reached".into(),
            }),
        )
        .await
        .expect("append");
    h.notifier.notify(run);
    for reader in [&mut reader, &mut resumed] {
        let rest = reader.rest(WITHIN).await;
        let kinds: Vec<(Option<String>, String)> = rest
            .iter()
            .map(|m| (m.id.clone(), m.event.clone()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Some(finished.to_string()), "message".to_owned()),
                (None, "end".to_owned())
            ]
        );
        assert_eq!(rest[0].json()["run"]["status"], "completed");
    }
    // A stream opened after the end sends the history, then the end at once.
    let mut late = stream(&web, run, None).await;
    let history = late.rest(WITHIN).await;
    assert_eq!(history.last().map(|m| m.event.as_str()), Some("end"));
    assert_eq!(history.len(), 4, "three events and the end: {history:?}");
    let deadline = std::time::Instant::now() + WITHIN;
    while web.harness.notifier.watched_runs() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a feed outlived its watchers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Transactions Postgres counted in the test's database so far (its statistics are
/// flushed within about a second, hence the pause).
async fn transactions(url: &str) -> i64 {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    let count: i64 = sqlx::query_scalar(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut connection)
    .await
    .expect("statistics");
    sqlx::Connection::close(connection).await.expect("close");
    count
}

/// Opens `watchers` streams of `run` after its `seen` event, proves each live with one
/// event, then appends `events` events as the engine does (appended, then notified) and
/// waits until every stream received them all. The store's transactions over that span.
async fn store_load(web: &Web, url: &str, watchers: usize, events: u32) -> i64 {
    let h = &web.harness;
    let run = h
        .store
        .list_runs(aide_store::RunFilter::default())
        .await
        .expect("runs")
        .remove(0);
    let seen = run.last_event_seq;
    let mut readers = Vec::new();
    for _ in 0..watchers {
        readers.push(stream(web, run.id, Some(seen)).await);
    }
    let marker = h
        .store
        .append_event(run.id, &best(0))
        .await
        .expect("append");
    h.notifier.notify(run.id);
    for reader in &mut readers {
        let first = reader.next(WITHIN).await.expect("the marker");
        assert_eq!(first.id, Some(marker.to_string()));
    }
    let before = transactions(url).await;
    for step in 1..=events {
        h.store
            .append_event(run.id, &best(step))
            .await
            .expect("append");
        h.notifier.notify(run.id);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for reader in &mut readers {
        for _ in 0..events {
            reader.next(WITHIN).await.expect("a live event");
        }
    }
    transactions(url).await - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_watchers_cost_the_store_what_one_watcher_does() {
    run_web(Web::postgres().await, |web| async move {
        let url = web.harness.database_url().expect("Postgres").to_owned();
        web.harness.running_run("watched by many").await;
        let one = store_load(&web, &url, 1, 20).await;
        let hundred = store_load(&web, &url, 100, 20).await;
        eprintln!("store transactions for 20 events: 1 watcher {one}, 100 watchers {hundred}");
        assert!(
            hundred <= one * 2 + 20,
            "100 watchers cost {hundred} transactions against {one} for one"
        );
    })
    .await;
}
