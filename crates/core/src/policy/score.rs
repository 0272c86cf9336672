//! Scores normalised per run, which MCTS backs up and evolutionary selection compares: the
//! run's worst good metric is 0, its best is 1, whatever the metric's direction and scale.

use std::collections::HashMap;

use super::{NodeStatus, SearchTree};
use crate::metric::Direction;
use crate::node::NodeId;

/// Every good node's normalised score. With one distinct metric (or no direction fixed yet)
/// every good node scores 1.
pub fn normalised(tree: &SearchTree, direction: Option<Direction>) -> HashMap<NodeId, f64> {
    let metrics: Vec<(NodeId, f64)> = tree
        .nodes()
        .iter()
        .filter_map(|n| match n.status {
            NodeStatus::Good(m) => Some((n.id, m.get())),
            _ => None,
        })
        .collect();
    let lo = metrics.iter().map(|m| m.1).fold(f64::INFINITY, f64::min);
    let hi = metrics
        .iter()
        .map(|m| m.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    metrics
        .into_iter()
        .map(|(id, v)| {
            let score = match direction {
                _ if !(span > 0.0 && span.is_finite()) => 1.0,
                Some(Direction::Minimize) => (hi - v) / span,
                Some(Direction::Maximize) => (v - lo) / span,
                None => 1.0,
            };
            (id, score)
        })
        .collect()
}
