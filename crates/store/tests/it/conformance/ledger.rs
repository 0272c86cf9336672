//! Conformance: the LLM call ledger, run events and the runner registry.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aide_core::event::{BestChanged, RunFinished, UnrecognisedEvent};
use aide_core::{LlmPurpose, NodeId, RunEvent, RunId, RunStatus};
use aide_store::prelude::*;
use aide_store::{CallUsage, Error, NewLlmCall, PromptSize, RunnerInfo, RunnerLoad, Usage};

use super::{Harness, claimed, create};
use crate::assert_err;

pub fn call(run_id: RunId, purpose: LlmPurpose, prompt: u64, cost: f64) -> NewLlmCall {
    NewLlmCall {
        run_id,
        node_id: Some(NodeId::new()),
        purpose,
        usage: CallUsage {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            prompt_tokens: prompt,
            completion_tokens: prompt / 10,
            cached_tokens: prompt / 2,
            cost_usd: cost,
            latency_ms: 840,
            request_id: Some("req-1".into()),
            cached: false,
        },
        prompt: None,
    }
}

pub async fn llm_ledger<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let run = create(&store, "ledger").await;
    let other = create(&store, "other").await;
    assert_eq!(
        store.run_usage(run.id).await.expect("usage"),
        Usage::default()
    );

    let node = NodeId::new();
    let code_call = NewLlmCall {
        node_id: Some(node),
        prompt: Some(PromptSize {
            chars: 4321,
            tokens: 987,
        }),
        ..call(run.id, LlmPurpose::Code, 1000, 0.25)
    };
    let first = store
        .record_llm_call(code_call.clone())
        .await
        .expect("record");
    let review_call = NewLlmCall {
        node_id: Some(node),
        ..call(run.id, LlmPurpose::Feedback, 3000, 0.5)
    };
    let second = store
        .record_llm_call(review_call.clone())
        .await
        .expect("record");
    assert_ne!(first, second);
    let calls = store.node_llm_calls(node).await.expect("node calls");
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.id, c.node_id, c.purpose, c.usage.clone(), c.prompt))
            .collect::<Vec<_>>(),
        vec![
            (
                first,
                Some(node),
                LlmPurpose::Code,
                code_call.usage,
                code_call.prompt
            ),
            (
                second,
                Some(node),
                LlmPurpose::Feedback,
                review_call.usage,
                None
            ),
        ],
        "a node's calls, oldest first, as recorded"
    );
    assert!(
        store
            .node_llm_calls(NodeId::new())
            .await
            .expect("none")
            .is_empty()
    );
    let mut cached = NewLlmCall {
        node_id: None,
        ..call(run.id, LlmPurpose::Report, 0, 0.0)
    };
    cached.usage.request_id = None;
    cached.usage.cached = true;
    store
        .record_llm_call(cached)
        .await
        .expect("record cached call");
    store
        .record_llm_call(call(other.id, LlmPurpose::Code, 7, 9.0))
        .await
        .expect("record other run");

    let usage = store.run_usage(run.id).await.expect("usage");
    assert_eq!(
        (
            usage.calls,
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens
        ),
        (3, 4000, 400, 2000)
    );
    assert!((usage.cost_usd - 0.75).abs() < 1e-12, "{}", usage.cost_usd);
    let purposes: Vec<LlmPurpose> = store
        .run_llm_calls(run.id)
        .await
        .expect("run calls")
        .iter()
        .map(|c| c.purpose)
        .collect();
    assert_eq!(
        purposes,
        [LlmPurpose::Code, LlmPurpose::Feedback, LlmPurpose::Report],
        "the run's calls, oldest first, not the other run's"
    );

    assert_err!(
        store
            .record_llm_call(call(RunId::new(), LlmPurpose::Code, 1, 0.1))
            .await,
        Error::NotFound { what: "run", .. }
    );
}

fn best(step: u64) -> RunEvent {
    RunEvent::BestChanged(BestChanged {
        node_id: NodeId::new(),
        step: step as u32,
        metric: step as f64 / 10.0,
    })
}

/// An event of a kind this version does not know: stored and read back verbatim.
fn tick(t: u32, i: u32) -> RunEvent {
    RunEvent::Unrecognised(UnrecognisedEvent {
        kind: "tick".into(),
        payload: serde_json::json!({"t": t, "i": i}),
    })
}

pub async fn run_events<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let run = create(&store, "events").await;
    let other = create(&store, "other").await;
    for i in 1..=5u64 {
        let seq = store.append_event(run.id, &best(i)).await.expect("append");
        assert_eq!(seq, i);
    }
    assert_eq!(
        store
            .append_event(other.id, &best(1))
            .await
            .expect("append"),
        1
    );

    let all = store.events_after(run.id, 0, 100).await.expect("events");
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(run.last_event_seq, 0, "a new run has no events");
    let moved = store.get_run(run.id).await.expect("run");
    assert_eq!(moved.last_event_seq, 5, "the run knows its newest event");
    let RunEvent::BestChanged(third) = &all[2].event else {
        panic!("{:?}", all[2])
    };
    assert_eq!((third.step, third.metric), (3, 0.3));
    assert_eq!(all[2].run_id, run.id);
    let page = store.events_after(run.id, 2, 2).await.expect("page");
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 4]);
    assert!(
        store
            .events_after(run.id, 5, 10)
            .await
            .expect("tail")
            .is_empty()
    );
    assert_err!(
        store.append_event(RunId::new(), &best(1)).await,
        Error::NotFound { .. }
    );

    // Concurrent appenders get distinct, gap-free sequence numbers.
    let mut tasks = Vec::new();
    for t in 0..4 {
        let store = h.open().await;
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..10 {
                seqs.push(
                    store
                        .append_event(run.id, &tick(t, i))
                        .await
                        .expect("append"),
                );
            }
            seqs
        }));
    }
    let mut seqs = BTreeSet::new();
    for task in tasks {
        for seq in task.await.expect("task") {
            assert!(seqs.insert(seq), "sequence number {seq} handed out twice");
        }
    }
    assert_eq!(seqs, (6..=45).collect::<BTreeSet<u64>>());
    let all = store.events_after(run.id, 0, 1000).await.expect("events");
    assert_eq!(all.len(), 45);
    assert!(all[5..].iter().all(|e| e.event.kind() == "tick"));
    assert_eq!(all[44].event.payload()["i"], 9);
}

fn runner(id: &str, slots: u32) -> RunnerInfo {
    RunnerInfo {
        id: id.into(),
        address: format!("http://{id}:50061"),
        slots,
        labels: serde_json::json!({"backend": "docker", "gpu": false}),
    }
}

pub async fn runner_registry<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let window = Duration::from_secs(60);
    store
        .register_runner(runner("r1", 4))
        .await
        .expect("register");
    store
        .register_runner(runner("r2", 4))
        .await
        .expect("register");
    store
        .register_runner(runner("r3", 2))
        .await
        .expect("register");
    let live = store.live_runners(window).await.expect("live");
    assert_eq!(
        live.iter().map(|r| r.info.id.as_str()).collect::<Vec<_>>(),
        vec!["r1", "r2", "r3"]
    );
    assert_eq!(live[0].info, runner("r1", 4));
    assert_eq!(
        live[0].load,
        RunnerLoad {
            free_slots: 4,
            running: 0,
            cpu_load: 0.0,
            memory_load: 0.0,
            cache_bytes: None,
        }
    );

    let busy = RunnerLoad {
        free_slots: 1,
        running: 3,
        cpu_load: 0.9,
        memory_load: 0.5,
        cache_bytes: Some(3 << 30),
    };
    store.heartbeat_runner("r1", busy).await.expect("heartbeat");
    let hot = RunnerLoad {
        free_slots: 4,
        running: 0,
        cpu_load: 0.7,
        memory_load: 0.1,
        cache_bytes: None,
    };
    store.heartbeat_runner("r2", hot).await.expect("heartbeat");
    let live = store.live_runners(window).await.expect("live");
    assert_eq!(
        live.iter().map(|r| r.info.id.as_str()).collect::<Vec<_>>(),
        vec!["r2", "r3", "r1"],
        "most free slots first"
    );
    assert_eq!(live[2].load, busy);
    assert!(live[2].last_heartbeat_at >= live[2].registered_at);
    let cool = RunnerLoad {
        free_slots: 4,
        running: 0,
        cpu_load: 0.2,
        memory_load: 0.9,
        cache_bytes: Some(0),
    };
    store.heartbeat_runner("r1", cool).await.expect("heartbeat");
    let live = store.live_runners(window).await.expect("live");
    assert_eq!(
        live.iter().map(|r| r.info.id.as_str()).collect::<Vec<_>>(),
        vec!["r1", "r2", "r3"],
        "then lowest CPU load"
    );
    assert_err!(
        store.heartbeat_runner("nobody", busy).await,
        Error::NotFound { what: "runner", .. }
    );

    // Re-registration after a restart frees every slot.
    store
        .register_runner(RunnerInfo {
            address: "http://r1-new:50061".into(),
            ..runner("r1", 8)
        })
        .await
        .expect("re-register");
    let live = store.live_runners(window).await.expect("live");
    assert_eq!(live[0].info.id, "r1");
    assert_eq!(
        (
            live[0].info.slots,
            live[0].load.free_slots,
            live[0].load.running
        ),
        (8, 8, 0)
    );
    assert_eq!(live[0].info.address, "http://r1-new:50061");

    assert!(store.deregister_runner("r3").await.expect("deregister"));
    assert!(
        !store
            .deregister_runner("r3")
            .await
            .expect("deregister again")
    );

    // Silence: r1 and r2 stop heartbeating, r4 arrives later.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    store
        .register_runner(runner("r4", 1))
        .await
        .expect("register");
    let short = Duration::from_millis(600);
    let live = store.live_runners(short).await.expect("live");
    assert_eq!(
        live.iter().map(|r| r.info.id.as_str()).collect::<Vec<_>>(),
        vec!["r4"]
    );
    assert_eq!(
        store.remove_stale_runners(short).await.expect("remove"),
        vec!["r1".to_string(), "r2".to_string()]
    );
    assert!(
        store
            .remove_stale_runners(short)
            .await
            .expect("remove")
            .is_empty()
    );
    assert_eq!(store.live_runners(window).await.expect("live").len(), 1);
}

/// The ledger and events are not fenced: a lost lease does not lose accounting.
pub async fn ledger_ignores_leases<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "unfenced").await;
    store
        .finish_run(&lease, RunStatus::Failed, "crashed")
        .await
        .expect("finish");
    store
        .record_llm_call(call(lease.run_id, LlmPurpose::Report, 10, 0.01))
        .await
        .expect("record after finish");
    store
        .append_event(
            lease.run_id,
            &RunEvent::RunFinished(RunFinished {
                status: RunStatus::Failed,
                reason: "crashed".into(),
            }),
        )
        .await
        .expect("append");
    assert_eq!(store.run_usage(lease.run_id).await.expect("usage").calls, 1);
}
