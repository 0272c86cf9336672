//! The run loop end to end over real components on loopback: a real aide-gateway (the
//! offline baseline, or a mock OpenAI provider with prices), a real aide-runner with the
//! process backend, a SQLite store, and the shared house-prices data.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::engine_support::*;
use aide_coordinator::engine::{Answer, Author, AuthorReply, AuthorRequest, PortError, RunEnd};
use aide_core::task::ReferenceTask;
use aide_core::{BugReason, LlmPurpose, NodeStage, Task};
use aide_store::{
    CallUsage, ExecutionStatus, ExecutionStore, LedgerStore, NodeStore, RunStatus, RunStore,
};
use axum::{Json, Router, routing::post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn count(events: &[(String, Value)], kind: &str) -> usize {
    events.iter().filter(|(k, _)| k == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn six_steps_on_house_prices_with_the_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let gw = gateway("").await;
    let rn = runner(2, 31000).await;
    let lease = claimed_run(&store, house_prices_task(), settings(6, 3)).await;
    let outputs = dir.path().join("outputs");
    let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], Some(outputs.clone()));
    let started = Instant::now();
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    eprintln!("6-step house-prices run took {:.1?}", started.elapsed());
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (6 nodes)".into()
        }
    );

    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 6);
    assert_eq!(
        nodes.iter().map(|n| n.step).collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>()
    );
    assert!(
        nodes.iter().all(|n| n.stage == NodeStage::Reviewed),
        "{nodes:#?}"
    );
    assert_eq!(
        nodes.iter().filter(|n| n.parent.is_none()).count().min(3),
        3
    );
    let best = nodes
        .iter()
        .filter_map(|n| {
            n.review
                .as_ref()
                .filter(|r| !r.is_buggy)
                .and_then(|r| r.metric)
        })
        .fold(f64::INFINITY, f64::min);
    assert!(
        best < 0.2,
        "best metric {best}: {:#?}",
        nodes.iter().map(|n| &n.review).collect::<Vec<_>>()
    );

    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(
        run.stop_reason.as_deref(),
        Some("steps budget reached (6 nodes)")
    );
    assert_eq!(run.direction, Some(aide_core::Direction::Minimize));

    let events = event_kinds(&store, lease.run_id).await;
    assert_eq!(count(&events, "node_created"), 6);
    assert_eq!(count(&events, "node_reviewed"), 6);
    assert!(count(&events, "best_changed") >= 1);
    assert_eq!(count(&events, "run_finished"), 1);
    assert_eq!(count(&events, "infra_retry"), 0);
    assert_eq!(count(&events, "run_started"), 1);
    assert_eq!(
        count(&events, "run_resumed"),
        0,
        "a fresh run is not resumed"
    );

    // Every finished execution names the runner that ran it (from its Started event).
    for node in nodes.iter().filter(|n| n.execution.is_some()) {
        let attempts = store.list_executions(node.id).await.expect("executions");
        let finished: Vec<_> = attempts
            .iter()
            .filter(|a| a.status == ExecutionStatus::Finished)
            .collect();
        assert_eq!(finished.len(), 1, "{attempts:#?}");
        assert_eq!(
            finished[0]
                .result
                .as_ref()
                .and_then(|r| r.runner_id.as_deref()),
            Some("test-runner")
        );
    }

    let usage = store.run_usage(lease.run_id).await.expect("usage");
    let reviews = nodes.iter().filter(|n| n.execution.is_some()).count() as u64;
    assert_eq!(usage.calls, 6 + reviews);
    assert_eq!(usage.cost_usd, 0.0);

    let out = outputs.join(lease.run_id.to_string());
    for file in [
        "best_solution.py",
        "journal.json",
        "tree.html",
        "config.json",
        "report.md",
    ] {
        assert!(
            out.join(file).is_file(),
            "{file} missing in {}",
            out.display()
        );
    }
    let submission = std::fs::read_to_string(out.join("best_submission.csv")).expect("submission");
    assert!(
        submission.starts_with("Id,SalePrice"),
        "{}",
        &submission[..40.min(submission.len())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_run_resumes_without_duplicates() {
    // Enough steps that the first owner, stopped after two reviews, cannot have created
    // them all (at 5, warm executions let it finish before the test's poll saw two).
    const STEPS: u32 = 10;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let gw = gateway("").await;
    let rn = runner(2, 32000).await;
    let mut s = settings(STEPS, 2);
    s.workers = 2;
    let lease = claimed_run(&store, house_prices_task(), s).await;
    let cancel = CancellationToken::new();
    let first = {
        let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], None);
        let (lease, cancel) = (lease.clone(), cancel.clone());
        tokio::spawn(async move { engine.drive(lease, cancel).await })
    };
    loop {
        let nodes = store.load_tree(lease.run_id).await.expect("tree");
        if nodes
            .iter()
            .filter(|n| n.stage == NodeStage::Reviewed)
            .count()
            >= 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cancel.cancel();
    assert_eq!(
        first.await.expect("join").expect("drive"),
        RunEnd::Interrupted
    );
    let left = store.load_tree(lease.run_id).await.expect("tree");
    assert!(
        left.len() < STEPS as usize,
        "the first owner should not have finished: {}",
        left.len()
    );

    let second = claim(&store).await;
    assert_eq!(second.run_id, lease.run_id);
    assert!(second.epoch > lease.epoch);
    let outputs = dir.path().join("outputs");
    let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], Some(outputs.clone()));
    let end = engine
        .drive(second, CancellationToken::new())
        .await
        .expect("drive");
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: format!("steps budget reached ({STEPS} nodes)")
        }
    );

    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    let steps: BTreeSet<u32> = nodes.iter().map(|n| n.step).collect();
    assert_eq!(nodes.len(), STEPS as usize);
    assert_eq!(steps, (0..STEPS).collect());
    assert!(nodes.iter().all(|n| n.stage == NodeStage::Reviewed));
    // Nodes carried over keep their identity: every node created before the interruption
    // is still there.
    for old in &left {
        assert!(nodes.iter().any(|n| n.id == old.id && n.step == old.step));
    }
    // The best node's submission is in the store and in the outputs, whichever owner ran it.
    let run = store.get_run(lease.run_id).await.expect("run");
    let best = aide_coordinator::outputs::best_node(&run, &nodes).expect("a good node");
    let stored = store
        .get_node_file(best.id, "submission.csv")
        .await
        .expect("file")
        .expect("the best node's submission is stored");
    let written = std::fs::read(
        outputs
            .join(lease.run_id.to_string())
            .join("best_submission.csv"),
    )
    .expect("best submission in the outputs");
    // This engine has no blob store: the file is kept in its row.
    assert_eq!(
        stored,
        aide_store::NodeFile::inline("submission.csv", written)
    );
    let events = event_kinds(&store, lease.run_id).await;
    // The first claim found no node (a start); the second one resumed the run.
    assert_eq!(count(&events, "run_started"), 1);
    assert_eq!(count(&events, "run_resumed"), 1);
    assert_eq!(count(&events, "node_created"), STEPS as usize);
}

/// An author whose code replies are prose (a stand-in for a model that forgot the code).
#[derive(Debug)]
struct ProseAuthor;

impl Author for ProseAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        assert_eq!(
            request.purpose,
            LlmPurpose::Code,
            "no review is asked for a node without code"
        );
        Ok(AuthorReply {
            answer: Some(Answer::Text(
                "I would train a gradient-boosting model on the numeric columns and predict \
                 the test set with it."
                    .into(),
            )),
            usage: CallUsage {
                provider: "stub".into(),
                model: "prose".into(),
                ..CallUsage::default()
            },
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_without_code_is_a_buggy_node_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let lease = claimed_run(&store, house_prices_task(), settings(2, 2)).await;
    // Nothing may be executed: the only runner address refuses connections.
    let executor = aide_coordinator::dispatch::GrpcExecutor::new([refusing_address().await])
        .expect("executor");
    let engine = engine(store.clone(), ProseAuthor, executor, None);
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (2 nodes)".into()
        }
    );
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 2);
    for node in &nodes {
        let review = node.review.as_ref().expect("reviewed");
        assert!(review.is_buggy);
        assert_eq!(review.bug_reasons, vec![BugReason::NoCode]);
        let generation = node.generation.as_ref().expect("generated");
        assert!(generation.code.is_none());
        assert!(
            generation
                .raw_reply
                .as_deref()
                .is_some_and(|r| r.contains("gradient"))
        );
        assert!(
            store
                .list_executions(node.id)
                .await
                .expect("executions")
                .is_empty()
        );
    }
    assert_eq!(store.run_usage(lease.run_id).await.expect("usage").calls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_runner_costs_one_execution_retry_not_a_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let gw = gateway("").await;
    let rn = runner(1, 33000).await;
    let refused = refusing_address().await;
    let lease = claimed_run(&store, house_prices_task(), settings(1, 1)).await;
    // Both runners are idle, so the first in the list (the dead one) is tried first.
    let engine = grpc_engine(store.clone(), &gw.url, &[&refused, &rn.url], None);
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (1 nodes)".into()
        }
    );
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 1);
    let review = nodes[0].review.as_ref().expect("reviewed");
    assert!(!review.is_buggy, "{review:?}\n{:?}", nodes[0].execution);
    let attempts = store
        .list_executions(nodes[0].id)
        .await
        .expect("executions");
    let statuses: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (1, ExecutionStatus::Abandoned),
            (2, ExecutionStatus::Finished)
        ]
    );
    let events = event_kinds(&store, lease.run_id).await;
    let retries: Vec<_> = events.iter().filter(|(k, _)| k == "infra_retry").collect();
    assert_eq!(retries.len(), 1, "{retries:?}");
    assert!(
        retries[0].1["what"]
            .as_str()
            .is_some_and(|w| w.contains("execution attempt 1"))
    );
}

/// A mock OpenAI Chat Completions provider: code replies print a metric line; reviews are
/// `submit_review` tool calls; every answer reports 1000 prompt and 500 completion tokens.
async fn chat(Json(body): Json<Value>) -> Json<Value> {
    let message = if body.get("tools").is_some() {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "submit_review", "arguments": "{\"is_bug\": false, \"summary\": \"ran\", \"metric\": 0.5, \"lower_is_better\": true}"}}]})
    } else {
        json!({"role": "assistant", "content": "A plan.\n```python\nprint('AIDE_METRIC: 0.5')\n```"})
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cost_budget_stops_the_run_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    // The provider.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let app = Router::new().route("/v1/chat/completions", post(chat));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("mock") });
    let prices = dir.path().join("prices.toml");
    std::fs::write(
        &prices,
        "[mock]\n\"test-model\" = { input = 2.0, output = 10.0 }\n",
    )
    .expect("prices");
    let gw = gateway(&format!(
        "prices_file = \"{}\"\n[providers.mock]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n\
         [retry]\nmax_attempts = 2\nbase_delay_ms = 10\n",
        prices.display()
    ))
    .await;
    let rn = runner(1, 34000).await;
    // A tiny task without test data, readable by the sandbox users.
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(data.path().join("train.csv"), "x,y\n1,2\n2,4\n").expect("data");
    let task = Task::from_reference(&ReferenceTask {
        data_dir: Some(data.path().to_path_buf()),
        goal: Some("Predict y from x.".into()),
        eval: Some("mean absolute error".into()),
        desc_file: None,
    })
    .expect("task");
    let mut s = settings(5, 2);
    s.code.model = "mock/test-model".into();
    s.feedback.model = "mock/test-model".into();
    // The first node's two priced calls exhaust the budget before a second node starts.
    s.max_cost_usd = Some(1e-9);
    let lease = claimed_run(&store, task, s).await;
    let per_call = {
        let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], None);
        let end = engine
            .drive(lease.clone(), CancellationToken::new())
            .await
            .expect("drive");
        let usage = store.run_usage(lease.run_id).await.expect("usage");
        assert!(
            usage.cost_usd > 0.0,
            "the mock provider is priced: {usage:?}"
        );
        let RunEnd::Completed { reason } = end else {
            panic!("{end:?}")
        };
        assert!(reason.starts_with("cost budget reached ($"), "{reason}");
        usage.cost_usd / usage.calls as f64
    };
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 1, "the first node's cost exhausts the budget");
    assert!(nodes.iter().all(|n| n.stage == NodeStage::Reviewed));
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, RunStatus::Completed);
    assert!(
        run.stop_reason
            .expect("reason")
            .starts_with("cost budget reached")
    );
    assert!(per_call > 0.0);
}

/// An author that, on its first call, does something to the run (through the store) before
/// answering with prose.
struct MeddlingAuthor {
    store: std::sync::Arc<aide_store::AnyStore>,
    lease: aide_store::Lease,
    steal: bool,
    calls: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for MeddlingAuthor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeddlingAuthor")
    }
}

impl Author for MeddlingAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        if self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            if self.steal {
                // Another replica takes the run over while this call is in flight.
                self.store
                    .release_lease(&self.lease)
                    .await
                    .expect("release");
                let rival = self
                    .store
                    .claim_run("rival", Duration::from_secs(60))
                    .await
                    .expect("claim")
                    .expect("claimable");
                assert!(rival.epoch > self.lease.epoch);
            } else {
                self.store
                    .request_cancel(self.lease.run_id)
                    .await
                    .expect("cancel");
                // Far longer than the test may take, so finishing at all shows the call
                // was not awaited, however loaded the machine is.
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
        ProseAuthor.complete(request).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_stops_the_loop_without_finishing_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let lease = claimed_run(&store, house_prices_task(), settings(3, 3)).await;
    let author = MeddlingAuthor {
        store: store.clone(),
        lease: lease.clone(),
        steal: true,
        calls: Default::default(),
    };
    let executor = aide_coordinator::dispatch::GrpcExecutor::new([refusing_address().await])
        .expect("executor");
    let end = engine(store.clone(), author, executor, None)
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert_eq!(end, RunEnd::LeaseLost);
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(
        (run.status, run.owner.as_deref()),
        (RunStatus::Running, Some("rival"))
    );
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(nodes.len(), 1, "no node is created after the lease is lost");
    assert_eq!(
        nodes[0].stage,
        NodeStage::Pending,
        "the refused write changed nothing"
    );
    let events = event_kinds(&store, lease.run_id).await;
    assert_eq!(count(&events, "run_finished"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_finishes_the_run_as_cancelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let lease = claimed_run(&store, house_prices_task(), settings(5, 5)).await;
    let author = MeddlingAuthor {
        store: store.clone(),
        lease: lease.clone(),
        steal: false,
        calls: Default::default(),
    };
    let executor = aide_coordinator::dispatch::GrpcExecutor::new([refusing_address().await])
        .expect("executor");
    let mut config = config(None);
    // Renewals (which report the cancel request) every 100 ms.
    config.lease_ttl = Duration::from_millis(300);
    let engine = aide_coordinator::engine::Engine::new(
        store.clone(),
        std::sync::Arc::new(author),
        std::sync::Arc::new(executor),
        config,
    );
    let started = Instant::now();
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert_eq!(end, RunEnd::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the in-flight call was not awaited"
    );
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, RunStatus::Cancelled);
    assert_eq!(run.stop_reason.as_deref(), Some("cancelled by request"));
    assert!(store.load_tree(lease.run_id).await.expect("tree").len() < 5);
}
