//! 500 watch streams against a real `aide serve` while it drives a run (issue 10): past the
//! per-token cap (32) they are refused with RESOURCE_EXHAUSTED at once, and the streams that
//! stay open cost the run nothing — its lease is never lost (no `run_resumed`, one epoch).

use std::time::Duration;

use aide_proto::bearer::{Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use aide_store::{EventStore, RunStore};
use tonic::Code;

use crate::serve_support::Server;
use crate::support::stdout;

const STREAMS: usize = 500;
const CAP: usize = 32;

#[test]
fn five_hundred_watch_streams_are_capped_and_cost_the_run_no_lease() {
    let Some(server) = Server::start() else {
        return;
    };
    let submitted = server.client(&["submit", "examples/diabetes", "--steps", "40"]);
    assert_eq!(submitted.status.code(), Some(0));
    let run = stdout(&submitted);
    aide_testkit::block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(server.url.clone())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let token: aide_core::access::Token = server.token.parse().expect("token");
        let client = CoordinatorClient::new(authed(channel, Bearer::new(&token)));
        let run_id: aide_core::RunId = aide_core::RunId(run.parse().expect("run id"));
        let store = aide_store::connect(server.database_url())
            .await
            .expect("store");
        wait_running(&store, run_id).await;

        let mut watching = tokio::task::JoinSet::new();
        for _ in 0..STREAMS {
            let mut client = client.clone();
            let request = v1::WatchRunRequest {
                run_id: run.clone(),
                after_seq: 0,
            };
            watching.spawn(async move { client.watch_run(request).await });
        }
        let opened = watching.join_all().await;
        let (open, refused): (Vec<_>, Vec<_>) = opened.into_iter().partition(Result::is_ok);
        assert_eq!(open.len(), CAP, "streams under the cap stay open");
        assert_eq!(refused.len(), STREAMS - CAP);
        for status in refused.into_iter().filter_map(Result::err) {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        }
        // The open streams follow the run for a while (each polls the store) while the
        // supervisor renews its lease every few seconds.
        tokio::time::sleep(Duration::from_secs(12)).await;
        drop(open);
        let events = store.events_after(run_id, 0, 10_000).await.expect("events");
        let kinds: Vec<&str> = events.iter().map(|e| e.event.kind()).collect();
        assert!(
            !kinds.contains(&"run_resumed"),
            "the lease was lost: {kinds:?}"
        );
        assert_eq!(kinds.iter().filter(|k| **k == "run_started").count(), 1);
        let record = store.get_run(run_id).await.expect("run");
        assert!(!record.status.is_terminal() || record.status == aide_store::RunStatus::Completed);
        store.close().await;
    });
    assert_eq!(server.client(&["cancel", &run]).status.code(), Some(0));
}

/// Waits until the run is being driven (its lease taken).
async fn wait_running(store: &aide_store::AnyStore, run_id: aide_core::RunId) {
    for _ in 0..600 {
        let events = store.events_after(run_id, 0, 100).await.expect("events");
        if events.iter().any(|e| e.event.kind() == "run_started") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run never started");
}
