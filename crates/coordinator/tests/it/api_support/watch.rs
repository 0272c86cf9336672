//! WatchRun: stored events, then live ones, then the end of the stream.

use std::sync::Arc;
use std::time::Duration;

use aide_core::event::{NodeCreated, NodeReviewed, RunFinished};
use aide_core::{Action, NodeId, RunEvent, RunRng};
use aide_proto::v1;
use aide_store::{EventStore, RunStatus, RunStore};
use tonic::{Code, Streaming};

use super::{Harness, test_config};

const WAIT: Duration = Duration::from_secs(10);

async fn next(stream: &mut Streaming<v1::RunEvent>) -> v1::RunEvent {
    tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("an event in time")
        .expect("stream healthy")
        .expect("an event, not the end")
}

async fn assert_ends(stream: &mut Streaming<v1::RunEvent>) {
    let end = tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("the stream ends in time")
        .expect("stream healthy");
    assert!(end.is_none(), "unexpected event {end:?}");
}

fn created(step: u32) -> RunEvent {
    RunEvent::NodeCreated(NodeCreated {
        node_id: NodeId::new(),
        parent: None,
        partner: None,
        action: Action::Draft,
        step,
        debug_depth: 0,
        rng: RunRng::from_seed(1),
        pin: None,
    })
}

fn reviewed(step: u32) -> RunEvent {
    RunEvent::NodeReviewed(NodeReviewed {
        node_id: NodeId::new(),
        step,
        action: Action::Draft,
        buggy: false,
        metric: Some(0.5),
        bug_reasons: Vec::new(),
    })
}

/// The event a protocol message carries.
fn decoded(event: &v1::RunEvent) -> RunEvent {
    let payload = serde_json::from_str(&event.payload_json).expect("json");
    RunEvent::from_parts(&event.kind, payload)
}

pub async fn watch_delivers_stored_then_live_events_and_ends_with_the_run(h: Arc<Harness>) {
    let lease = h.running_run("watched").await;
    let run = lease.run_id;
    for i in 1..=3 {
        h.store
            .append_event(run, &created(i))
            .await
            .expect("append");
    }
    let mut stream = h
        .client()
        .watch_run(v1::WatchRunRequest {
            run_id: run.to_string(),
            after_seq: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    // Three stored events over two pages (the test page size is 2), in order.
    for seq in 1..=3 {
        let event = next(&mut stream).await;
        assert_eq!((event.seq, event.kind.as_str()), (seq, "node_created"));
        assert_eq!(event.run_id, run.to_string());
        let RunEvent::NodeCreated(created) = decoded(&event) else {
            panic!("{event:?}")
        };
        assert_eq!(u64::from(created.step), seq);
        let snapshot = event.run.expect("run snapshot");
        assert_eq!(snapshot.status(), v1::RunStatus::Running);
        assert!(event.at.is_some());
    }

    // A live node and event, picked up by polling (nobody notifies).
    h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    h.store
        .append_event(run, &reviewed(0))
        .await
        .expect("append");
    let event = next(&mut stream).await;
    assert_eq!((event.seq, event.kind.as_str()), (4, "node_reviewed"));
    let snapshot = event.run.expect("run snapshot");
    assert_eq!((snapshot.nodes, snapshot.reviewed), (1, 1));
    assert_eq!(snapshot.best_metric.map(|m| m.value), Some(0.5));

    // The engine's way: finish, append run_finished, notify.
    h.store
        .finish_run(&lease, RunStatus::Completed, "steps budget reached")
        .await
        .expect("finish");
    h.store
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
    let event = next(&mut stream).await;
    assert_eq!((event.seq, event.kind.as_str()), (5, "run_finished"));
    let snapshot = event.run.expect("run snapshot");
    assert_eq!(snapshot.status(), v1::RunStatus::Completed);
    assert_eq!(snapshot.stop_reason, "steps budget reached");
    assert_ends(&mut stream).await;

    // Watching a finished run replays from after_seq and ends.
    let mut stream = h
        .client()
        .watch_run(v1::WatchRunRequest {
            run_id: run.to_string(),
            after_seq: 3,
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(next(&mut stream).await.seq, 4);
    assert_eq!(next(&mut stream).await.seq, 5);
    assert_ends(&mut stream).await;
}

pub async fn watch_ends_for_a_run_cancelled_without_engine_events(h: Arc<Harness>) {
    let run = h.queued_run("queued").await;
    let mut stream = h
        .client()
        .watch_run(v1::WatchRunRequest {
            run_id: run.id.to_string(),
            after_seq: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    h.client()
        .cancel_run(v1::CancelRunRequest {
            run_id: run.id.to_string(),
        })
        .await
        .expect("cancel");
    // The only event is the audit trail's record of the cancel; then the stream ends.
    let audit = tokio::time::timeout(WAIT, stream.message())
        .await
        .expect("in time")
        .expect("stream healthy")
        .expect("the cancel_requested event");
    assert_eq!(audit.kind, "cancel_requested");
    assert_ends(&mut stream).await;

    let unknown = h
        .client()
        .watch_run(v1::WatchRunRequest {
            run_id: uuid::Uuid::now_v7().to_string(),
            after_seq: 0,
        })
        .await
        .expect_err("unknown run");
    assert_eq!(unknown.code(), Code::NotFound);
}

pub async fn a_watcher_that_goes_away_ends_its_task(h: Arc<Harness>) {
    let lease = h.running_run("abandoned watch").await;
    let stream = h
        .client()
        .watch_run(v1::WatchRunRequest {
            run_id: lease.run_id.to_string(),
            after_seq: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(h.notifier.watched_runs(), 1);
    drop(stream);
    // The task notices at its next wait and drops its subscription.
    let deadline = tokio::time::Instant::now() + WAIT;
    while h.notifier.watched_runs() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watch task lingers"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn a_notified_watcher_wakes_without_waiting_for_the_poll(h: Arc<Harness>) {
    let config = aide_coordinator::api::ApiConfig {
        watch_poll: Duration::from_secs(60),
        ..test_config()
    };
    let (mut client, notifier) = h.another_server(config).await;
    let lease = h.running_run("notified").await;
    let mut stream = client
        .watch_run(v1::WatchRunRequest {
            run_id: lease.run_id.to_string(),
            after_seq: 0,
        })
        .await
        .expect("watch")
        .into_inner();
    // Give the watch task time to reach its wait, then append and poke it the way the
    // engine's hook does.
    tokio::time::sleep(Duration::from_millis(200)).await;
    h.store
        .append_event(lease.run_id, &created(0))
        .await
        .expect("append");
    (notifier.hook().0)(lease.run_id);
    let event = next(&mut stream).await;
    assert_eq!(event.seq, 1, "delivered long before the 60 s poll");
}
