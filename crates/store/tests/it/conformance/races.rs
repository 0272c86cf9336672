//! Conformance: rival replicas on separate connection pools — concurrent claims never hand
//! a run out twice, and a replica whose lease was taken over can no longer write.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aide_core::{Action, Direction, RunId};
use aide_store::prelude::*;
use aide_store::{Error, ExecutionSummary, Generation, Lease, Review, RunStatus};

use super::{Harness, LONG, child, create, draft};
use crate::assert_err;

const RUNS: usize = 20;
const TASKS_PER_REPLICA: usize = 4;

/// Every task of both replicas claims until nothing is left; returns all leases taken.
async fn claim_all<S: Store + Clone>(replicas: &[S], round: usize) -> Vec<Lease> {
    let mut tasks = Vec::new();
    for (r, store) in replicas.iter().enumerate() {
        for t in 0..TASKS_PER_REPLICA {
            let store = store.clone();
            let owner = format!("replica-{r}-task-{t}-round-{round}");
            tasks.push(tokio::spawn(async move {
                let mut leases = Vec::new();
                while let Some(lease) = store.claim_run(&owner, LONG).await.expect("claim") {
                    leases.push(lease);
                    tokio::task::yield_now().await;
                }
                leases
            }));
        }
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("claimer task"));
    }
    all
}

pub async fn concurrent_claims<H: Harness>(h: Arc<H>) {
    let replicas = vec![h.open().await, h.open().await];
    let mut runs = BTreeSet::new();
    for i in 0..RUNS {
        runs.insert(create(&replicas[i % 2], &format!("run-{i}")).await.id);
    }

    for round in 1..=3u64 {
        let leases = claim_all(&replicas, round as usize).await;
        let mut claimed: BTreeMap<RunId, &Lease> = BTreeMap::new();
        for lease in &leases {
            assert!(
                claimed.insert(lease.run_id, lease).is_none(),
                "run {} claimed twice in round {round}",
                lease.run_id
            );
            assert_eq!(
                lease.epoch, round,
                "each claim bumps the epoch exactly once"
            );
        }
        assert_eq!(
            claimed.keys().copied().collect::<BTreeSet<_>>(),
            runs,
            "every run claimed exactly once"
        );
        for lease in &leases {
            let run = replicas[0].get_run(lease.run_id).await.expect("get");
            assert_eq!(
                (run.owner.as_deref(), run.epoch),
                (Some(lease.owner.as_str()), lease.epoch)
            );
        }
        // Hand everything back for the next round, from alternating replicas.
        for (i, lease) in leases.iter().enumerate() {
            replicas[i % 2].release_lease(lease).await.expect("release");
        }
    }
}

pub async fn lost_lease_refuses_writes<H: Harness>(h: Arc<H>) {
    let a = h.open().await;
    let b = h.open().await;
    create(&a, "contested").await;
    let lease_a = a
        .claim_run("replica-a", Duration::from_millis(300))
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(lease_a.epoch, 1);

    // A builds some state while it holds the lease: a pending node, a generated one with a
    // running attempt, and an executed one.
    let pending = draft(0);
    a.insert_node(&lease_a, pending.clone())
        .await
        .expect("insert");
    let generated = child(pending.id, Action::Improve, 1, 0);
    let executed = child(pending.id, Action::Debug, 2, 1);
    a.insert_nodes(&lease_a, &[generated.clone(), executed.clone()])
        .await
        .expect("insert batch");
    let code = Generation {
        plan: "p".into(),
        code: Some("print(1)".into()),
        raw_reply: None,
    };
    a.mark_generated(&lease_a, generated.id, code.clone())
        .await
        .expect("generated");
    a.mark_generated(&lease_a, executed.id, code.clone())
        .await
        .expect("generated");
    assert_eq!(
        a.start_execution(&lease_a, generated.id)
            .await
            .expect("start"),
        1
    );
    let summary = ExecutionSummary {
        term_out: "AIDE_METRIC: 1".into(),
        exit_code: Some(0),
        exec_time_secs: 1.0,
        timed_out: false,
        exc_type: None,
        exc_info: None,
        wrote_submission: false,
    };
    a.mark_executed(&lease_a, executed.id, summary.clone())
        .await
        .expect("executed");

    // The lease expires and B takes the run over.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let lease_b = b
        .claim_run("replica-b", LONG)
        .await
        .expect("claim")
        .expect("expired run is claimable");
    assert_eq!((lease_b.run_id, lease_b.epoch), (lease_a.run_id, 2));

    let run_before = b.get_run(lease_a.run_id).await.expect("get");
    let tree_before = b.load_tree(lease_a.run_id).await.expect("tree");
    let attempts_before = b.list_executions(generated.id).await.expect("attempts");

    // Every fenced write of A is refused.
    let review = Review {
        is_buggy: false,
        bug_reasons: vec![],
        metric: Some(1.0),
        summary: "ok".into(),
    };
    assert_err!(
        a.insert_node(&lease_a, draft(3)).await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        a.insert_nodes(&lease_a, &[draft(3), draft(4)]).await,
        Error::LeaseLost { .. }
    );
    assert_err!(a.insert_nodes(&lease_a, &[]).await, Error::LeaseLost { .. });
    assert_err!(
        a.mark_generated(&lease_a, pending.id, code.clone()).await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        a.mark_executed(&lease_a, generated.id, summary.clone())
            .await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        a.mark_reviewed(&lease_a, executed.id, review.clone()).await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        a.start_execution(&lease_a, generated.id).await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        a.fix_direction(&lease_a, Direction::Maximize).await,
        Error::LeaseLost { .. }
    );
    assert_err!(a.renew_lease(&lease_a, LONG).await, Error::LeaseLost { .. });
    assert_err!(a.release_lease(&lease_a).await, Error::LeaseLost { .. });
    assert_err!(
        a.finish_run(&lease_a, RunStatus::Completed, "A thinks it is done")
            .await,
        Error::LeaseLost { .. }
    );

    // ... and changed nothing.
    assert_eq!(b.get_run(lease_a.run_id).await.expect("get"), run_before);
    assert_eq!(
        b.load_tree(lease_a.run_id).await.expect("tree"),
        tree_before
    );
    assert_eq!(
        b.list_executions(generated.id).await.expect("attempts"),
        attempts_before
    );

    // B carries on from the persisted state.
    b.mark_generated(&lease_b, pending.id, code)
        .await
        .expect("B writes");
    assert_eq!(
        b.start_execution(&lease_b, generated.id)
            .await
            .expect("B retries the attempt"),
        2
    );
    b.mark_reviewed(&lease_b, executed.id, review)
        .await
        .expect("B reviews");
    assert_eq!(
        b.fix_direction(&lease_b, Direction::Minimize)
            .await
            .expect("B fixes"),
        Direction::Minimize
    );
    let done = b
        .finish_run(&lease_b, RunStatus::Completed, "done")
        .await
        .expect("B finishes");
    assert_eq!(
        (done.owner.as_deref(), done.epoch, done.status),
        (Some("replica-b"), 2, RunStatus::Completed)
    );
}

/// A replica writing flat out while a rival takes the run over: once the rival's claim has
/// returned, no write of the old epoch lands any more.
pub async fn takeover_during_writes<H: Harness>(h: Arc<H>) {
    let a = h.open().await;
    let b = h.open().await;
    create(&a, "takeover").await;
    let lease_a = a
        .claim_run("replica-a", Duration::from_millis(200))
        .await
        .expect("claim")
        .expect("claimable");

    let writer = tokio::spawn(async move {
        let mut written = 0u32;
        loop {
            match a.insert_node(&lease_a, draft(written)).await {
                Ok(_) => written += 1,
                Err(Error::LeaseLost { .. }) => return written,
                Err(err) => panic!("unexpected error: {err:?}"),
            }
        }
    });

    tokio::time::sleep(Duration::from_millis(250)).await;
    let lease_b = loop {
        if let Some(lease) = b.claim_run("replica-b", LONG).await.expect("claim") {
            break lease;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(lease_b.epoch, 2);
    let at_takeover = b.load_tree(lease_b.run_id).await.expect("tree").len();
    let written = writer.await.expect("writer task");
    assert!(
        written > 0,
        "the first owner wrote before it lost the lease"
    );
    assert_eq!(
        at_takeover, written as usize,
        "every acknowledged write is visible to the new owner"
    );
    assert_eq!(
        b.load_tree(lease_b.run_id).await.expect("tree").len(),
        at_takeover,
        "no late write landed"
    );
}
