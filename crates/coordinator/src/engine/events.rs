//! The run events the engine builds from its records, and the resume rule for the run's
//! random generator: every `node_created` event carries the generator's state right after
//! the decision that created the node, so a new owner continues the exact random sequence
//! from the newest node's event instead of replaying decisions (which would need the review
//! outcomes in the order the previous owner saw them).

use std::collections::HashMap;

use aide_core::event::{BestChanged, NodeCreated, NodeReviewed};
use aide_core::{NodeId, RunEvent, RunId, RunRng};
use aide_store::{NewNode, NodeRecord, Review, Store};

use super::retry::Failure;

/// Events read per page when scanning a run's log.
const PAGE: u32 = 500;

/// The event of a node about to be stored, with the generator state after its decision.
pub fn node_created(node: &NewNode, rng: &RunRng) -> RunEvent {
    RunEvent::NodeCreated(NodeCreated {
        node_id: node.id,
        parent: node.parent,
        partner: node.partner,
        action: node.action,
        step: node.step,
        debug_depth: node.debug_depth,
        rng: rng.clone(),
    })
}

/// The event of `node`'s verdict `review`, written with it.
pub fn node_reviewed(node: &NodeRecord, review: &Review) -> RunEvent {
    RunEvent::NodeReviewed(NodeReviewed {
        node_id: node.id,
        step: node.step,
        action: node.action,
        buggy: review.is_buggy,
        metric: review.metric,
        bug_reasons: review.bug_reasons.clone(),
    })
}

/// The event of a new best node, when it has a metric.
pub fn best_changed(node: &NodeRecord) -> Option<RunEvent> {
    let metric = node.review.as_ref()?.metric?;
    Some(RunEvent::BestChanged(BestChanged {
        node_id: node.id,
        step: node.step,
        metric,
    }))
}

/// The generator of a run resumed with `nodes` stored: the state saved with the newest
/// node's creation event, or a fresh one from `seed` when the run has no node yet. A
/// newest node without an event (written by an older engine) also restarts from the seed.
pub async fn resume_rng<S: Store>(
    store: &S,
    run_id: RunId,
    seed: u64,
    nodes: &[NodeRecord],
) -> Result<(RunRng, bool), Failure> {
    let Some(newest) = nodes.iter().max_by_key(|n| n.step) else {
        return Ok((RunRng::from_seed(seed), true));
    };
    let mut states: HashMap<NodeId, RunRng> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.events_after(run_id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in page.iter() {
            if let RunEvent::NodeCreated(created) = &record.event {
                states.insert(created.node_id, created.rng.clone());
            }
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(match states.remove(&newest.id) {
        Some(rng) => (rng, true),
        None => (RunRng::from_seed(seed), false),
    })
}
