//! The supervisor with an engine that fails internally: a run whose stored tree cannot be
//! read (a node whose exception details are not JSON) breaks every drive of it. It must end
//! FAILED after `MAX_ENGINE_FAILURES` tries, saying why — not be claimed again in a loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_coordinator::supervisor::{MAX_ENGINE_FAILURES, Supervisor, SupervisorConfig};
use aide_core::{Action, NodeId};
use aide_store::{NewNode, NodeStore, RunStatus, RunStore};
use tokio_util::sync::CancellationToken;

use crate::engine_support::{claimed_run, grpc_engine, house_prices_task, settings, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_breaks_the_engine_fails_after_its_last_try() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let lease = claimed_run(&store, house_prices_task(), settings(3, 1)).await;
    let node = NodeId::new();
    store
        .insert_node(
            &lease,
            NewNode {
                id: node,
                parent: None,
                partner: None,
                action: Action::Draft,
                step: 0,
                debug_depth: 0,
            },
        )
        .await
        .expect("node");
    store.release_lease(&lease).await.expect("release");
    let url = format!("sqlite:{}", dir.path().join("aide.db").display());
    let raw = sqlx::SqlitePool::connect(&url)
        .await
        .expect("raw connection");
    sqlx::query("UPDATE nodes SET term_out = 'out', exc_info = 'not json' WHERE id = ?1")
        .bind(node.to_string())
        .execute(&raw)
        .await
        .expect("corrupt the node");

    // The engine never reaches its services: loading the run fails first.
    let engine = grpc_engine(
        store.clone(),
        "http://127.0.0.1:9",
        &["http://127.0.0.1:9"],
        None,
    );
    let supervisor = Supervisor::new(
        store.clone(),
        Arc::new(engine),
        SupervisorConfig {
            owner: "supervisor-test".into(),
            max_runs: 1,
            lease_ttl: Duration::from_secs(30),
            claim_every: Duration::from_millis(50),
        },
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(supervisor.run(shutdown.clone()));
    let started = Instant::now();
    let run = loop {
        let run = store.get_run(lease.run_id).await.expect("run");
        if run.status.is_terminal() {
            break run;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let counts: (i64, i64, Option<String>) =
                sqlx::query_as("SELECT engine_failures, epoch, owner FROM runs WHERE id = ?1")
                    .bind(lease.run_id.to_string())
                    .fetch_one(&raw)
                    .await
                    .expect("counts");
            panic!(
                "still {:?}: (failures, epoch, owner) {counts:?}",
                run.status
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    shutdown.cancel();
    running.await.expect("the supervisor stops");
    assert_eq!(run.status, RunStatus::Failed);
    let reason = run.stop_reason.unwrap_or_default();
    assert!(
        reason.starts_with(&format!("the engine failed {MAX_ENGINE_FAILURES} times")),
        "{reason}"
    );
    assert!(
        reason.contains("exc_info"),
        "the last error is kept: {reason}"
    );
    let (failures, epoch): (i64, i64) =
        sqlx::query_as("SELECT engine_failures, epoch FROM runs WHERE id = ?1")
            .bind(lease.run_id.to_string())
            .fetch_one(&raw)
            .await
            .expect("counts");
    assert_eq!(failures, i64::from(MAX_ENGINE_FAILURES));
    assert_eq!(
        epoch,
        1 + i64::from(MAX_ENGINE_FAILURES),
        "one claim per try, no more"
    );
}
