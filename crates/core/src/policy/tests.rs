//! Pins the §4 policy: each branch on scripted trees, and seeded simulations.

use std::collections::HashMap;

use super::*;

fn settings(num_drafts: u32, debug_prob: f64) -> SearchSettings {
    SearchSettings {
        num_drafts,
        debug_prob,
        max_debug_depth: 3,
        ..SearchSettings::default()
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
