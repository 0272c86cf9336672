//! The store conformance suite: generic tests over any [`Store`], run against real
//! databases by `tests/sqlite.rs` and `tests/postgres.rs` through [`conformance_tests!`].
//!
//! A [`Harness`] owns one fresh database per test and opens independent stores (separate
//! connection pools) on it, which the race and lost-lease tests use as rival replicas.

#![allow(dead_code)]

pub mod access;
pub mod executions;
pub mod files;
pub mod ledger;
pub mod nodes;
pub mod races;
pub mod runs;
pub mod stages;
pub mod steering;
pub mod sweeps;

use std::future::Future;
use std::time::Duration;

use aide_core::{Action, NodeId, RunSettings};
use aide_store::prelude::*;
use aide_store::{Lease, NewNode, NewRun, RunRecord};
use aide_testkit::fixtures::sample_task;

/// One fresh database and a way to open stores on it.
pub trait Harness: Send + Sync + 'static {
    type S: Store + Clone;

    /// Opens a new store (its own connection pool) on the test database.
    fn open(&self) -> impl Future<Output = Self::S> + Send;

    /// A URL of the test database for [`aide_store::connect`].
    fn url(&self) -> String;

    /// Drops the database (best effort).
    fn cleanup(&self) -> impl Future<Output = ()> + Send;
}

/// Generates one `#[tokio::test]` per conformance test. `$setup` is an async fn returning
/// `Option<impl Harness>`; `None` skips the test (the setup has said why).
#[macro_export]
macro_rules! conformance_tests {
    ($setup:path; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(harness) = $setup().await else { return };
                let harness = std::sync::Arc::new(harness);
                let outcome = tokio::spawn(conformance::$module::$name(harness.clone())).await;
                conformance::Harness::cleanup(&*harness).await;
                if let Err(err) = outcome {
                    match err.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(err) => panic!("test task failed: {err}"),
                    }
                }
            }
        )*
    };
}

/// The whole suite for one backend: every backend's test file calls this once, so a test
/// added here runs against all of them.
#[macro_export]
macro_rules! all_conformance_tests {
    ($setup:path) => {
        conformance_tests!($setup;
            runs::runs_create_get_list,
            runs::lease_claim_renew_release,
            runs::lease_expiry_makes_run_claimable,
            runs::finish_run_ends_the_lease,
            runs::fix_direction_never_flips,
            runs::cancel_requests,
            steering::directives_are_recorded_signalled_and_refused_once_finished,
            steering::a_fork_names_its_node,
            runs::connect_by_url,
            nodes::node_lifecycle,
            nodes::node_without_code,
            nodes::node_conflicts,
            nodes::big_tree,
            nodes::merge_nodes,
            executions::execution_attempts,
            executions::stale_attempts,
            files::node_files,
            stages::stages_write_what_their_calls_write,
            stages::refused_stages_write_only_what_is_owed,
            ledger::llm_ledger,
            ledger::run_events,
            ledger::runner_registry,
            ledger::ledger_ignores_leases,
            races::concurrent_claims,
            races::lost_lease_refuses_writes,
            races::takeover_during_writes,
            access::projects_and_tokens,
            access::runs_belong_to_projects,
            access::claims_are_fair_across_projects,
            sweeps::sweep_lifecycle,
            sweeps::replicas_start_each_cell_once,
        );
    };
}

pub fn new_run(name: &str) -> NewRun {
    let settings = RunSettings {
        steps: 42,
        max_cost_usd: Some(2.5),
        ..RunSettings::default()
    };
    NewRun {
        project: aide_core::access::ProjectName::default_project(),
        name: name.to_owned(),
        task: sample_task(name),
        settings,
        direction: None,
        seed: u64::MAX - 7,
        fork_of: None,
    }
}

pub async fn create<S: Store>(store: &S, name: &str) -> RunRecord {
    store.create_run(new_run(name)).await.expect("create run")
}

/// Creates a run and claims it (it must be the only claimable run).
pub async fn claimed<S: Store>(store: &S, name: &str) -> Lease {
    let run = create(store, name).await;
    let lease = store
        .claim_run("replica-a", LONG)
        .await
        .expect("claim")
        .expect("a claimable run");
    assert_eq!(lease.run_id, run.id);
    lease
}

pub fn draft(step: u32) -> NewNode {
    NewNode {
        id: NodeId::new(),
        parent: None,
        action: Action::Draft,
        step,
        debug_depth: 0,
        partner: None,
    }
}

pub fn child(parent: NodeId, action: Action, step: u32, debug_depth: u32) -> NewNode {
    NewNode {
        id: NodeId::new(),
        parent: Some(parent),
        action,
        step,
        debug_depth,
        partner: None,
    }
}

/// A lease TTL no test outlives.
pub const LONG: Duration = Duration::from_secs(600);

/// Asserts that `result` is the error variant matching `pattern`.
#[macro_export]
macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected {}, got {:?}", stringify!($pattern), other),
        }
    };
}
