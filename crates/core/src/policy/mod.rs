//! The search policies of ARCHITECTURE §4 and §14, over one picture of the solution tree
//! ([`SearchTree`]): greedy (the reference's, the default), Monte Carlo tree search and
//! evolutionary search. [`next_action`] asks the run's policy for the next node.
//!
//! Every policy is a pure function of the tree (statuses included), the settings and the
//! run's generator: a run with the same seed and the same outcomes makes the same decisions,
//! and a resumed run, whose generator state is restored, goes on as if never stopped. In-flight
//! nodes count as children, so with `workers > 1` no node is debugged twice at once and caps
//! count the work in progress.
//!
//! A pruned subtree (a person's directive) is never expanded again by any policy.

mod evolutionary;
mod greedy;
mod mcts;
mod score;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::metric::{Direction, MetricValue};
use crate::node::{NodeId, child_debug_depth};
use crate::rng::RunRng;
use crate::settings::{PolicyKind, SearchSettings};

pub use evolutionary::island_of_each;
pub use mcts::{NodeStats, tree_stats};

/// What the policy knows of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    pub id: NodeId,
    pub parent: Option<NodeId>,
    /// A merge's second parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<NodeId>,
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
    /// Combine the first node (the parent) with the second (its partner).
    Merge(NodeId, NodeId),
}

impl Decision {
    pub fn parent(self) -> Option<NodeId> {
        match self {
            Self::Draft => None,
            Self::Debug(id) | Self::Improve(id) | Self::Merge(id, _) => Some(id),
        }
    }

    /// A merge's second parent.
    pub fn partner(self) -> Option<NodeId> {
        match self {
            Self::Merge(_, partner) => Some(partner),
            _ => None,
        }
    }

    pub fn action(self) -> crate::Action {
        match self {
            Self::Draft => crate::Action::Draft,
            Self::Debug(_) => crate::Action::Debug,
            Self::Improve(_) => crate::Action::Improve,
            Self::Merge(..) => crate::Action::Merge,
        }
    }
}

/// The solution tree as the policy sees it, in creation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchTree {
    nodes: Vec<TreeNode>,
    /// Position of each node in `nodes`.
    index: HashMap<NodeId, usize>,
    /// Each node's children (in flight or reviewed), in creation order.
    children: HashMap<NodeId, Vec<NodeId>>,
    /// Nodes a person pruned: they and their descendants are never expanded again.
    pruned: HashSet<NodeId>,
}

impl SearchTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from nodes in any order; they are kept sorted by step.
    pub fn from_nodes(mut nodes: Vec<TreeNode>) -> Self {
        nodes.sort_by_key(|n| n.step);
        let index = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
        let mut children: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
        for node in &nodes {
            if let Some(parent) = node.parent {
                children.entry(parent).or_default().push(node.id);
            }
        }
        Self {
            nodes,
            index,
            children,
            pruned: HashSet::new(),
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
            self.children.entry(parent).or_default().push(id);
        }
        self.index.insert(id, self.nodes.len());
        self.nodes.push(TreeNode {
            id,
            parent,
            partner: decision.partner(),
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
        self.children.contains_key(&id)
    }

    /// The children of `id`, in creation order.
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        self.children.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Root nodes, in creation order.
    pub fn roots(&self) -> impl Iterator<Item = &TreeNode> {
        self.nodes.iter().filter(|n| n.parent.is_none())
    }

    /// Marks `id` pruned; false if the node is unknown.
    pub fn prune(&mut self, id: NodeId) -> bool {
        let known = self.index.contains_key(&id);
        if known {
            self.pruned.insert(id);
        }
        known
    }

    /// Whether `id` or one of its ancestors was pruned.
    pub fn is_pruned(&self, id: NodeId) -> bool {
        if self.pruned.is_empty() {
            return false;
        }
        let mut at = Some(id);
        while let Some(id) = at {
            if self.pruned.contains(&id) {
                return true;
            }
            at = self.get(id).and_then(|n| n.parent);
        }
        false
    }

    /// Buggy leaves within the depth limit and outside pruned subtrees, in creation order.
    pub fn debuggable(&self, max_debug_depth: u32) -> Vec<NodeId> {
        self.nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Buggy)
            .filter(|n| n.debug_depth <= max_debug_depth)
            .filter(|n| !self.has_children(n.id))
            .filter(|n| !self.is_pruned(n.id))
            .map(|n| n.id)
            .collect()
    }

    /// The best good node under `direction`; the earliest wins ties. With no direction
    /// known yet, the earliest good node.
    pub fn best(&self, direction: Option<Direction>) -> Option<&TreeNode> {
        self.best_among(direction, |_| true)
    }

    /// The best good node outside pruned subtrees (the best the search may still expand).
    pub fn best_expandable(&self, direction: Option<Direction>) -> Option<&TreeNode> {
        self.best_among(direction, |node| !self.is_pruned(node.id))
    }

    /// The best good node that `keep` accepts, by the rule of [`best`](Self::best).
    fn best_among(
        &self,
        direction: Option<Direction>,
        keep: impl Fn(&TreeNode) -> bool,
    ) -> Option<&TreeNode> {
        let mut best: Option<(&TreeNode, MetricValue)> = None;
        for node in self.nodes.iter().filter(|n| keep(n)) {
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

    /// A good node's metric.
    pub fn metric(&self, id: NodeId) -> Option<MetricValue> {
        match self.get(id)?.status {
            NodeStatus::Good(metric) => Some(metric),
            _ => None,
        }
    }
}

/// The run's policy's choice of the next node.
pub fn next_action(
    tree: &SearchTree,
    settings: &SearchSettings,
    direction: Option<Direction>,
    rng: &mut RunRng,
) -> Decision {
    match settings.policy {
        PolicyKind::Greedy => greedy::decide(tree, settings, direction, rng),
        PolicyKind::Mcts => mcts::decide(tree, settings, direction),
        PolicyKind::Evolutionary => evolutionary::decide(tree, settings, direction, rng),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod simulation_tests;
