//! Round trips of every event kind, and decoding of the payloads earlier versions wrote.

use serde_json::json;

use super::*;

fn every_kind() -> Vec<RunEvent> {
    let node = NodeId::new();
    let taken = RunTaken {
        epoch: 2,
        owner: "replica-a".into(),
        nodes: 3,
        unfinished: 1,
    };
    vec![
        RunEvent::RunStarted(taken.clone()),
        RunEvent::RunResumed(taken),
        RunEvent::NodeCreated(NodeCreated {
            node_id: node,
            parent: None,
            partner: None,
            action: Action::Draft,
            step: 0,
            debug_depth: 0,
            rng: RunRng::from_seed(7),
            pin: None,
        }),
        RunEvent::NodeReviewed(NodeReviewed {
            node_id: node,
            step: 0,
            action: Action::Draft,
            buggy: true,
            metric: None,
            bug_reasons: vec![BugReason::Exception("KeyError".into()), BugReason::TimedOut],
        }),
        RunEvent::BestChanged(BestChanged {
            node_id: node,
            step: 4,
            metric: 0.125,
        }),
        RunEvent::InfraRetry(InfraRetry {
            node_id: Some(node),
            step: Some(4),
            what: "code call".into(),
            retry: 1,
            error: "unavailable".into(),
            wait_ms: 500,
        }),
        RunEvent::ReportFailed(ReportFailed {
            error: "refused".into(),
            attempts: 3,
        }),
        RunEvent::RunFinished(RunFinished {
            status: RunStatus::Completed,
            reason: "steps budget reached".into(),
        }),
    ]
}

#[test]
fn every_kind_round_trips_through_its_stored_parts() {
    for event in every_kind() {
        let payload = event.payload();
        assert!(payload.get("kind").is_none(), "{payload}");
        let back = RunEvent::from_parts(event.kind(), payload);
        assert_eq!(back, event);
    }
}

#[test]
fn kind_is_the_serde_tag() {
    for event in every_kind() {
        let tagged = serde_json::to_value(&event).unwrap();
        assert_eq!(tagged["kind"], event.kind());
    }
}

/// The payloads exactly as the engine of the previous version built them with `json!`.
#[test]
fn payloads_of_the_previous_version_decode() {
    let id = NodeId::new();
    let rng = serde_json::to_value(RunRng::from_seed(1)).unwrap();
    let old = [
        (
            "node_created",
            json!({"node_id": id, "parent": null, "action": "improve", "step": 5, "debug_depth": 0, "rng": rng}),
        ),
        (
            "node_reviewed",
            json!({"node_id": id, "step": 5, "action": "debug", "buggy": false, "metric": 0.5, "bug_reasons": []}),
        ),
        (
            "node_reviewed",
            json!({"node_id": id, "step": 6, "action": "draft", "buggy": true, "metric": null,
                   "bug_reasons": [{"kind": "exception", "detail": "KeyError"}, {"kind": "no_submission"}]}),
        ),
        (
            "best_changed",
            json!({"node_id": id, "step": 5, "metric": 0.5}),
        ),
        (
            "infra_retry",
            json!({"node_id": null, "step": null, "what": "run_usage", "retry": 2, "error": "db down", "wait_ms": 1000}),
        ),
        ("report_failed", json!({"error": "no", "attempts": 3})),
        (
            "run_finished",
            json!({"status": "cancelled", "reason": "cancelled by request"}),
        ),
        (
            "run_resumed",
            json!({"epoch": 3, "owner": "host-1", "nodes": 4, "unfinished": 1}),
        ),
    ];
    for (kind, payload) in old {
        let event = RunEvent::from_parts(kind, payload.clone());
        assert!(
            !matches!(event, RunEvent::Unrecognised(_)),
            "{kind} {payload}"
        );
        assert_eq!(event.kind(), kind);
    }
}

#[test]
fn an_unknown_kind_or_a_misfit_payload_is_kept_verbatim() {
    let payload = json!({"anything": [1, 2]});
    let event = RunEvent::from_parts("node_pinned", payload.clone());
    assert_eq!(
        event,
        RunEvent::Unrecognised(UnrecognisedEvent {
            kind: "node_pinned".into(),
            payload: payload.clone()
        })
    );
    assert_eq!(event.kind(), "node_pinned");
    assert_eq!(event.payload(), payload);
    let misfit = RunEvent::from_parts("best_changed", json!({"node_id": 3}));
    assert!(matches!(misfit, RunEvent::Unrecognised(_)));
    let not_an_object = RunEvent::from_parts("run_finished", json!("done"));
    assert!(matches!(not_an_object, RunEvent::Unrecognised(_)));
}
