//! Conformance: the stage writes ([`StageStore`]) — each writes what its separate calls
//! write (node, events, ledger, attempt result, node file), and a refused one writes only
//! what those calls would have: a paid call's ledger row, an attempt's result.

use std::sync::Arc;
use std::time::Duration;

use aide_core::event::{NodeCreated, NodeReviewed};
use aide_core::{Action, LlmPurpose, NodeId, NodeStage, RunEvent, RunRng};
use aide_store::prelude::*;
use aide_store::{
    CallUsage, Error, ExecutionResult, ExecutionStatus, ExecutionSummary, Generation, Lease,
    NewLlmCall, NewNode, NodeFile, NodeFileBody, PromptSize, Review,
};

use super::{Harness, LONG, claimed, create, draft};
use crate::assert_err;

fn created(node: &NewNode) -> RunEvent {
    RunEvent::NodeCreated(NodeCreated {
        node_id: node.id,
        parent: node.parent,
        partner: None,
        action: node.action,
        step: node.step,
        debug_depth: node.debug_depth,
        rng: RunRng::from_seed(7),
        pin: None,
    })
}

fn reviewed(node: &NewNode, review: &Review) -> RunEvent {
    RunEvent::NodeReviewed(NodeReviewed {
        node_id: node.id,
        step: node.step,
        action: node.action,
        buggy: review.is_buggy,
        metric: review.metric,
        bug_reasons: review.bug_reasons.clone(),
    })
}

fn call(lease: &Lease, node: NodeId, purpose: LlmPurpose, cost_usd: f64) -> NewLlmCall {
    NewLlmCall {
        run_id: lease.run_id,
        node_id: Some(node),
        purpose,
        usage: CallUsage {
            provider: "openai".into(),
            model: "gpt-test".into(),
            prompt_tokens: 1200,
            completion_tokens: 300,
            cost_usd,
            latency_ms: 800,
            ..CallUsage::default()
        },
        prompt: Some(PromptSize {
            chars: 4000,
            tokens: 950,
        }),
    }
}

fn code() -> Generation {
    Generation {
        plan: "Fit a ridge model.".into(),
        code: Some("print('AIDE_METRIC: 0.2')".into()),
        raw_reply: None,
    }
}

fn result() -> ExecutionResult {
    ExecutionResult {
        exit_code: Some(0),
        timed_out: false,
        oom_killed: false,
        wall_secs: 2.5,
        cpu_secs: Some(2.0),
        peak_memory_bytes: Some(1 << 20),
        output: "AIDE_METRIC: 0.2\n".into(),
        output_bytes: 17,
        exc_type: None,
        exc_message: None,
        runner_id: Some("runner-1".into()),
    }
}

fn summary() -> ExecutionSummary {
    ExecutionSummary {
        term_out: "AIDE_METRIC: 0.2\n".into(),
        exit_code: Some(0),
        exec_time_secs: 2.5,
        timed_out: false,
        exc_type: None,
        exc_info: None,
        wrote_submission: true,
    }
}

fn file() -> NodeFile {
    NodeFile {
        name: "submission.csv".into(),
        size: 9,
        body: NodeFileBody::Inline(b"id,y\n1,2\n".to_vec()),
    }
}

fn good() -> Review {
    Review {
        is_buggy: false,
        bug_reasons: vec![],
        metric: Some(0.2),
        summary: "Fine.".into(),
    }
}

async fn kinds<S: Store>(store: &S, lease: &Lease) -> Vec<String> {
    let events = store
        .events_after(lease.run_id, 0, 100)
        .await
        .expect("events");
    events.iter().map(|e| e.event.kind().to_owned()).collect()
}

pub async fn stages_write_what_their_calls_write<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "stages").await;
    let node = draft(0);
    let record = store
        .create_node(&lease, node.clone(), &created(&node))
        .await
        .expect("create");
    assert_eq!((record.id, record.stage), (node.id, NodeStage::Pending));
    assert_eq!(kinds(&store, &lease).await, ["node_created"]);

    let draft_call = call(&lease, node.id, LlmPurpose::Code, 0.01);
    store
        .record_generation(&lease, node.id, code(), &draft_call)
        .await
        .expect("generation");
    let stored = store.get_node(node.id).await.expect("node");
    assert_eq!(
        (stored.stage, stored.generation),
        (NodeStage::Generated, Some(code()))
    );

    let attempt = store.start_execution(&lease, node.id).await.expect("start");
    store
        .record_execution(&lease, node.id, attempt, result(), summary(), Some(&file()))
        .await
        .expect("execution");
    let stored = store.get_node(node.id).await.expect("node");
    assert_eq!(
        (stored.stage, stored.execution),
        (NodeStage::Executed, Some(summary()))
    );
    let attempts = store.list_executions(node.id).await.expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status, ExecutionStatus::Finished);
    assert_eq!(attempts[0].result, Some(result()));
    let kept = store
        .get_node_file(node.id, "submission.csv")
        .await
        .expect("file");
    assert_eq!(kept, Some(file()));

    let review_call = call(&lease, node.id, LlmPurpose::Feedback, 0.02);
    let event = reviewed(&node, &good());
    let record = store
        .record_review(&lease, node.id, good(), Some(&review_call), &event)
        .await
        .expect("review");
    assert_eq!(record, store.get_node(node.id).await.expect("node"));
    assert_eq!(
        (record.stage, record.review),
        (NodeStage::Reviewed, Some(good()))
    );
    assert_eq!(
        kinds(&store, &lease).await,
        ["node_created", "node_reviewed"]
    );
    let calls = store.node_llm_calls(node.id).await.expect("calls");
    let purposes: Vec<LlmPurpose> = calls.iter().map(|c| c.purpose).collect();
    assert_eq!(purposes, [LlmPurpose::Code, LlmPurpose::Feedback]);
    // The prompt's size as the engine counted it goes with the stage's ledger row.
    let sizes: Vec<_> = calls.iter().map(|c| c.prompt).collect();
    let counted = Some(PromptSize {
        chars: 4000,
        tokens: 950,
    });
    assert_eq!(sizes, [counted, counted]);
    let usage = store.run_usage(lease.run_id).await.expect("usage");
    assert!((usage.cost_usd - 0.03).abs() < 1e-9, "{usage:?}");

    // A node without code is reviewed without a call; a stage's call must be its node's.
    let silent = draft(1);
    store
        .create_node(&lease, silent.clone(), &created(&silent))
        .await
        .expect("create");
    let no_code = Generation {
        code: None,
        raw_reply: Some("no code".into()),
        ..code()
    };
    let other = call(&lease, node.id, LlmPurpose::Code, 0.0);
    assert_err!(
        store
            .record_generation(&lease, silent.id, no_code.clone(), &other)
            .await,
        Error::InvalidArgument(_)
    );
    let own = call(&lease, silent.id, LlmPurpose::Code, 0.0);
    store
        .record_generation(&lease, silent.id, no_code, &own)
        .await
        .expect("generation");
    let buggy = Review {
        is_buggy: true,
        ..good()
    };
    let record = store
        .record_review(
            &lease,
            silent.id,
            buggy.clone(),
            None,
            &reviewed(&silent, &buggy),
        )
        .await
        .expect("review without a call");
    assert_eq!(record.stage, NodeStage::Reviewed);
    assert_eq!(
        store.node_llm_calls(silent.id).await.expect("calls").len(),
        1
    );
    // Out of order: the same refusals as the separate calls.
    assert_err!(
        store
            .record_review(&lease, silent.id, good(), None, &reviewed(&silent, &good()))
            .await,
        Error::InvalidState(_)
    );
    assert_eq!(kinds(&store, &lease).await.len(), 4);
}

pub async fn refused_stages_write_only_what_is_owed<H: Harness>(h: Arc<H>) {
    let a = h.open().await;
    let b = h.open().await;
    create(&a, "contested stages").await;
    let lease_a = a
        .claim_run("replica-a", Duration::from_millis(300))
        .await
        .expect("claim")
        .expect("claimable");
    let node = draft(0);
    a.create_node(&lease_a, node.clone(), &created(&node))
        .await
        .expect("create");
    let executed = draft(1);
    a.create_node(&lease_a, executed.clone(), &created(&executed))
        .await
        .expect("create");
    let own = call(&lease_a, executed.id, LlmPurpose::Code, 0.0);
    a.record_generation(&lease_a, executed.id, code(), &own)
        .await
        .expect("generation");
    let first = a
        .start_execution(&lease_a, executed.id)
        .await
        .expect("start");
    let second = a
        .start_execution(&lease_a, executed.id)
        .await
        .expect("restart");
    // A superseded attempt's stage writes nothing at all.
    assert_err!(
        a.record_execution(
            &lease_a,
            executed.id,
            first,
            result(),
            summary(),
            Some(&file())
        )
        .await,
        Error::StaleAttempt { .. }
    );
    assert_eq!(
        a.get_node_file(executed.id, "submission.csv")
            .await
            .expect("file"),
        None
    );
    assert_eq!(
        a.get_node(executed.id).await.expect("node").stage,
        NodeStage::Generated
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    let lease_b = b
        .claim_run("replica-b", LONG)
        .await
        .expect("claim")
        .expect("expired run is claimable");
    let events_before = kinds(&b, &lease_b).await;

    let next = draft(2);
    assert_err!(
        a.create_node(&lease_a, next.clone(), &created(&next)).await,
        Error::LeaseLost { .. }
    );
    let paid = call(&lease_a, node.id, LlmPurpose::Code, 0.5);
    assert_err!(
        a.record_generation(&lease_a, node.id, code(), &paid).await,
        Error::LeaseLost { .. }
    );
    // The attempt's result is recorded (it is fenced by its number); the node is not.
    assert_err!(
        a.record_execution(
            &lease_a,
            executed.id,
            second,
            result(),
            summary(),
            Some(&file())
        )
        .await,
        Error::LeaseLost { .. }
    );
    let paid_review = call(&lease_a, executed.id, LlmPurpose::Feedback, 0.25);
    let event = reviewed(&executed, &good());
    assert_err!(
        a.record_review(&lease_a, executed.id, good(), Some(&paid_review), &event)
            .await,
        Error::LeaseLost { .. }
    );

    assert_eq!(kinds(&b, &lease_b).await, events_before, "no event of A's");
    let tree = b.load_tree(lease_b.run_id).await.expect("tree");
    let stages: Vec<NodeStage> = tree.iter().map(|n| n.stage).collect();
    assert_eq!(stages, [NodeStage::Pending, NodeStage::Generated]);
    assert_eq!(
        b.get_node_file(executed.id, "submission.csv")
            .await
            .expect("file"),
        None
    );
    let attempts = b.list_executions(executed.id).await.expect("attempts");
    assert_eq!(attempts[1].status, ExecutionStatus::Finished);
    // Both paid calls are in the ledger.
    let usage = b.run_usage(lease_b.run_id).await.expect("usage");
    assert!((usage.cost_usd - 0.75).abs() < 1e-9, "{usage:?}");
    assert_eq!(tree[0].action, Action::Draft);
}
