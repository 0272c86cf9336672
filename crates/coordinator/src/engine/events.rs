//! The run events the engine builds from its records, and the resume rule for the run's
//! random generator: every `node_created` event carries the generator's state right after
//! the decision that created the node, so a new owner continues the exact random sequence
//! from the newest node's event instead of replaying decisions (which would need the review
//! outcomes in the order the previous owner saw them). The same read of the log gives the
//! new owner the run's directives ([`Replayed`]).

use std::collections::HashMap;

use aide_core::event::{BestChanged, NodeCreated, NodeReviewed};
use aide_core::{NodeId, RunEvent, RunId, RunRng, Steering};
use aide_store::{NewNode, NodeRecord, Review, Store};

/// Events read per page when scanning a run's log.
pub(super) const PAGE: u32 = 500;

/// The event of a node about to be stored, with the generator state after its decision
/// and the pin it carries out, if any.
pub fn node_created(node: &NewNode, rng: &RunRng, pin: Option<u64>) -> RunEvent {
    RunEvent::NodeCreated(NodeCreated {
        node_id: node.id,
        parent: node.parent,
        partner: node.partner,
        action: node.action,
        step: node.step,
        debug_depth: node.debug_depth,
        rng: rng.clone(),
        pin,
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

/// What a new owner reads back from a run's log: the generator state saved with each
/// node's creation, and the run's directives.
#[derive(Debug, Default)]
pub struct Replayed {
    rng_states: HashMap<NodeId, RunRng>,
    pub steering: Steering,
}

impl Replayed {
    /// The generator of a run resumed with `nodes` stored: the state saved with the newest
    /// node's creation event, or a fresh one from `seed` when the run has no node yet. A
    /// newest node without an event (written by an older engine) also restarts from the
    /// seed; the flag says whether the state was exact.
    pub fn rng(&mut self, seed: u64, nodes: &[NodeRecord]) -> (RunRng, bool) {
        let Some(newest) = nodes.iter().max_by_key(|n| n.step) else {
            return (RunRng::from_seed(seed), true);
        };
        match self.rng_states.remove(&newest.id) {
            Some(rng) => (rng, true),
            None => (RunRng::from_seed(seed), false),
        }
    }

    /// Takes in one event of the log, in order.
    pub fn take(&mut self, seq: u64, event: &RunEvent) {
        match event {
            RunEvent::NodeCreated(created) => {
                self.rng_states.insert(created.node_id, created.rng.clone());
                if let Some(pin) = created.pin {
                    self.steering.spend(pin);
                }
            }
            RunEvent::Steered(steered) => self.steering.take(seq, steered),
            _ => {}
        }
    }
}

/// Reads run `run_id`'s log after event `after`, a page at a time, into `replayed`.
pub async fn replay_after<S: Store>(
    store: &S,
    run_id: RunId,
    mut after: u64,
    replayed: &mut Replayed,
) -> Result<(), aide_store::Error> {
    loop {
        let page = store.events_after(run_id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            replayed.take(record.seq, &record.event);
        }
        if page.len() < PAGE as usize {
            break;
        }
    }
    Ok(())
}
