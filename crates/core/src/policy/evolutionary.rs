//! Evolutionary search: populations on islands, tournament selection, mutation by *improve*
//! and crossover by *merge*, and migration between islands.
//!
//! - **Islands.** A node belongs to its parent's island (a merge: its first parent's). A
//!   draft belongs to the island it was made for: the one with the fewest nodes when it was
//!   created, ties to the lowest. Membership is recomputed from the tree in creation order,
//!   so it needs no state of its own and survives any restart.
//! - **A step** works on the island with the fewest nodes. Its population is its best
//!   `population` good nodes outside pruned subtrees (normalised scores, earliest on ties).
//!   1. Until there are `max(num_drafts, islands)` drafts → draft (each island gets one).
//!   2. Migration: after every `migration_every` generations of the island (a generation is
//!      `population` offspring), its tournament winner is merged with the best of the
//!      previous island (a ring), if that island has a good node.
//!   3. With probability `debug_prob`, debug one of the island's buggy leaves within
//!      `max_debug_depth`, chosen uniformly.
//!   4. An empty population → draft.
//!   5. A tournament of `tournament` members drawn with replacement picks the parent; with
//!      probability `merge_prob` (and a population of two or more) a second tournament
//!      among the others picks a partner → merge; otherwise → improve.

use std::collections::HashMap;

use super::{Decision, NodeStatus, SearchTree, score};
use crate::metric::Direction;
use crate::node::NodeId;
use crate::rng::RunRng;
use crate::settings::SearchSettings;

pub(super) fn decide(
    tree: &SearchTree,
    settings: &SearchSettings,
    direction: Option<Direction>,
    rng: &mut RunRng,
) -> Decision {
    let e = &settings.evolutionary;
    let islands = e.islands.max(1) as usize;
    if tree.draft_count() < (settings.num_drafts as usize).max(islands) {
        return Decision::Draft;
    }
    let membership = island_of_each(tree, islands);
    let counts = island_sizes(tree, &membership, islands);
    let island = emptiest(&counts);
    let scores = score::normalised(tree, direction);
    let ranked = |i: usize| population(tree, &membership, &scores, i, e.population as usize);
    let local = ranked(island);

    let offspring = counts[island].offspring;
    let generation = e.population.max(1) as usize * e.migration_every.max(1) as usize;
    if islands > 1 && offspring > 0 && offspring.is_multiple_of(generation) {
        let neighbour = (island + islands - 1) % islands;
        if let (Some(migrant), false) = (ranked(neighbour).first().copied(), local.is_empty()) {
            let winner = tournament(&local, e.tournament, &scores, rng);
            return Decision::Merge(winner, migrant);
        }
    }
    if rng.chance(settings.debug_prob) {
        let candidates: Vec<NodeId> = tree
            .debuggable(settings.max_debug_depth)
            .into_iter()
            .filter(|id| membership.get(id) == Some(&island))
            .collect();
        if !candidates.is_empty() {
            return Decision::Debug(candidates[rng.index(candidates.len())]);
        }
    }
    if local.is_empty() {
        return Decision::Draft;
    }
    let winner = tournament(&local, e.tournament, &scores, rng);
    if local.len() >= 2 && rng.chance(e.merge_prob) {
        let others: Vec<NodeId> = local.iter().copied().filter(|id| *id != winner).collect();
        return Decision::Merge(winner, tournament(&others, e.tournament, &scores, rng));
    }
    Decision::Improve(winner)
}

/// The island of every node, replayed in creation order.
pub fn island_of_each(tree: &SearchTree, islands: usize) -> HashMap<NodeId, usize> {
    let mut counts = vec![0usize; islands.max(1)];
    let mut membership = HashMap::with_capacity(tree.len());
    for node in tree.nodes() {
        let island = match node.parent.and_then(|p| membership.get(&p)) {
            Some(&island) => island,
            None => emptiest_count(&counts),
        };
        counts[island] += 1;
        membership.insert(node.id, island);
    }
    membership
}

/// How many nodes an island holds, and how many of them are not drafts.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct IslandSize {
    pub nodes: usize,
    pub offspring: usize,
}

pub(super) fn island_sizes(
    tree: &SearchTree,
    membership: &HashMap<NodeId, usize>,
    islands: usize,
) -> Vec<IslandSize> {
    let mut sizes = vec![IslandSize::default(); islands];
    for node in tree.nodes() {
        let size = &mut sizes[membership[&node.id]];
        size.nodes += 1;
        size.offspring += usize::from(node.parent.is_some());
    }
    sizes
}

fn emptiest(sizes: &[IslandSize]) -> usize {
    emptiest_count(&sizes.iter().map(|s| s.nodes).collect::<Vec<_>>())
}

/// The index of the smallest count; the lowest index on ties.
fn emptiest_count(counts: &[usize]) -> usize {
    let mut best = 0;
    for (i, count) in counts.iter().enumerate() {
        if *count < counts[best] {
            best = i;
        }
    }
    best
}

/// An island's best `size` good nodes outside pruned subtrees, best first (earliest on ties).
pub(super) fn population(
    tree: &SearchTree,
    membership: &HashMap<NodeId, usize>,
    scores: &HashMap<NodeId, f64>,
    island: usize,
    size: usize,
) -> Vec<NodeId> {
    let mut members: Vec<(NodeId, f64)> = tree
        .nodes()
        .iter()
        .filter(|n| matches!(n.status, NodeStatus::Good(_)))
        .filter(|n| membership.get(&n.id) == Some(&island) && !tree.is_pruned(n.id))
        .map(|n| (n.id, scores.get(&n.id).copied().unwrap_or(0.0)))
        .collect();
    // A stable sort keeps creation order among equal scores.
    members.sort_by(|a, b| b.1.total_cmp(&a.1));
    members.truncate(size);
    members.into_iter().map(|(id, _)| id).collect()
}

/// The best of `size` members of `pool` drawn with replacement (the earliest drawn on ties).
fn tournament(
    pool: &[NodeId],
    size: u32,
    scores: &HashMap<NodeId, f64>,
    rng: &mut RunRng,
) -> NodeId {
    let mut best = pool[rng.index(pool.len())];
    for _ in 1..size.max(1) {
        let drawn = pool[rng.index(pool.len())];
        if scores.get(&drawn) > scores.get(&best) {
            best = drawn;
        }
    }
    best
}
