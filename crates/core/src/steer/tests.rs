//! Steering replayed from directives: pins spent once and in order, pins on pruned or
//! unknown nodes dropped, notes kept with their author, budgets validated.

use super::*;
use crate::metric::MetricValue;

fn actor() -> Actor {
    Actor {
        token_id: "tok-1".into(),
        project: "default".into(),
        role: "member".into(),
    }
}

fn steered(directive: Directive) -> Steered {
    Steered {
        by: actor(),
        directive,
    }
}

fn tree_with(statuses: &[NodeStatus]) -> (SearchTree, Vec<NodeId>) {
    let mut tree = SearchTree::new();
    let ids: Vec<NodeId> = statuses
        .iter()
        .map(|status| {
            let id = NodeId::new();
            tree.add_in_flight(id, Decision::Draft);
            tree.set_status(id, *status);
            id
        })
        .collect();
    (tree, ids)
}

fn good(v: f64) -> NodeStatus {
    NodeStatus::Good(MetricValue::new(v).expect("finite"))
}

#[test]
fn pins_are_acted_on_in_the_order_given_and_only_once() {
    let (tree, ids) = tree_with(&[good(0.1), NodeStatus::Buggy]);
    let mut steering = Steering::default();
    steering.take(3, &steered(Directive::Pin { node: ids[1] }));
    steering.take(4, &steered(Directive::Pin { node: ids[0] }));
    assert_eq!(steering.next_pin(&tree), Some((3, Decision::Debug(ids[1]))));
    assert_eq!(
        steering.next_pin(&tree),
        Some((4, Decision::Improve(ids[0])))
    );
    assert_eq!(steering.next_pin(&tree), None);
}

#[test]
fn a_pin_spent_before_a_restart_is_not_acted_on_again() {
    let (tree, ids) = tree_with(&[good(0.1)]);
    let mut steering = Steering::default();
    steering.spend(5);
    steering.take(5, &steered(Directive::Pin { node: ids[0] }));
    steering.take(6, &steered(Directive::Pin { node: ids[0] }));
    assert_eq!(
        steering.next_pin(&tree),
        Some((6, Decision::Improve(ids[0])))
    );
    assert_eq!(steering.next_pin(&tree), None);
}

#[test]
fn a_pin_on_a_pruned_or_unknown_node_is_dropped_and_one_in_flight_waits() {
    let (mut tree, ids) = tree_with(&[good(0.1), NodeStatus::InFlight]);
    let mut steering = Steering::default();
    steering.take(1, &steered(Directive::Pin { node: ids[0] }));
    steering.take(
        2,
        &steered(Directive::Pin {
            node: NodeId::new(),
        }),
    );
    steering.take(3, &steered(Directive::Pin { node: ids[1] }));
    tree.prune(ids[0]);
    assert_eq!(steering.next_pin(&tree), None);
    tree.set_status(ids[1], good(0.2));
    assert_eq!(
        steering.next_pin(&tree),
        Some((3, Decision::Improve(ids[1])))
    );
}

#[test]
fn events_older_than_the_newest_taken_are_ignored() {
    let mut steering = Steering::default();
    steering.take(7, &steered(Directive::Note { text: "a".into() }));
    steering.take(7, &steered(Directive::Note { text: "a".into() }));
    steering.take(2, &steered(Directive::Note { text: "b".into() }));
    assert_eq!(steering.notes().len(), 1);
    assert_eq!(steering.notes()[0].by, "tok-1");
    assert_eq!(steering.through(), 7);
}

#[test]
fn prunes_accumulate() {
    let mut steering = Steering::default();
    let (a, b) = (NodeId::new(), NodeId::new());
    steering.take(1, &steered(Directive::Prune { node: a }));
    steering.take(2, &steered(Directive::Prune { node: b }));
    assert_eq!(steering.pruned(), &[a, b]);
}

#[test]
fn a_budget_directive_changes_only_what_it_names_and_is_validated() {
    let settings = RunSettings::default();
    let more = Directive::Budget {
        steps: Some(40),
        max_run_secs: None,
    };
    let next = more.applied_to(&settings).expect("valid");
    assert_eq!((next.steps, next.max_run_secs), (40, settings.max_run_secs));
    let timed = Directive::Budget {
        steps: None,
        max_run_secs: Some(600),
    };
    assert_eq!(
        timed.applied_to(&settings).expect("valid").max_run_secs,
        Some(600)
    );
    for bad in [
        Directive::Budget {
            steps: Some(0),
            max_run_secs: None,
        },
        Directive::Budget {
            steps: None,
            max_run_secs: Some(0),
        },
        Directive::Budget {
            steps: None,
            max_run_secs: Some(u64::MAX),
        },
    ] {
        assert!(bad.applied_to(&settings).is_err(), "{bad:?}");
    }
}

#[test]
fn empty_oversized_and_empty_budget_directives_are_refused() {
    let refused = [
        Directive::Note { text: "  ".into() },
        Directive::Note {
            text: "x".repeat(MAX_NOTE_CHARS + 1),
        },
        Directive::Budget {
            steps: None,
            max_run_secs: None,
        },
    ];
    for directive in refused {
        assert!(directive.check().is_err(), "{directive:?}");
    }
    assert!(
        Directive::Note {
            text: "try target encoding".into()
        }
        .check()
        .is_ok()
    );
}

#[test]
fn a_steered_event_round_trips_through_its_stored_parts() {
    let event = crate::RunEvent::Steered(steered(Directive::Budget {
        steps: Some(12),
        max_run_secs: None,
    }));
    let back = crate::RunEvent::from_parts(event.kind(), event.payload());
    assert_eq!(back, event);
    assert_eq!(event.payload()["directive"], "budget");
}

#[test]
fn a_pin_on_a_buggy_node_being_debugged_waits_for_that_debug() {
    let (mut tree, ids) = tree_with(&[NodeStatus::Buggy]);
    let debug = NodeId::new();
    tree.add_in_flight(debug, Decision::Debug(ids[0]));
    let mut steering = Steering::default();
    steering.take(1, &steered(Directive::Pin { node: ids[0] }));
    assert_eq!(
        steering.next_pin(&tree),
        None,
        "no node is debugged twice at once"
    );
    tree.set_status(debug, NodeStatus::Buggy);
    assert_eq!(steering.next_pin(&tree), Some((1, Decision::Debug(ids[0]))));
}

#[test]
fn notes_past_the_last_a_run_keeps_are_ignored() {
    let mut steering = Steering::default();
    for seq in 1..=(MAX_NOTES as u64 + 2) {
        steering.take(
            seq,
            &steered(Directive::Note {
                text: format!("note {seq}"),
            }),
        );
    }
    assert_eq!(steering.notes().len(), MAX_NOTES);
    assert_eq!(
        steering.notes()[MAX_NOTES - 1].text,
        format!("note {MAX_NOTES}")
    );
}
