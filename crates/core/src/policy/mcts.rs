//! Monte Carlo tree search over the solution tree.
//!
//! - **Statistics** are recomputed from the tree at each decision, so they are always those
//!   of the stored nodes and survive any restart: a node's visits are the nodes of its
//!   subtree (itself included), its value the sum of their values. A good node's value is its
//!   normalised score ([`super::score`]), a buggy node's `buggy_value`, and a node in flight
//!   counts as a visit worth 0: the virtual loss that makes parallel selections spread out.
//! - **Selection** descends from the drafts by UCT, `Q + c·sqrt(ln N_parent / N)`, through
//!   subtrees that still hold an expandable node. The constant is `exploration` times
//!   `exploration_decay` to the power of the nodes created so far.
//! - **Expansion** happens at the first selected node with room: fewer than `max_children`
//!   children, outside pruned subtrees, not in flight. A good node is improved; a buggy one
//!   within `max_debug_depth` is debugged, unless a debug of it is in flight.
//! - The first `num_drafts` nodes are drafts; when nothing is expandable, another draft.
//!
//! No random draw is made: ties go to the earliest node.

use std::collections::HashMap;

use super::{Decision, NodeStatus, SearchTree, TreeNode, score};
use crate::metric::Direction;
use crate::node::NodeId;
use crate::settings::SearchSettings;

/// One node's MCTS statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeStats {
    /// Nodes in its subtree, itself included (in-flight ones count).
    pub visits: u32,
    /// Sum of the values of its subtree's nodes.
    pub value: f64,
    /// Whether its subtree still holds a node that can be expanded.
    pub open: bool,
}

pub(super) fn decide(
    tree: &SearchTree,
    settings: &SearchSettings,
    direction: Option<Direction>,
) -> Decision {
    if tree.draft_count() < settings.num_drafts as usize {
        return Decision::Draft;
    }
    let stats = tree_stats(tree, settings, direction);
    let m = &settings.mcts;
    let c = m.exploration
        * m.exploration_decay
            .powi(tree.len().min(i32::MAX as usize) as i32);
    let roots: Vec<NodeId> = tree.roots().map(|n| n.id).collect();
    let mut level = roots.as_slice();
    let mut parent_visits: u32 = roots.iter().map(|id| stats[id].visits).sum();
    loop {
        let Some(pick) = select(level, parent_visits, &stats, c) else {
            return Decision::Draft;
        };
        let node = tree.get(pick).expect("a selected node is in the tree");
        if let Some(decision) = expansion(tree, node, settings) {
            return decision;
        }
        level = tree.children(pick);
        parent_visits = stats[&pick].visits;
    }
}

/// The open node of `level` with the highest UCT value; the earliest on ties.
fn select(
    level: &[NodeId],
    parent_visits: u32,
    stats: &HashMap<NodeId, NodeStats>,
    c: f64,
) -> Option<NodeId> {
    let log_parent = f64::from(parent_visits.max(1)).ln();
    let mut best: Option<(NodeId, f64)> = None;
    for id in level {
        let s = stats[id];
        if !s.open {
            continue;
        }
        let visits = f64::from(s.visits.max(1));
        let uct = s.value / visits + c * (log_parent / visits).sqrt();
        if best.is_none_or(|(_, b)| uct > b) {
            best = Some((*id, uct));
        }
    }
    best.map(|(id, _)| id)
}

/// The node that expands `node`, when it has room for one.
fn expansion(tree: &SearchTree, node: &TreeNode, settings: &SearchSettings) -> Option<Decision> {
    let children = tree.children(node.id);
    if children.len() >= settings.mcts.max_children as usize || tree.is_pruned(node.id) {
        return None;
    }
    match node.status {
        NodeStatus::InFlight => None,
        NodeStatus::Good(_) => Some(Decision::Improve(node.id)),
        NodeStatus::Buggy => {
            let debugging = children.iter().any(|c| {
                tree.get(*c)
                    .is_some_and(|c| c.status == NodeStatus::InFlight)
            });
            (node.debug_depth <= settings.max_debug_depth && !debugging)
                .then_some(Decision::Debug(node.id))
        }
    }
}

/// Every node's statistics, computed from the leaves up.
pub fn tree_stats(
    tree: &SearchTree,
    settings: &SearchSettings,
    direction: Option<Direction>,
) -> HashMap<NodeId, NodeStats> {
    let scores = score::normalised(tree, direction);
    let mut stats: HashMap<NodeId, NodeStats> = HashMap::with_capacity(tree.len());
    // A child is always created after its parent, so reverse creation order visits every
    // child before its parent.
    for node in tree.nodes().iter().rev() {
        let own = match node.status {
            NodeStatus::Good(_) => scores.get(&node.id).copied().unwrap_or(0.0),
            NodeStatus::Buggy => settings.mcts.buggy_value,
            NodeStatus::InFlight => 0.0,
        };
        let mut s = stats.get(&node.id).copied().unwrap_or_default();
        s.visits += 1;
        s.value += own;
        // A pruned node's descendants are pruned too: nothing below it is open.
        s.open = !tree.is_pruned(node.id) && (s.open || expansion(tree, node, settings).is_some());
        stats.insert(node.id, s);
        if let Some(parent) = node.parent {
            let p = stats.entry(parent).or_default();
            p.visits += s.visits;
            p.value += s.value;
            p.open |= s.open;
        }
    }
    stats
}
