//! Conformance: nodes — inserts, every lifecycle transition and every out-of-order one,
//! the no-code path, conflicts, batch inserts and a 10,000-node tree.

use std::sync::Arc;
use std::time::Instant;

use aide_core::{Action, BugReason, NodeId, NodeStage};
use aide_store::prelude::*;
use aide_store::{Error, ExecutionSummary, Generation, NewNode, Review};

use super::{Harness, child, claimed, draft};
use crate::assert_err;

fn generation(code: bool) -> Generation {
    Generation {
        plan: "Fit a gradient-boosted model on log prices.".into(),
        code: code.then(|| "import pandas as pd\nprint('AIDE_METRIC: 0.13')\n".into()),
        raw_reply: (!code).then(|| "I cannot write code for this.".into()),
    }
}

fn execution() -> ExecutionSummary {
    ExecutionSummary {
        term_out: "fold 1 0.14\nAIDE_METRIC: 0.13\n".into(),
        exit_code: Some(1),
        exec_time_secs: 12.5,
        timed_out: false,
        exc_type: Some("KeyError".into()),
        exc_info: Some(aide_core::ExceptionInfo {
            message: "'SalePrice'".into(),
            line: 12,
            traceback: "Traceback (most recent call last):\n  File \"solution.py\", line 12, in <module>\n    df[c]\nKeyError: 'SalePrice'\n".into(),
        }),
        wrote_submission: true,
    }
}

fn review() -> Review {
    Review {
        is_buggy: true,
        bug_reasons: vec![
            BugReason::Exception("KeyError".into()),
            BugReason::NonZeroExit(1),
            BugReason::NoSubmission,
        ],
        metric: Some(0.13),
        summary: "The script crashed on a missing column.".into(),
    }
}

pub async fn node_lifecycle<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "lifecycle").await;
    let root = draft(0);
    let inserted = store
        .insert_node(&lease, root.clone())
        .await
        .expect("insert");
    assert_eq!(
        (inserted.id, inserted.run_id, inserted.parent, inserted.step),
        (root.id, lease.run_id, None, 0)
    );
    assert_eq!(
        (inserted.action, inserted.debug_depth, inserted.stage),
        (Action::Draft, 0, NodeStage::Pending)
    );
    assert_eq!(
        (
            inserted.generation.as_ref(),
            inserted.execution.as_ref(),
            inserted.review.as_ref()
        ),
        (None, None, None)
    );
    assert_eq!(store.get_node(root.id).await.expect("get"), inserted);

    // Out of order from pending.
    assert_err!(
        store.mark_executed(&lease, root.id, execution()).await,
        Error::InvalidState(_)
    );
    assert_err!(
        store.mark_reviewed(&lease, root.id, review()).await,
        Error::InvalidState(_)
    );
    assert_err!(
        store.start_execution(&lease, root.id).await,
        Error::InvalidState(_)
    );

    store
        .mark_generated(&lease, root.id, generation(true))
        .await
        .expect("generated");
    let node = store.get_node(root.id).await.expect("get");
    assert_eq!(node.stage, NodeStage::Generated);
    assert_eq!(node.generation, Some(generation(true)));
    assert_err!(
        store
            .mark_generated(&lease, root.id, generation(true))
            .await,
        Error::InvalidState(_)
    );
    assert_err!(
        store.mark_reviewed(&lease, root.id, review()).await,
        Error::InvalidState(_)
    );

    store
        .mark_executed(&lease, root.id, execution())
        .await
        .expect("executed");
    let node = store.get_node(root.id).await.expect("get");
    assert_eq!(node.stage, NodeStage::Executed);
    assert_eq!(node.execution, Some(execution()));
    assert_err!(
        store.mark_executed(&lease, root.id, execution()).await,
        Error::InvalidState(_)
    );
    assert_err!(
        store
            .mark_generated(&lease, root.id, generation(true))
            .await,
        Error::InvalidState(_)
    );

    store
        .mark_reviewed(&lease, root.id, review())
        .await
        .expect("reviewed");
    let node = store.get_node(root.id).await.expect("get");
    assert_eq!(node.stage, NodeStage::Reviewed);
    assert_eq!(node.review, Some(review()));
    assert_eq!(node.generation, Some(generation(true)));
    assert_eq!(node.execution, Some(execution()));
    assert!(node.updated_at >= node.created_at);
    assert_err!(
        store.mark_reviewed(&lease, root.id, review()).await,
        Error::InvalidState(_)
    );
    assert_err!(
        store.mark_executed(&lease, root.id, execution()).await,
        Error::InvalidState(_)
    );

    // A good improvement with no exception info and no metric-less fields.
    let improve = child(root.id, Action::Debug, 1, 1);
    store
        .insert_node(&lease, improve.clone())
        .await
        .expect("insert child");
    store
        .mark_generated(&lease, improve.id, generation(true))
        .await
        .expect("generated");
    let clean = ExecutionSummary {
        exit_code: Some(0),
        exc_type: None,
        exc_info: None,
        ..execution()
    };
    store
        .mark_executed(&lease, improve.id, clean.clone())
        .await
        .expect("executed");
    let good = Review {
        is_buggy: false,
        bug_reasons: vec![],
        metric: Some(0.125),
        summary: "Works.".into(),
    };
    store
        .mark_reviewed(&lease, improve.id, good.clone())
        .await
        .expect("reviewed");

    let tree = store.load_tree(lease.run_id).await.expect("tree");
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[0], node);
    assert_eq!(
        (
            tree[1].parent,
            tree[1].action,
            tree[1].step,
            tree[1].debug_depth
        ),
        (Some(root.id), Action::Debug, 1, 1)
    );
    assert_eq!(tree[1].execution, Some(clean));
    assert_eq!(tree[1].review, Some(good));

    // Unknown nodes.
    assert_err!(
        store.get_node(NodeId::new()).await,
        Error::NotFound { what: "node", .. }
    );
    assert_err!(
        store
            .mark_generated(&lease, NodeId::new(), generation(true))
            .await,
        Error::NotFound { .. }
    );
}

pub async fn node_without_code<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "no-code").await;
    let node = draft(0);
    store
        .insert_node(&lease, node.clone())
        .await
        .expect("insert");
    store
        .mark_generated(&lease, node.id, generation(false))
        .await
        .expect("generated without code");
    let stored = store.get_node(node.id).await.expect("get");
    assert_eq!(stored.generation, Some(generation(false)));
    assert_eq!(
        stored.generation.as_ref().and_then(|g| g.code.as_ref()),
        None
    );

    assert_err!(
        store.mark_executed(&lease, node.id, execution()).await,
        Error::InvalidState(_)
    );
    assert_err!(
        store.start_execution(&lease, node.id).await,
        Error::InvalidState(_)
    );
    let verdict = Review {
        is_buggy: true,
        bug_reasons: vec![BugReason::NoCode],
        metric: None,
        summary: String::new(),
    };
    store
        .mark_reviewed(&lease, node.id, verdict.clone())
        .await
        .expect("reviewed without executing");
    let stored = store.get_node(node.id).await.expect("get");
    assert_eq!(
        (
            stored.stage,
            stored.execution.as_ref(),
            stored.review.as_ref()
        ),
        (NodeStage::Reviewed, None, Some(&verdict))
    );
}

pub async fn node_conflicts<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "conflicts").await;
    let root = draft(0);
    store
        .insert_node(&lease, root.clone())
        .await
        .expect("insert");
    assert_err!(
        store.insert_node(&lease, draft(0)).await,
        Error::Conflict(_)
    );
    assert_err!(
        store
            .insert_node(
                &lease,
                NewNode {
                    step: 1,
                    ..root.clone()
                }
            )
            .await,
        Error::Conflict(_)
    );
    assert_err!(
        store
            .insert_node(&lease, child(NodeId::new(), Action::Improve, 1, 0))
            .await,
        Error::InvalidState(_)
    );

    // A parent from another run is refused even though the node exists.
    store
        .finish_run(&lease, aide_store::RunStatus::Completed, "done")
        .await
        .expect("finish");
    let other = claimed(&store, "other").await;
    assert_err!(
        store
            .insert_node(&other, child(root.id, Action::Improve, 0, 0))
            .await,
        Error::InvalidState(_)
    );
    assert_err!(
        store
            .mark_generated(&other, root.id, generation(true))
            .await,
        Error::NotFound { .. }
    );

    // A batch is all or nothing.
    let first = draft(0);
    let batch = vec![
        first.clone(),
        child(first.id, Action::Improve, 1, 0),
        draft(1),
    ];
    assert_err!(store.insert_nodes(&other, &batch).await, Error::Conflict(_));
    assert!(
        store
            .load_tree(other.run_id)
            .await
            .expect("tree")
            .is_empty()
    );
    store
        .insert_nodes(&other, &batch[..2])
        .await
        .expect("valid batch");
    store.insert_nodes(&other, &[]).await.expect("empty batch");
    assert_eq!(store.load_tree(other.run_id).await.expect("tree").len(), 2);
}

/// A merge node keeps its second parent through every way of writing and reading it; a
/// partner that is not a node of the run is refused.
pub async fn merge_nodes<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "merges").await;
    let (a, b) = (draft(0), draft(1));
    store
        .insert_nodes(&lease, &[a.clone(), b.clone()])
        .await
        .expect("drafts");
    let merge = NewNode {
        partner: Some(b.id),
        ..child(a.id, Action::Merge, 2, 0)
    };
    let inserted = store
        .insert_node(&lease, merge.clone())
        .await
        .expect("merge");
    assert_eq!(
        (inserted.action, inserted.parent, inserted.partner),
        (Action::Merge, Some(a.id), Some(b.id))
    );
    let event = aide_core::RunEvent::NodeCreated(aide_core::event::NodeCreated {
        node_id: NodeId::new(),
        parent: Some(b.id),
        partner: Some(a.id),
        action: Action::Merge,
        step: 3,
        debug_depth: 0,
        rng: aide_core::RunRng::from_seed(0),
        pin: None,
    });
    let staged = NewNode {
        id: match &event {
            aide_core::RunEvent::NodeCreated(c) => c.node_id,
            _ => unreachable!(),
        },
        partner: Some(a.id),
        ..child(b.id, Action::Merge, 3, 0)
    };
    store
        .create_node(&lease, staged.clone(), &event)
        .await
        .expect("staged merge");
    let batch = NewNode {
        partner: Some(inserted.id),
        ..child(a.id, Action::Merge, 4, 0)
    };
    store
        .insert_nodes(&lease, std::slice::from_ref(&batch))
        .await
        .expect("batch merge");
    let tree = store.load_tree(lease.run_id).await.expect("tree");
    let partners: Vec<_> = tree.iter().map(|n| (n.step, n.partner)).collect();
    assert_eq!(
        partners,
        vec![
            (0, None),
            (1, None),
            (2, Some(b.id)),
            (3, Some(a.id)),
            (4, Some(inserted.id))
        ]
    );
    let stranger = NewNode {
        partner: Some(NodeId::new()),
        ..child(a.id, Action::Merge, 5, 0)
    };
    assert_err!(
        store.insert_node(&lease, stranger).await,
        Error::InvalidState(_)
    );
}

pub async fn big_tree<H: Harness>(h: Arc<H>) {
    const N: u32 = 10_000;
    let store = h.open().await;
    let lease = claimed(&store, "big").await;
    let mut nodes: Vec<NewNode> = Vec::with_capacity(N as usize);
    // A deterministic bushy tree: drafts every 97 steps, other nodes hang off an earlier one.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for step in 0..N {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let node = if step.is_multiple_of(97) {
            draft(step)
        } else {
            let parent = &nodes[(state % u64::from(step)) as usize];
            let action = if state.is_multiple_of(3) {
                Action::Debug
            } else {
                Action::Improve
            };
            let depth = if action == Action::Debug {
                parent.debug_depth + 1
            } else {
                0
            };
            child(parent.id, action, step, depth)
        };
        nodes.push(node);
    }

    let started = Instant::now();
    store
        .insert_nodes(&lease, &nodes)
        .await
        .expect("insert 10,000 nodes");
    let stored = started.elapsed();
    // Fill some lifecycle fields so the reload covers every column.
    for node in nodes.iter().step_by(500) {
        store
            .mark_generated(&lease, node.id, generation(true))
            .await
            .expect("generated");
        store
            .mark_executed(&lease, node.id, execution())
            .await
            .expect("executed");
        store
            .mark_reviewed(&lease, node.id, review())
            .await
            .expect("reviewed");
    }
    let started = Instant::now();
    let tree = store.load_tree(lease.run_id).await.expect("reload");
    let loaded = started.elapsed();
    eprintln!("big_tree: stored {N} nodes in {stored:?}, reloaded in {loaded:?}");

    assert_eq!(tree.len(), N as usize);
    for (i, (want, got)) in nodes.iter().zip(&tree).enumerate() {
        assert_eq!(
            (
                got.id,
                got.run_id,
                got.parent,
                got.action,
                got.step,
                got.debug_depth
            ),
            (
                want.id,
                lease.run_id,
                want.parent,
                want.action,
                want.step,
                want.debug_depth
            ),
            "node at step {i}"
        );
        if i % 500 == 0 {
            assert_eq!(got.stage, NodeStage::Reviewed);
            assert_eq!(
                (&got.generation, &got.execution, &got.review),
                (&Some(generation(true)), &Some(execution()), &Some(review()))
            );
        } else {
            assert_eq!((got.stage, &got.generation), (NodeStage::Pending, &None));
        }
    }
}
