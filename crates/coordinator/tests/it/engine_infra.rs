//! Infrastructure failures against real services: a runner that goes away in the middle of
//! an execution (a process-backend runner shut down while the script runs) costs one retry
//! of that execution on another runner, and a gateway that is not up yet costs retries of
//! the call; neither ever makes a node buggy.

use std::time::Duration;

use crate::engine_support::*;
use aide_coordinator::dispatch::GrpcExecutor;
use aide_coordinator::engine::GrpcAuthor;
use aide_coordinator::engine::{
    Answer, Author, AuthorReply, AuthorRequest, CallKind, PortError, RunEnd,
};
use aide_core::task::ReferenceTask;
use aide_core::{NodeStage, Task};
use aide_store::{CallUsage, ExecutionStatus, ExecutionStore, LedgerStore, NodeStore, RunStore};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Writes a script that takes a few seconds, and reviews by the metric line.
#[derive(Debug)]
struct SlowScriptAuthor;

impl Author for SlowScriptAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        let aide = request.hints;
        let answer = if aide.call == CallKind::Review {
            let ok = aide.last_output.contains("AIDE_METRIC: 0.25");
            Answer::FunctionArguments(
                json!({"is_bug": !ok, "summary": "slow script", "metric": ok.then_some(0.25),
                       "lower_is_better": true})
                .to_string(),
            )
        } else {
            Answer::Text(
                "Sleep, then report.\n```python\nimport time\nprint('started', flush=True)\n\
                 time.sleep(4)\nprint('AIDE_METRIC: 0.25')\n```\n"
                    .into(),
            )
        };
        Ok(AuthorReply {
            answer: Some(answer),
            usage: CallUsage {
                provider: "stub".into(),
                model: "slow".into(),
                ..CallUsage::default()
            },
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_runner_lost_mid_execution_costs_one_retry_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let first = runner(1, 35000).await;
    let second = runner(1, 35100).await;
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(data.path().join("train.csv"), "x,y\n1,2\n").expect("data");
    let task = Task::from_reference(&ReferenceTask {
        data_dir: Some(data.path().to_path_buf()),
        goal: Some("Predict y.".into()),
        ..Default::default()
    })
    .expect("task");
    let lease = claimed_run(&store, task, settings(1, 1)).await;
    let executor = GrpcExecutor::new([first.url.clone(), second.url.clone()]).expect("executor");
    let engine = engine(store.clone(), SlowScriptAuthor, executor, None);
    let driving = {
        let lease = lease.clone();
        tokio::spawn(async move { engine.drive(lease, CancellationToken::new()).await })
    };
    // Wait for the first attempt to be running, then take its runner away.
    loop {
        let nodes = store.load_tree(lease.run_id).await.expect("tree");
        if let Some(node) = nodes.first()
            && !store
                .list_executions(node.id)
                .await
                .expect("executions")
                .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.stop();

    let end = driving.await.expect("join").expect("drive");
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (1 nodes)".into()
        }
    );
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].stage, NodeStage::Reviewed);
    let review = nodes[0].review.as_ref().expect("review");
    assert!(!review.is_buggy, "{review:?}");
    assert_eq!(review.metric, Some(0.25));
    let attempts: Vec<_> = store
        .list_executions(nodes[0].id)
        .await
        .expect("executions")
        .into_iter()
        .map(|a| (a.attempt, a.status))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, ExecutionStatus::Abandoned),
            (2, ExecutionStatus::Finished)
        ]
    );
    let events = event_kinds(&store, lease.run_id).await;
    assert_eq!(
        events.iter().filter(|(k, _)| k == "infra_retry").count(),
        1,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_that_is_down_is_retried_until_it_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let rn = runner(1, 35200).await;
    let address = refusing_address().await;
    let lease = claimed_run(&store, house_prices_task(), settings(1, 1)).await;
    let engine = grpc_engine(store.clone(), &address, &[&rn.url], None);
    let driving = {
        let lease = lease.clone();
        tokio::spawn(async move { engine.drive(lease, CancellationToken::new()).await })
    };
    // Let the first calls fail, then bring the gateway up on the address.
    let retried = loop {
        let events = event_kinds(&store, lease.run_id).await;
        let retries = events.iter().filter(|(k, _)| k == "infra_retry").count();
        if retries >= 2 {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        retried
            .iter()
            .filter(|(k, _)| k == "infra_retry")
            .all(|(_, p)| p["what"] == "code call"),
        "{retried:?}"
    );
    let listener = tokio::net::TcpListener::bind(address.trim_start_matches("http://"))
        .await
        .expect("bind the gateway's address");
    let _gw = gateway_on("", listener).await;

    let end = driving.await.expect("join").expect("drive");
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (1 nodes)".into()
        }
    );
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 1);
    let review = nodes[0].review.as_ref().expect("review");
    assert!(!review.is_buggy, "{review:?}");
    // The ledger holds the answered calls only.
    assert_eq!(store.run_usage(lease.run_id).await.expect("usage").calls, 2);
}

/// A gateway that never comes up is retried a bounded number of times; then the run ends
/// FAILED and says why, instead of retrying forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_down_through_every_retry_fails_the_run_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let rn = runner(1, 35300).await;
    let address = refusing_address().await;
    let lease = claimed_run(&store, house_prices_task(), settings(1, 1)).await;
    let mut bounded = config(None);
    bounded.backoff.max_service_retries = 3;
    bounded.backoff.max = Duration::from_millis(200);
    let engine = aide_coordinator::engine::Engine::new(
        store.clone(),
        std::sync::Arc::new(GrpcAuthor::connect_lazy(&address).expect("author")),
        std::sync::Arc::new(GrpcExecutor::new([rn.url.as_str()]).expect("executor")),
        bounded,
    );
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    let RunEnd::Failed { reason } = end else {
        panic!("the run did not fail: {end:?}");
    };
    assert!(
        reason.contains("gave up after 3 retries of an unavailable service"),
        "{reason}"
    );
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, aide_store::RunStatus::Failed);
    assert_eq!(run.stop_reason.as_deref(), Some(reason.as_str()));
    let events = event_kinds(&store, lease.run_id).await;
    assert_eq!(
        events.iter().filter(|(k, _)| k == "infra_retry").count(),
        3,
        "{events:?}"
    );
}
