//! Runs written straight into a fresh database before `aide serve` starts, finished so that
//! no coordinator claims them: one whose draft failed with an exception, and under it a node
//! whose every text is hostile markup, as a compromised or careless model could write it.

use aide_core::{Action, BugReason, ExceptionInfo, NodeId, RunId, RunSettings};
use aide_store::prelude::*;
use aide_store::{ExecutionSummary, Generation, Lease, NewNode, Review};
use aide_testkit::fixtures::claimed_diabetes_run;

/// A script tag, an attribute break-out with an event handler, and a `javascript:` link.
pub const HOSTILE: &str = "<script>window.__pwned=1</script>\"><img src=x onerror=\"window.__pwned=2\"> <a href=\"javascript:window.__pwned=3\">click</a>";

/// What [`seed`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub run: RunId,
    /// Raised `KeyError: 'price'` at line 3.
    pub failed: NodeId,
    /// Every text of it is [`HOSTILE`].
    pub hostile: NodeId,
}

/// Writes the runs into the database at `url`.
pub async fn seed(url: &str) -> Seeded {
    let store = aide_store::connect(&aide_store::DatabaseUrl::parse(url).expect("url"))
        .await
        .expect("open the store");
    let name = format!("seeded {HOSTILE}");
    let lease = claimed_diabetes_run(&store, &name, RunSettings::default(), "seeder").await;
    let failed = node(&store, &lease, 0, None).await;
    let code = "import pandas as pd\ndf = pd.read_csv('./input/train.csv')\nprint(df['price'])\n";
    let traceback = "Traceback (most recent call last):\n  File \"runfile.py\", line 3, in <module>\n    print(df['price'])\nKeyError: 'price'";
    finish_node(
        &store,
        &lease,
        failed,
        "Read the data and print the price.",
        code,
        traceback,
        Some(("KeyError", "'price'", 3)),
    )
    .await;
    let hostile = node(&store, &lease, 1, Some(failed)).await;
    finish_node(
        &store,
        &lease,
        hostile,
        HOSTILE,
        HOSTILE,
        HOSTILE,
        Some((HOSTILE, HOSTILE, 1)),
    )
    .await;
    store
        .finish_run(&lease, aide_core::RunStatus::Completed, HOSTILE)
        .await
        .expect("finish");
    store.close().await;
    Seeded {
        run: lease.run_id,
        failed,
        hostile,
    }
}

async fn node(
    store: &aide_store::AnyStore,
    lease: &Lease,
    step: u32,
    parent: Option<NodeId>,
) -> NodeId {
    let id = NodeId::new();
    store
        .insert_node(
            lease,
            NewNode {
                id,
                parent,
                partner: None,
                action: if parent.is_some() {
                    Action::Debug
                } else {
                    Action::Draft
                },
                step,
                debug_depth: u32::from(parent.is_some()),
            },
        )
        .await
        .expect("node");
    id
}

/// Carries a node through generation, a failed execution and a buggy review.
async fn finish_node(
    store: &aide_store::AnyStore,
    lease: &Lease,
    id: NodeId,
    plan: &str,
    code: &str,
    output: &str,
    exception: Option<(&str, &str, u32)>,
) {
    store
        .mark_generated(
            lease,
            id,
            Generation {
                plan: plan.into(),
                code: Some(code.into()),
                raw_reply: None,
            },
        )
        .await
        .expect("generated");
    store
        .mark_executed(
            lease,
            id,
            ExecutionSummary {
                term_out: output.into(),
                exit_code: Some(1),
                exec_time_secs: 0.4,
                timed_out: false,
                exc_type: exception.map(|(t, _, _)| t.to_owned()),
                exc_info: exception.map(|(_, message, line)| ExceptionInfo {
                    message: message.into(),
                    line,
                    traceback: output.into(),
                }),
                wrote_submission: false,
            },
        )
        .await
        .expect("executed");
    store
        .mark_reviewed(
            lease,
            id,
            Review {
                is_buggy: true,
                bug_reasons: vec![BugReason::Exception(exception.map_or("", |e| e.0).into())],
                metric: None,
                summary: plan.into(),
            },
        )
        .await
        .expect("reviewed");
}
