//! The run loop's picture of one run: the stored nodes, the policy's tree built from them,
//! the fixed direction, the random generator and the best node with its submission.

use aide_core::{
    Direction, MetricValue, NodeId, NodeStage, NodeStatus, RunRng, SearchTree, TreeNode,
};
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

fn tree_node(node: &NodeRecord) -> TreeNode {
    TreeNode {
        id: node.id,
        parent: node.parent,
        step: node.step,
        debug_depth: node.debug_depth,
        status: status_of(node),
    }
}

/// One run as the loop tracks it.
#[derive(Debug)]
pub struct RunState {
    pub tree: SearchTree,
    /// Every node, in step order.
    pub records: Vec<NodeRecord>,
    pub direction: Option<Direction>,
    pub rng: RunRng,
    pub best: Option<NodeId>,
    /// The best node's submission file, once known (from its execution or the store).
    pub best_submission: Option<Vec<u8>>,
}

impl RunState {
    pub fn new(mut records: Vec<NodeRecord>, direction: Option<Direction>, rng: RunRng) -> Self {
        records.sort_by_key(|n| n.step);
        let tree = SearchTree::from_nodes(records.iter().map(tree_node).collect());
        let best = tree.best(direction).map(|n| n.id);
        Self {
            tree,
            records,
            direction,
            rng,
            best,
            best_submission: None,
        }
    }

    /// Nodes not yet reviewed, in step order (left by a previous owner).
    pub fn unfinished(&self) -> Vec<NodeRecord> {
        self.records
            .iter()
            .filter(|n| n.stage != NodeStage::Reviewed)
            .cloned()
            .collect()
    }

    /// Adds a node just stored.
    pub fn push(&mut self, record: NodeRecord) {
        self.records.push(record);
    }

    /// Records a reviewed node; returns the new best node when it changed (the caller then
    /// sets [`best_submission`](Self::best_submission)).
    pub fn reviewed(&mut self, record: NodeRecord, direction: Option<Direction>) -> Option<NodeId> {
        if self.direction.is_none() {
            self.direction = direction;
        }
        let status = status_of(&record);
        self.tree.set_status(record.id, status);
        match self.records.iter_mut().find(|n| n.id == record.id) {
            Some(slot) => *slot = record,
            None => self.records.push(record),
        }
        let best = self.tree.best(self.direction).map(|n| n.id);
        if best != self.best {
            self.best = best;
            self.best_submission = None;
            return best;
        }
        None
    }

    pub fn record(&self, id: NodeId) -> Option<&NodeRecord> {
        self.records.iter().find(|n| n.id == id)
    }
}
