//! Pins the §4 policy: each branch on scripted trees, and seeded simulations.

use std::collections::HashMap;

use super::*;

fn settings(num_drafts: u32, debug_prob: f64) -> SearchSettings {
    SearchSettings {
        num_drafts,
        debug_prob,
        max_debug_depth: 3,
    }
}

fn good(v: f64) -> NodeStatus {
    NodeStatus::Good(MetricValue::new(v).expect("finite"))
}

/// Adds a node for `decision` and sets its status at once.
fn add(tree: &mut SearchTree, decision: Decision, status: NodeStatus) -> NodeId {
    let id = NodeId::new();
    tree.add_in_flight(id, decision);
    tree.set_status(id, status);
    id
}

#[test]
fn drafts_until_num_drafts_roots_exist_counting_buggy_and_in_flight() {
    let mut rng = RunRng::from_seed(0);
    let s = settings(3, 1.0);
    let mut tree = SearchTree::new();
    assert_eq!(next_action(&tree, &s, None, &mut rng), Decision::Draft);
    add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    add(&mut tree, Decision::Draft, NodeStatus::InFlight);
    // Two roots (one buggy, one in flight) < 3: still a draft, even with debug_prob = 1.
    assert_eq!(next_action(&tree, &s, None, &mut rng), Decision::Draft);
    add(&mut tree, Decision::Draft, good(0.5));
    assert_ne!(
        next_action(&tree, &s, Some(Direction::Minimize), &mut rng),
        Decision::Draft
    );
}

#[test]
fn debugs_a_buggy_leaf_when_the_coin_says_so() {
    let mut rng = RunRng::from_seed(0);
    let mut tree = SearchTree::new();
    let buggy = add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    add(&mut tree, Decision::Draft, good(0.3));
    let decision = next_action(
        &tree,
        &settings(2, 1.0),
        Some(Direction::Minimize),
        &mut rng,
    );
    assert_eq!(decision, Decision::Debug(buggy));
}

#[test]
fn a_buggy_node_with_a_child_in_flight_is_not_debugged_again() {
    let mut rng = RunRng::from_seed(0);
    let mut tree = SearchTree::new();
    let buggy = add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    let good_id = add(&mut tree, Decision::Draft, good(0.3));
    add(&mut tree, Decision::Debug(buggy), NodeStatus::InFlight);
    let decision = next_action(
        &tree,
        &settings(2, 1.0),
        Some(Direction::Minimize),
        &mut rng,
    );
    assert_eq!(decision, Decision::Improve(good_id));
}

#[test]
fn debug_depth_limit_stops_the_chain() {
    let mut rng = RunRng::from_seed(0);
    let mut tree = SearchTree::new();
    let mut tip = add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    assert_eq!(tree.get(tip).expect("node").debug_depth, 0);
    for depth in 1..=4 {
        assert_eq!(tree.debuggable(3), vec![tip]);
        tip = add(&mut tree, Decision::Debug(tip), NodeStatus::Buggy);
        assert_eq!(tree.get(tip).expect("node").debug_depth, depth);
    }
    // Depth 4 > max_debug_depth 3: not debuggable, so with no good node the policy drafts.
    assert!(tree.debuggable(3).is_empty());
    assert_eq!(
        next_action(&tree, &settings(1, 1.0), None, &mut rng),
        Decision::Draft
    );
}

#[test]
fn improving_a_good_node_resets_debug_depth() {
    let mut tree = SearchTree::new();
    let root = add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    let fixed = add(&mut tree, Decision::Debug(root), good(0.2));
    assert_eq!(tree.get(fixed).expect("node").debug_depth, 1);
    let improved = add(&mut tree, Decision::Improve(fixed), NodeStatus::Buggy);
    assert_eq!(tree.get(improved).expect("node").debug_depth, 0);
}

#[test]
fn drafts_when_nothing_is_good_and_the_coin_says_no() {
    let mut rng = RunRng::from_seed(0);
    let mut tree = SearchTree::new();
    add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    assert_eq!(
        next_action(&tree, &settings(1, 0.0), None, &mut rng),
        Decision::Draft
    );
}

#[test]
fn improves_the_best_node_greedily_with_first_reached_winning_ties() {
    let mut rng = RunRng::from_seed(0);
    let mut tree = SearchTree::new();
    let a = add(&mut tree, Decision::Draft, good(0.30));
    let b = add(&mut tree, Decision::Draft, good(0.10));
    let c = add(&mut tree, Decision::Draft, good(0.10));
    let d = add(&mut tree, Decision::Draft, good(0.90));
    add(&mut tree, Decision::Draft, NodeStatus::Buggy);
    let s = settings(5, 0.0);
    assert_eq!(
        next_action(&tree, &s, Some(Direction::Minimize), &mut rng),
        Decision::Improve(b)
    );
    assert_eq!(
        next_action(&tree, &s, Some(Direction::Maximize), &mut rng),
        Decision::Improve(d)
    );
    assert_eq!(tree.best(None).map(|n| n.id), Some(a));
    assert_ne!(tree.best(Some(Direction::Minimize)).map(|n| n.id), Some(c));
}

#[test]
fn debug_choice_is_uniform_over_candidates() {
    let mut tree = SearchTree::new();
    let ids: Vec<NodeId> = (0..3)
        .map(|_| add(&mut tree, Decision::Draft, NodeStatus::Buggy))
        .collect();
    let mut rng = RunRng::from_seed(9);
    let mut counts: HashMap<NodeId, usize> = HashMap::new();
    for _ in 0..3_000 {
        match next_action(&tree, &settings(3, 1.0), None, &mut rng) {
            Decision::Debug(id) => *counts.entry(id).or_default() += 1,
            other => panic!("expected a debug, got {other:?}"),
        }
    }
    for id in ids {
        let n = counts.get(&id).copied().unwrap_or(0);
        assert!((850..1_150).contains(&n), "{id}: {n}");
    }
}

/// Counts of each action in a simulation, plus the decision trail for replay checks.
#[derive(Debug, PartialEq)]
struct Simulation {
    drafts: usize,
    debugs: usize,
    improves: usize,
    trail: Vec<(u32, Option<u32>)>,
}

/// Runs the policy for `steps` nodes with `workers` in flight at most. Outcomes come from a
/// second seeded generator: a node is buggy with probability 0.4, else good with a metric
/// near its parent's. In-flight nodes finish in an order drawn from the outcome generator.
fn simulate(seed: u64, steps: usize, workers: usize) -> (Simulation, SearchTree) {
    let s = SearchSettings::default();
    let mut rng = RunRng::from_seed(seed);
    let mut outcomes = RunRng::from_seed(seed ^ 0xA1DE);
    let mut tree = SearchTree::new();
    let mut in_flight: Vec<NodeId> = Vec::new();
    let mut sim = Simulation {
        drafts: 0,
        debugs: 0,
        improves: 0,
        trail: Vec::new(),
    };
    let mut created = 0;
    while created < steps || !in_flight.is_empty() {
        if created < steps && in_flight.len() < workers {
            let decision = next_action(&tree, &s, Some(Direction::Minimize), &mut rng);
            if let Decision::Debug(target) = decision {
                assert!(
                    !tree.nodes().iter().any(|n| n.parent == Some(target)),
                    "node {target} debugged while it already has a child"
                );
            }
            match decision {
                Decision::Draft => sim.drafts += 1,
                Decision::Debug(_) => sim.debugs += 1,
                Decision::Improve(_) => sim.improves += 1,
            }
            let id = NodeId(uuid::Uuid::from_u128(created as u128 + 1));
            let parent_step = decision.parent().and_then(|p| tree.get(p)).map(|p| p.step);
            let step = tree.add_in_flight(id, decision).step;
            sim.trail.push((step, parent_step));
            in_flight.push(id);
            created += 1;
            continue;
        }
        let done = in_flight.swap_remove(outcomes.index(in_flight.len()));
        let status = if outcomes.chance(0.4) {
            NodeStatus::Buggy
        } else {
            let base = match tree
                .get(done)
                .and_then(|n| n.parent)
                .and_then(|p| tree.get(p))
            {
                Some(TreeNode {
                    status: NodeStatus::Good(m),
                    ..
                }) => m.get(),
                _ => 1.0,
            };
            good(base * (0.9 + 0.2 * outcomes.next_f64()))
        };
        tree.set_status(done, status);
    }
    (sim, tree)
}

/// Longest run of consecutive debug edges ending at each node must respect the depth rule.
fn assert_debug_chains_within_limit(tree: &SearchTree, max_debug_depth: u32) {
    for node in tree.nodes() {
        assert!(
            node.debug_depth <= max_debug_depth + 1,
            "node at step {} has depth {}",
            node.step,
            node.debug_depth
        );
        if let Some(parent) = node.parent.and_then(|p| tree.get(p)) {
            let expected = if parent.status == NodeStatus::Buggy {
                parent.debug_depth + 1
            } else {
                0
            };
            assert_eq!(
                node.debug_depth, expected,
                "depth rule at step {}",
                node.step
            );
            if node.debug_depth > 0 {
                assert!(
                    parent.debug_depth <= max_debug_depth,
                    "debugged a node beyond the limit"
                );
            }
        }
    }
}

#[test]
fn seeded_thousand_step_simulation_is_reproducible_and_pinned() {
    let (first, tree) = simulate(42, 1_000, 1);
    let (second, _) = simulate(42, 1_000, 1);
    assert_eq!(first, second, "same seed, same decisions");
    assert_eq!(first.drafts + first.debugs + first.improves, 1_000);
    assert_eq!(tree.draft_count(), first.drafts);
    assert_debug_chains_within_limit(&tree, 3);
    // Pinned counts: a change here means the policy or the RNG no longer replays old runs.
    assert_eq!((first.drafts, first.debugs, first.improves), PINNED_SEED_42);
    let (other, _) = simulate(43, 1_000, 1);
    assert_ne!(first.trail, other.trail, "another seed takes another path");
}

#[test]
fn parallel_simulation_keeps_the_rules() {
    let (first, tree) = simulate(7, 1_000, 4);
    let (second, _) = simulate(7, 1_000, 4);
    assert_eq!(first, second);
    assert_debug_chains_within_limit(&tree, 3);
    assert!(first.debugs > 0 && first.improves > 0 && first.drafts >= 5);
}

const PINNED_SEED_42: (usize, usize, usize) = (5, 401, 594);
