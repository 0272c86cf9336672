//! Conformance: execution attempts — numbering, superseding, finishing, abandoning and the
//! stale-attempt fence.

use std::sync::Arc;

use aide_core::NodeId;
use aide_store::prelude::*;
use aide_store::{Error, ExecutionResult, ExecutionStatus, Generation, Lease};

use super::{Harness, claimed, draft};
use crate::assert_err;

fn result(exit_code: i32) -> ExecutionResult {
    ExecutionResult {
        exit_code: Some(exit_code),
        timed_out: false,
        oom_killed: exit_code == 137,
        wall_secs: 3.25,
        cpu_secs: Some(2.5),
        peak_memory_bytes: Some(3 * 1024 * 1024 * 1024),
        output: "AIDE_METRIC: 0.5\n".into(),
        output_bytes: 17,
        exc_type: None,
        exc_message: None,
        runner_id: Some("runner-1".into()),
    }
}

/// A node that is ready to execute.
async fn generated<S: Store>(store: &S, lease: &Lease, step: u32) -> NodeId {
    let node = draft(step);
    store
        .insert_node(lease, node.clone())
        .await
        .expect("insert");
    let generation = Generation {
        plan: "plan".into(),
        code: Some("print(1)".into()),
        raw_reply: None,
    };
    store
        .mark_generated(lease, node.id, generation)
        .await
        .expect("generated");
    node.id
}

pub async fn execution_attempts<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "executions").await;
    let node = generated(&store, &lease, 0).await;
    assert!(store.list_executions(node).await.expect("list").is_empty());

    assert_eq!(store.start_execution(&lease, node).await.expect("start"), 1);
    store
        .abandon_execution(node, 1, "runner vanished")
        .await
        .expect("abandon");
    assert_err!(
        store.abandon_execution(node, 1, "again").await,
        Error::StaleAttempt { attempt: 1, .. }
    );
    assert_err!(
        store.finish_execution(node, 1, result(0)).await,
        Error::StaleAttempt { attempt: 1, .. }
    );

    assert_eq!(store.start_execution(&lease, node).await.expect("retry"), 2);
    let finished = store
        .finish_execution(node, 2, result(137))
        .await
        .expect("finish");
    assert_eq!(
        (finished.node_id, finished.run_id, finished.attempt),
        (node, lease.run_id, 2)
    );
    assert_eq!(finished.status, ExecutionStatus::Finished);
    assert_eq!(finished.result, Some(result(137)));
    assert!(
        finished
            .finished_at
            .is_some_and(|f| f >= finished.started_at)
    );

    let attempts = store.list_executions(node).await.expect("list");
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[0].attempt, attempts[0].status),
        (1, ExecutionStatus::Abandoned)
    );
    assert_eq!(
        attempts[0].abandon_reason.as_deref(),
        Some("runner vanished")
    );
    assert_eq!(attempts[0].result, None);
    assert!(attempts[0].finished_at.is_some());
    assert_eq!(attempts[1], finished);

    // Unknown attempts and nodes.
    assert_err!(
        store.finish_execution(node, 9, result(0)).await,
        Error::NotFound { .. }
    );
    assert_err!(
        store.abandon_execution(NodeId::new(), 1, "x").await,
        Error::NotFound { .. }
    );
    assert_err!(
        store.start_execution(&lease, NodeId::new()).await,
        Error::NotFound { .. }
    );
    assert!(
        store
            .list_executions(NodeId::new())
            .await
            .expect("list")
            .is_empty()
    );

    // Once the node is executed no further attempt starts.
    let summary = aide_store::ExecutionSummary {
        term_out: "AIDE_METRIC: 0.5".into(),
        exit_code: Some(0),
        exec_time_secs: 3.25,
        timed_out: false,
        exc_type: None,
        exc_info: None,
        wrote_submission: true,
    };
    store
        .mark_executed(&lease, node, summary)
        .await
        .expect("executed");
    assert_err!(
        store.start_execution(&lease, node).await,
        Error::InvalidState(_)
    );
}

pub async fn stale_attempts<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "stale").await;
    let node = generated(&store, &lease, 0).await;
    assert_eq!(
        store.start_execution(&lease, node).await.expect("start 1"),
        1
    );
    assert_eq!(
        store.start_execution(&lease, node).await.expect("start 2"),
        2
    );

    let attempts = store.list_executions(node).await.expect("list");
    assert_eq!(
        attempts[0].status,
        ExecutionStatus::Superseded,
        "starting 2 supersedes 1"
    );
    assert_eq!(attempts[1].status, ExecutionStatus::Running);

    assert_err!(
        store.finish_execution(node, 1, result(0)).await,
        Error::StaleAttempt { attempt: 1, .. }
    );
    assert_err!(
        store.abandon_execution(node, 1, "late").await,
        Error::StaleAttempt { attempt: 1, .. }
    );
    let done = store
        .finish_execution(node, 2, result(0))
        .await
        .expect("finish 2");
    assert_eq!(done.status, ExecutionStatus::Finished);
    assert_err!(
        store.finish_execution(node, 2, result(1)).await,
        Error::StaleAttempt { attempt: 2, .. }
    );

    let attempts = store.list_executions(node).await.expect("list");
    assert_eq!(
        attempts[0].status,
        ExecutionStatus::Superseded,
        "the stale result changed nothing"
    );
    assert_eq!(attempts[0].result, None);
    assert_eq!(
        attempts[1].result,
        Some(result(0)),
        "the second finish changed nothing"
    );

    // Attempts are numbered per node.
    let other = generated(&store, &lease, 1).await;
    assert_eq!(
        store.start_execution(&lease, other).await.expect("start"),
        1
    );
}
