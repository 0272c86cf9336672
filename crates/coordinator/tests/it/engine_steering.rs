//! Steering a live run through the engine (ARCHITECTURE §14), with a stub author whose code
//! calls wait for the test's go-ahead: directives given while the run goes on are taken in
//! (a pin makes the next node, a prune keeps the subtree out, a note reaches the prompts, a
//! budget moves the end), a new owner replays them without acting on a spent pin again, and
//! a fork's first node is the forked node's code with no draft call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::engine_support::stubs::{ReadingExecutor, metric_review, tiny_task};
use crate::engine_support::*;
use aide_coordinator::engine::{
    Answer, Author, AuthorReply, AuthorRequest, CallKind, PortError, RunEnd,
};
use aide_core::event::Actor;
use aide_core::steer::{Directive, Steered};
use aide_core::{Action, NodeId, RunEvent, RunId};
use aide_store::{AnyStore, CallUsage, EventStore, NewRun, NodeRecord, NodeStore, RunStore};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// What the author was asked for one node.
#[derive(Debug, Clone)]
struct CodeCall {
    step: u32,
    call: CallKind,
    prompt: String,
}

/// Writes a program printing a metric that improves with the step; each code call waits
/// for a permit of `gate` (none: answers at once). Reviews read the metric back.
#[derive(Debug, Default)]
struct GatedAuthor {
    gate: Option<Arc<Semaphore>>,
    calls: Arc<Mutex<Vec<CodeCall>>>,
}

impl Author for GatedAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        let hints = request.hints;
        let answer = if hints.call == CallKind::Review {
            metric_review(&hints.last_output, "gated")
        } else {
            self.calls.lock().expect("calls").push(CodeCall {
                step: hints.step,
                call: hints.call,
                prompt: request.prompt.clone(),
            });
            if let Some(gate) = &self.gate {
                gate.acquire().await.expect("gate").forget();
            }
            let metric = 1.0 / f64::from(hints.step + 1);
            Answer::Text(format!(
                "Plan for step {}.\n```python\nprint('AIDE_METRIC: {metric}')\n```\n",
                hints.step
            ))
        };
        Ok(AuthorReply {
            answer: Some(answer),
            usage: CallUsage {
                provider: "stub".into(),
                model: "gated".into(),
                ..CallUsage::default()
            },
        })
    }
}

fn by_alice(directive: Directive) -> Steered {
    Steered {
        by: Actor {
            token_id: "tok-alice".into(),
            project: "default".into(),
            role: "member".into(),
        },
        directive,
    }
}

/// Waits until the run has `n` reviewed nodes.
async fn reviewed(store: &AnyStore, run: RunId, n: usize) -> Vec<NodeRecord> {
    for _ in 0..600 {
        let nodes = store.load_tree(run).await.expect("tree");
        if nodes.iter().filter(|n| n.review.is_some()).count() >= n {
            return nodes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the run never had {n} reviewed nodes");
}

/// Waits until the author has been asked for `n` code calls.
async fn asked(calls: &Mutex<Vec<CodeCall>>, n: usize) {
    for _ in 0..600 {
        if calls.lock().expect("calls").len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the author was never asked for {n} code calls");
}

/// The pin each node's creation event names.
async fn pins(store: &AnyStore, run: RunId) -> Vec<(NodeId, Option<u64>)> {
    let events = store.events_after(run, 0, 10_000).await.expect("events");
    events
        .iter()
        .filter_map(|e| match &e.event {
            RunEvent::NodeCreated(created) => Some((created.node_id, created.pin)),
            _ => None,
        })
        .collect()
}

fn is_in_subtree(nodes: &[NodeRecord], node: &NodeRecord, root: NodeId) -> bool {
    let mut at = Some(node.id);
    while let Some(id) = at {
        if id == root {
            return true;
        }
        at = nodes.iter().find(|n| n.id == id).and_then(|n| n.parent);
    }
    false
}

/// A directive is taken in within the signal watch's period (1 s); this is three of them.
const TAKEN_IN: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directives_given_to_a_live_run_are_taken_in_order_and_replayed_by_a_new_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let mut s = settings(20, 2);
    s.workers = 1;
    s.search.debug_prob = 0.0;
    let lease = claimed_run(&store, tiny_task(dir.path()), s).await;
    let run = lease.run_id;
    let gate = Arc::new(Semaphore::new(2));
    let author = GatedAuthor {
        gate: Some(gate.clone()),
        ..GatedAuthor::default()
    };
    let calls = author.calls.clone();
    let stop = CancellationToken::new();
    let first = engine(store.clone(), author, ReadingExecutor, None);
    let driving = tokio::spawn({
        let (lease, stop) = (lease.clone(), stop.clone());
        async move { first.drive(lease, stop).await }
    });

    // Two drafts, reviewed; the third code call waits at the gate.
    let nodes = reviewed(&store, run, 2).await;
    asked(&calls, 3).await;
    let (d0, d1) = (nodes[0].id, nodes[1].id);
    let note = "Try target encoding on the categorical columns.";
    for directive in [
        Directive::Prune { node: d1 },
        Directive::Pin { node: d0 },
        Directive::Note { text: note.into() },
        Directive::Budget {
            steps: Some(6),
            max_run_secs: None,
        },
    ] {
        store
            .steer_run(run, &by_alice(directive))
            .await
            .expect("steer");
    }
    let pin_seq = pins_seq(&store, run).await;
    tokio::time::sleep(TAKEN_IN).await;
    gate.add_permits(2);

    // Node 3 carries out the pin: an improvement of d0, its event naming the pin.
    let nodes = reviewed(&store, run, 4).await;
    let pinned = &nodes[3];
    assert_eq!(
        (pinned.action, pinned.parent),
        (Action::Improve, Some(d0)),
        "the pin makes the next node"
    );
    let created = pins(&store, run).await;
    assert_eq!(created[3], (pinned.id, Some(pin_seq)));
    assert!(created.iter().filter(|(_, p)| p.is_some()).count() == 1);
    let prompts = calls.lock().expect("calls").clone();
    assert_eq!(prompts[3].step, 3);
    assert_eq!(prompts[3].call, CallKind::Improve);
    assert!(
        prompts[3].prompt.contains(note),
        "the note reaches the prompt"
    );
    assert!(!prompts[0].prompt.contains(note));

    // Interrupted, and resumed by a new owner: the spent pin is not acted on again, the
    // prune still holds, the note is still shown, and the budget of 6 ends the run.
    stop.cancel();
    assert_eq!(
        driving.await.expect("join").expect("drive"),
        RunEnd::Interrupted
    );
    let resumed = claim(&store).await;
    let author = GatedAuthor::default();
    let calls_after = author.calls.clone();
    let end = engine(store.clone(), author, ReadingExecutor, None)
        .drive(resumed, CancellationToken::new())
        .await
        .expect("resume");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    let nodes = store.load_tree(run).await.expect("tree");
    assert_eq!(nodes.len(), 6, "the budget directive set the steps");
    for node in &nodes[3..] {
        assert!(
            !is_in_subtree(&nodes, node, d1),
            "step {} grew the pruned subtree",
            node.step
        );
    }
    let created = pins(&store, run).await;
    assert_eq!(created.iter().filter(|(_, p)| p.is_some()).count(), 1);
    for call in calls_after.lock().expect("calls").iter() {
        assert!(
            call.prompt.contains(note),
            "step {}: the note is replayed",
            call.step
        );
    }
    let stored = store.get_run(run).await.expect("run");
    assert_eq!(stored.settings.steps, 6);
}

/// The sequence number of the run's pin directive.
async fn pins_seq(store: &AnyStore, run: RunId) -> u64 {
    let events = store.events_after(run, 0, 10_000).await.expect("events");
    events
        .iter()
        .find_map(|e| match &e.event {
            RunEvent::Steered(Steered {
                directive: Directive::Pin { .. },
                ..
            }) => Some(e.seq),
            _ => None,
        })
        .expect("a pin event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_starts_from_the_forked_node_s_code_without_a_draft_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let task = tiny_task(dir.path());
    let source = claimed_run(&store, task.clone(), settings(2, 2)).await;
    let end = engine(store.clone(), GatedAuthor::default(), ReadingExecutor, None)
        .drive(source.clone(), CancellationToken::new())
        .await
        .expect("drive the source");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    let forked_node = store.load_tree(source.run_id).await.expect("tree")[1].clone();
    let forked_code = forked_node
        .generation
        .as_ref()
        .and_then(|g| g.code.clone())
        .expect("code");

    let fork = store
        .create_run(NewRun {
            project: aide_core::access::ProjectName::default_project(),
            name: "fork".into(),
            task,
            settings: settings(3, 1),
            direction: None,
            seed: 7,
            fork_of: Some(forked_node.id),
        })
        .await
        .expect("fork");
    let lease = claim(&store).await;
    assert_eq!(lease.run_id, fork.id);
    let author = GatedAuthor::default();
    let calls = author.calls.clone();
    let end = engine(store.clone(), author, ReadingExecutor, None)
        .drive(lease, CancellationToken::new())
        .await
        .expect("drive the fork");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    let nodes = store.load_tree(fork.id).await.expect("tree");
    let first = &nodes[0];
    assert_eq!(first.action, Action::Draft);
    let generation = first.generation.as_ref().expect("generation");
    assert_eq!(generation.code.as_deref(), Some(forked_code.as_str()));
    assert!(generation.plan.contains(&forked_node.id.to_string()));
    let review = first.review.as_ref().expect("reviewed");
    assert!(!review.is_buggy, "the forked code ran and was reviewed");
    let steps: Vec<u32> = calls
        .lock()
        .expect("calls")
        .iter()
        .map(|c| c.step)
        .collect();
    assert_eq!(steps, [1, 2], "no code call for the forked first node");
}
