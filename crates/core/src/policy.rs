//! The greedy AIDE search policy of ARCHITECTURE §4.
//!
//! At each step, in this order:
//! 1. fewer than `num_drafts` root nodes exist (buggy and in-flight ones count) → draft;
//! 2. with probability `debug_prob`, debug a uniformly chosen buggy leaf whose
//!    `debug_depth <= max_debug_depth`, if any;
//! 3. no good node exists → draft;
//! 4. otherwise improve the best good node (first reached wins ties).
//!
//! In-flight nodes count as children, so with `workers > 1` no node is debugged twice at
//! once. The random draw happens only when step 2 is reached, so decisions replay exactly
//! from the run's seed and the same outcomes.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::metric::{Direction, MetricValue};
use crate::node::{NodeId, child_debug_depth};
use crate::rng::RunRng;
use crate::settings::SearchSettings;

/// What the policy knows of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    /// Creation order within the run, from 0.
    pub step: u32,
    pub debug_depth: u32,
    pub status: NodeStatus,
}

/// A node's standing for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum NodeStatus {
    /// Created but not yet reviewed.
    InFlight,
    Buggy,
    Good(MetricValue),
}

/// The policy's choice for the next node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Draft,
    Debug(NodeId),
    Improve(NodeId),
}

impl Decision {
    pub fn parent(self) -> Option<NodeId> {
        match self {
            Self::Draft => None,
            Self::Debug(id) | Self::Improve(id) => Some(id),
        }
    }

    pub fn action(self) -> crate::Action {
        match self {
            Self::Draft => crate::Action::Draft,
            Self::Debug(_) => crate::Action::Debug,
            Self::Improve(_) => crate::Action::Improve,
        }
    }
}

/// The solution tree as the policy sees it, in creation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchTree {
    nodes: Vec<TreeNode>,
    /// Position of each node in `nodes`.
    index: HashMap<NodeId, usize>,
    /// Nodes that have at least one child (in flight or reviewed).
    parents: HashSet<NodeId>,
}

impl SearchTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from nodes in any order; they are kept sorted by step.
    pub fn from_nodes(mut nodes: Vec<TreeNode>) -> Self {
        nodes.sort_by_key(|n| n.step);
        let index = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let parents = nodes.iter().filter_map(|n| n.parent).collect();
        Self {
            nodes,
            index,
            parents,
        }
    }

    pub fn nodes(&self) -> &[TreeNode] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, id: NodeId) -> Option<&TreeNode> {
        self.index.get(&id).map(|&i| &self.nodes[i])
    }

    /// Adds the node a decision creates, in flight, and returns it. Its debug depth
    /// follows the §4 rule from its parent.
    pub fn add_in_flight(&mut self, id: NodeId, decision: Decision) -> &TreeNode {
        let parent = decision.parent();
        let depth = child_debug_depth(
            parent
                .and_then(|p| self.get(p))
                .map(|p| (p.status == NodeStatus::Buggy, p.debug_depth)),
        );
        let step = self.nodes.last().map_or(0, |n| n.step + 1);
        if let Some(parent) = parent {
            self.parents.insert(parent);
        }
        self.index.insert(id, self.nodes.len());
        self.nodes.push(TreeNode {
            id,
            parent,
            step,
            debug_depth: depth,
            status: NodeStatus::InFlight,
        });
        self.nodes.last().expect("just pushed")
    }

    /// Records a node's review. Returns false if the node is unknown.
    pub fn set_status(&mut self, id: NodeId, status: NodeStatus) -> bool {
        match self.index.get(&id) {
            Some(&i) => {
                self.nodes[i].status = status;
                true
            }
            None => false,
        }
    }

    /// Root nodes, of any status.
    pub fn draft_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.parent.is_none()).count()
    }

    fn has_children(&self, id: NodeId) -> bool {
        self.parents.contains(&id)
    }

    /// Buggy leaves within the depth limit, in creation order.
    pub fn debuggable(&self, max_debug_depth: u32) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Buggy)
            .filter(|n| n.debug_depth <= max_debug_depth)
            .filter(|n| !self.has_children(n.id))
            .map(|n| n.id)
            .collect()
    }

    /// The best good node under `direction`; the earliest wins ties. With no direction
    /// known yet, the earliest good node.
    pub fn best(&self, direction: Option<Direction>) -> Option<&TreeNode> {
        let mut best: Option<(&TreeNode, MetricValue)> = None;
        for node in &self.nodes {
            let NodeStatus::Good(metric) = node.status else {
                continue;
            };
            best = match (best, direction) {
                (None, _) => Some((node, metric)),
                (Some((_, current)), Some(dir)) if metric.is_better_than(current, dir) => {
                    Some((node, metric))
                }
                (keep, _) => keep,
            };
        }
        best.map(|(node, _)| node)
    }
}

/// Chooses the next action exactly as §4 orders the rules.
pub fn next_action(
    tree: &SearchTree,
    settings: &SearchSettings,
    direction: Option<Direction>,
    rng: &mut RunRng,
) -> Decision {
    if tree.draft_count() < settings.num_drafts as usize {
        return Decision::Draft;
    }
    if rng.chance(settings.debug_prob) {
        let candidates = tree.debuggable(settings.max_debug_depth);
        if !candidates.is_empty() {
            return Decision::Debug(candidates[rng.index(candidates.len())]);
        }
    }
    match tree.best(direction) {
        None => Decision::Draft,
        Some(best) => Decision::Improve(best.id),
    }
}

#[cfg(test)]
mod tests;
