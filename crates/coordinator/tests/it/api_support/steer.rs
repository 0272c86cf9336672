//! SteerRun and ForkRun through the gRPC API: each directive recorded with its author and
//! in order; refusals with their reason for a finished run, a pruned subtree, a node still
//! in flight, a node of another run or none at all, and malformed directives; forks of a
//! finished run's node.

use std::sync::Arc;

use aide_core::RunEvent;
use aide_core::steer::{Directive, Forked};
use aide_proto::v1;
use aide_proto::v1::steer_run_request::Directive as Wire;
use aide_store::{AccessStore, EventStore, Lease, NodeStore, RunStatus, RunStore};
use tonic::Code;

use super::Harness;

fn node(id: impl ToString) -> v1::NodeRef {
    v1::NodeRef {
        node_id: id.to_string(),
    }
}

fn steer(run: &Lease, directive: Option<Wire>) -> v1::SteerRunRequest {
    v1::SteerRunRequest {
        run_id: run.run_id.to_string(),
        directive,
    }
}

/// The code and message of a refused directive.
async fn refused(h: &Harness, request: v1::SteerRunRequest) -> (Code, String) {
    let status = h.client().steer_run(request).await.expect_err("refused");
    (status.code(), status.message().to_owned())
}

pub async fn directives_are_recorded_with_their_author_in_order(h: Arc<Harness>) {
    let lease = h.running_run("steered").await;
    let good = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    let buggy = h.reviewed_node(&lease, 1, None, None).await;
    let mut client = h.client();
    let directives = [
        Wire::Pin(node(buggy)),
        Wire::Prune(node(good)),
        Wire::Note("Try target encoding on the categorical columns.".into()),
        Wire::Budget(v1::BudgetChange {
            steps: Some(9),
            max_run_secs: Some(600),
        }),
    ];
    let mut seqs = Vec::new();
    for directive in directives {
        let answer = client
            .steer_run(steer(&lease, Some(directive)))
            .await
            .expect("steer")
            .into_inner();
        seqs.push(answer.seq);
        let run = answer.run.expect("run");
        assert_eq!(run.id, lease.run_id.to_string());
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let run = h.store.get_run(lease.run_id).await.expect("run");
    assert_eq!(
        (run.settings.steps, run.settings.max_run_secs),
        (9, Some(600))
    );
    assert_eq!(run.steered_seq, seqs[3]);

    let member = h
        .store
        .find_token(&h.member.hash())
        .await
        .expect("find")
        .expect("member")
        .id
        .to_string();
    let recorded: Vec<(u64, Directive, String)> = h
        .store
        .events_after(lease.run_id, 0, 100)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.event {
            RunEvent::Steered(s) => Some((e.seq, s.directive, s.by.token_id)),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = recorded.iter().map(|(_, d, _)| d.name()).collect();
    assert_eq!(names, ["pin", "prune", "note", "budget"]);
    assert!(
        recorded.iter().all(|(_, _, by)| *by == member),
        "{recorded:?}"
    );
    let recorded_seqs: Vec<u64> = recorded.iter().map(|(seq, _, _)| *seq).collect();
    assert_eq!(recorded_seqs, seqs);
}

pub async fn directives_the_run_cannot_take_are_refused_with_the_reason(h: Arc<Harness>) {
    let lease = h.running_run("steered").await;
    let root = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    let child = h.reviewed_node(&lease, 1, Some(root), Some(0.4)).await;
    let in_flight = h.generated_node(&lease, 2, Some(root), "print(1)").await;

    let (code, why) = refused(&h, steer(&lease, Some(Wire::Pin(node(in_flight))))).await;
    assert_eq!(code, Code::FailedPrecondition);
    assert!(why.contains("not reviewed yet"), "{why}");
    h.client()
        .steer_run(steer(&lease, Some(Wire::Prune(node(root)))))
        .await
        .expect("prune");
    for directive in [Wire::Pin(node(child)), Wire::Prune(node(child))] {
        let (code, why) = refused(&h, steer(&lease, Some(directive))).await;
        assert_eq!(code, Code::FailedPrecondition);
        assert!(why.contains("pruned subtree"), "{why}");
    }
    let missing = aide_core::NodeId::new();
    let (code, why) = refused(&h, steer(&lease, Some(Wire::Pin(node(missing))))).await;
    assert_eq!(code, Code::NotFound);
    assert!(why.contains("is not a node of run"), "{why}");
    let malformed = [
        None,
        Some(Wire::Note("   ".into())),
        Some(Wire::Budget(v1::BudgetChange::default())),
        Some(Wire::Budget(v1::BudgetChange {
            steps: Some(0),
            max_run_secs: None,
        })),
        Some(Wire::Pin(node("not-a-uuid"))),
        Some(Wire::Note("x".repeat(2_001))),
    ];
    for directive in malformed {
        let (code, why) = refused(&h, steer(&lease, directive.clone())).await;
        assert_eq!(code, Code::InvalidArgument, "{directive:?}: {why}");
    }

    // A node of another run is not this run's, worded as a node that does not exist.
    h.store
        .finish_run(&lease, RunStatus::Completed, "done")
        .await
        .expect("finish");
    let other = h.running_run("other").await;
    let (code, why) = refused(&h, steer(&other, Some(Wire::Pin(node(root))))).await;
    assert_eq!(code, Code::NotFound);
    assert!(
        why.contains(&format!("node {root} is not a node of run")),
        "{why}"
    );

    // A finished run takes no directive, and nothing refused was recorded.
    let (code, why) = refused(&h, steer(&lease, Some(Wire::Note("late".into())))).await;
    assert_eq!(code, Code::FailedPrecondition);
    assert!(why.contains("finished run cannot be steered"), "{why}");
    let steered = h
        .store
        .events_after(lease.run_id, 0, 100)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| matches!(e.event, RunEvent::Steered(_)))
        .count();
    assert_eq!(steered, 1, "only the prune was recorded");
}

pub async fn a_fork_of_a_finished_run_s_node_is_a_new_queued_run(h: Arc<Harness>) {
    let lease = h.running_run("source").await;
    let forked = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    let no_code = aide_core::NodeId::new();
    h.store
        .insert_node(
            &lease,
            aide_store::NewNode {
                id: no_code,
                parent: None,
                partner: None,
                action: aide_core::Action::Draft,
                step: 1,
                debug_depth: 0,
            },
        )
        .await
        .expect("pending node");
    h.store
        .finish_run(&lease, RunStatus::Completed, "done")
        .await
        .expect("finish");
    let mut client = h.client();
    let fork = |node: aide_core::NodeId, name: &str| v1::ForkRunRequest {
        run_id: lease.run_id.to_string(),
        node_id: node.to_string(),
        name: name.into(),
    };
    let run = client
        .fork_run(fork(forked, ""))
        .await
        .expect("fork")
        .into_inner();
    assert_eq!(run.status(), v1::RunStatus::Queued);
    assert_eq!(run.name, "source-fork");
    assert_eq!(run.fork_of_node_id, forked.to_string());
    let stored = h
        .store
        .get_run(super::run_id(&run))
        .await
        .expect("stored fork");
    assert_eq!(stored.fork_of, Some(forked));
    let source = h.store.get_run(lease.run_id).await.expect("source");
    assert_eq!(stored.settings, source.settings);
    let recorded: Vec<Forked> = h
        .store
        .events_after(lease.run_id, 0, 100)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.event {
            RunEvent::Forked(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!((recorded[0].node, recorded[0].run), (forked, stored.id));

    let status = client
        .fork_run(fork(no_code, "x"))
        .await
        .expect_err("no code");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = client
        .fork_run(fork(aide_core::NodeId::new(), "x"))
        .await
        .expect_err("missing");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}
