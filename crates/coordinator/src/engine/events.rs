//! The run events the engine appends (kinds and JSON payloads), and the resume rule for
//! the run's random generator: every `node_created` event carries the generator's state
//! right after the decision that created the node, so a new owner continues the exact
//! random sequence from the newest node's event instead of replaying decisions (which
//! would need the review outcomes in the order the previous owner saw them).

use std::collections::HashMap;

use aide_core::{NodeId, RunId, RunRng};
use aide_store::{NodeRecord, Store};
use serde_json::{Value, json};

use super::retry::Failure;

/// A node was decided and is about to be stored (written before the node itself).
pub const NODE_CREATED: &str = "node_created";
/// A node received its final verdict.
pub const NODE_REVIEWED: &str = "node_reviewed";
/// The best node changed.
pub const BEST_CHANGED: &str = "best_changed";
/// An infrastructure failure is being retried.
pub const INFRA_RETRY: &str = "infra_retry";
/// The model could not write the report's narrative (the deterministic report stands).
pub const REPORT_FAILED: &str = "report_failed";
/// The run finished (completed, cancelled or failed).
pub const RUN_FINISHED: &str = "run_finished";
/// An owner took up a run that has no node yet (its first start).
pub const RUN_STARTED: &str = "run_started";
/// An owner took up a run that already had nodes (a resume after another owner).
pub const RUN_RESUMED: &str = "run_resumed";

/// Events read per page when scanning a run's log.
const PAGE: u32 = 500;

/// Payload of [`NODE_CREATED`].
pub fn node_created(node: &aide_store::NewNode, rng: &RunRng) -> Value {
    json!({
        "node_id": node.id,
        "parent": node.parent,
        "action": node.action,
        "step": node.step,
        "debug_depth": node.debug_depth,
        "rng": rng,
    })
}

/// Payload of [`NODE_REVIEWED`].
pub fn node_reviewed(node: &NodeRecord) -> Value {
    let review = node.review.as_ref();
    json!({
        "node_id": node.id,
        "step": node.step,
        "action": node.action,
        "buggy": review.map(|r| r.is_buggy),
        "metric": review.and_then(|r| r.metric),
        "bug_reasons": review.map(|r| r.bug_reasons.clone()),
    })
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
        for event in page.iter().filter(|e| e.kind == NODE_CREATED) {
            let id = serde_json::from_value::<NodeId>(event.payload["node_id"].clone());
            let rng = serde_json::from_value::<RunRng>(event.payload["rng"].clone());
            if let (Ok(id), Ok(rng)) = (id, rng) {
                states.insert(id, rng);
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
