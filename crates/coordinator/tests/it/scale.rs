//! The scale harness in small (the `scale` benchmark's short version): one engine drives a
//! few runs at once over Postgres with an instant author and executor, and the report has
//! every node written once and sane numbers. No timing is asserted.

use crate::scale_harness::{Scale, StatementCounter, bad_trees, measure, scale_task, seed};
use tracing_subscriber::layer::SubscriberExt;

// One thread: the statement counter is this thread's subscriber, and every task of the
// test runs here.
#[tokio::test(flavor = "current_thread")]
async fn the_scale_mode_reports_every_node_once_with_its_costs() {
    let Some(database) = aide_testkit::TestDatabase::create("aide_scale").await else {
        return;
    };
    let statements = StatementCounter::default();
    let subscriber = tracing_subscriber::registry().with(statements.layer());
    let _counting = tracing::subscriber::set_default(subscriber);
    let store = aide_store::connect(database.url()).await.expect("store");
    let data = tempfile::tempdir().expect("task dir");
    let outputs = tempfile::tempdir().expect("outputs dir");
    let scale = Scale {
        runs: 3,
        steps: 6,
        outputs: true,
    };
    seed(&store, &scale_task(data.path()), scale).await;
    let report = measure(store.clone(), scale, &statements, Some(outputs.path())).await;
    let bad = bad_trees(&store, scale.steps).await;
    store.close().await;
    eprintln!(
        "{}\nstore calls per node: {}",
        report.line(),
        report.calls_by_method()
    );

    assert!(
        report.not_completed.is_empty(),
        "{:?}",
        report.not_completed
    );
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(report.nodes, 18);
    assert_eq!(report.per_node.len(), 18, "one orchestration time per node");
    assert!(report.nodes_per_sec() > 0.0 && report.nodes_per_sec().is_finite());
    assert!(report.per_node(0.5) <= report.per_node(0.99));
    // Every node is created, written through its stages and reviewed through the store,
    // and each store call sends at least one statement.
    let created = report.store_calls.get("create_node").copied();
    assert_eq!(created, Some(18), "{:?}", report.store_calls);
    assert!(report.store_calls_per_node() >= 3.0, "{}", report.line());
    let calls: u64 = report.store_calls.values().sum();
    assert!(report.statements >= calls, "{}", report.line());
    let dirs = std::fs::read_dir(outputs.path()).expect("outputs").count();
    assert_eq!(dirs, 3, "one outputs directory per run");
}
