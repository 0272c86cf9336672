//! Directives (ARCHITECTURE §14): recorded as events with their author, signalled to the
//! owner through `steered_seq`, budgets stored in the settings, refused on finished runs;
//! and forks, which name the node their first draft copies.

use std::sync::Arc;

use aide_core::event::Actor;
use aide_core::steer::{Directive, Steered};
use aide_core::{NodeId, RunEvent, RunId};
use aide_store::prelude::*;
use aide_store::{Error, RunStatus};

use super::{Harness, claimed, create, draft, new_run};
use crate::assert_err;

fn by(directive: Directive) -> Steered {
    Steered {
        by: Actor {
            token_id: "tok-alice".into(),
            project: "default".into(),
            role: "member".into(),
        },
        directive,
    }
}

pub async fn directives_are_recorded_signalled_and_refused_once_finished<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "steered").await;
    let quiet = create(&store, "quiet").await;
    let note = by(Directive::Note {
        text: "try target encoding".into(),
    });
    let seq = store.steer_run(lease.run_id, &note).await.expect("note");
    let budget = by(Directive::Budget {
        steps: Some(7),
        max_run_secs: Some(90),
    });
    let budget_seq = store
        .steer_run(lease.run_id, &budget)
        .await
        .expect("budget");
    assert!(budget_seq > seq);

    let events = store
        .events_after(lease.run_id, 0, 100)
        .await
        .expect("events");
    let steered: Vec<&RunEvent> = events
        .iter()
        .filter(|e| matches!(e.event, RunEvent::Steered(_)))
        .map(|e| &e.event)
        .collect();
    assert_eq!(
        steered,
        [&RunEvent::Steered(note), &RunEvent::Steered(budget)]
    );
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(
        (run.steered_seq, run.last_event_seq),
        (budget_seq, budget_seq)
    );
    assert_eq!(
        (run.settings.steps, run.settings.max_run_secs),
        (7, Some(90)),
        "a budget directive is stored in the settings a resumed owner reads"
    );
    let signals = store
        .run_signals(&[quiet.id, lease.run_id])
        .await
        .expect("signals");
    assert_eq!(
        signals.len(),
        1,
        "a run never steered nor cancelled sends nothing"
    );
    assert_eq!(
        (
            signals[0].run,
            signals[0].steered_seq,
            signals[0].cancel_requested
        ),
        (lease.run_id, budget_seq, false)
    );

    let refused = by(Directive::Budget {
        steps: Some(0),
        max_run_secs: None,
    });
    assert_err!(
        store.steer_run(lease.run_id, &refused).await,
        Error::InvalidState(_)
    );
    assert_err!(
        store
            .steer_run(RunId::new(), &by(Directive::Note { text: "x".into() }))
            .await,
        Error::NotFound { .. }
    );
    store
        .finish_run(&lease, RunStatus::Completed, "done")
        .await
        .expect("finish");
    assert_err!(
        store
            .steer_run(
                lease.run_id,
                &by(Directive::Note {
                    text: "late".into()
                })
            )
            .await,
        Error::InvalidState(_)
    );
    let after = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(
        after.last_event_seq, budget_seq,
        "a refused directive writes nothing"
    );
}

pub async fn a_fork_names_its_node<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "source").await;
    let node = draft(0);
    store.insert_node(&lease, node.clone()).await.expect("node");
    let mut fork = new_run("fork");
    fork.fork_of = Some(node.id);
    let forked = store.create_run(fork).await.expect("fork");
    assert_eq!(forked.fork_of, Some(node.id));
    assert_eq!(
        store.get_run(forked.id).await.expect("get").fork_of,
        Some(node.id)
    );
    let plain = create(&store, "plain").await;
    assert_eq!(plain.fork_of, None::<NodeId>);
}
