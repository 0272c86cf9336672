//! The search tree of a run's stored nodes: what the policy sees of each node and the one
//! rule for the run's best node, shared by the engine, the outputs and the API so they can
//! never name different bests.

use aide_core::{Direction, MetricValue, NodeStage, NodeStatus, SearchTree, TreeNode};
use aide_store::NodeRecord;

/// What the policy sees of a stored node.
pub fn status_of(node: &NodeRecord) -> NodeStatus {
    match (&node.review, node.stage) {
        (Some(review), NodeStage::Reviewed) if !review.is_buggy => review
            .metric
            .and_then(MetricValue::new)
            .map_or(NodeStatus::Buggy, NodeStatus::Good),
        (Some(_), NodeStage::Reviewed) => NodeStatus::Buggy,
        _ => NodeStatus::InFlight,
    }
}

/// The policy's tree of `nodes` (in step order).
pub fn search_tree(nodes: &[NodeRecord]) -> SearchTree {
    let mut sorted: Vec<&NodeRecord> = nodes.iter().collect();
    sorted.sort_by_key(|n| (n.step, n.id));
    SearchTree::from_nodes(
        sorted
            .into_iter()
            .map(|node| TreeNode {
                id: node.id,
                parent: node.parent,
                partner: node.partner,
                step: node.step,
                debug_depth: node.debug_depth,
                status: status_of(node),
            })
            .collect(),
    )
}

/// The best node (§4): the best metric among good nodes under `direction`, the earliest
/// on ties; the earliest good node while the direction is not fixed.
pub fn best_node(direction: Option<Direction>, nodes: &[NodeRecord]) -> Option<&NodeRecord> {
    let best = search_tree(nodes).best(direction)?.id;
    nodes.iter().find(|n| n.id == best)
}
