//! The conformance suite on Postgres: each test gets its own database (`aide_test_<uuid>`,
//! an [`aide_testkit::TestDatabase`]: fails under `CI` without a server, skipped loudly
//! otherwise), runs the migrations on it, and drops it afterwards.

use std::str::FromStr;
use std::time::Duration;

use aide_store::PgStore;
use aide_testkit::TestDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::conformance;

struct PgHarness {
    database: TestDatabase,
}

impl conformance::Harness for PgHarness {
    type S = PgStore;

    async fn open(&self) -> PgStore {
        let options = PgConnectOptions::from_str(self.database.url()).expect("test database URL");
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await
            .expect("connect to the test database");
        PgStore::from_pool(pool)
            .await
            .expect("migrate the test database")
    }

    fn url(&self) -> String {
        self.database.url().to_owned()
    }

    /// The database is dropped with the harness.
    async fn cleanup(&self) {}
}

async fn setup() -> Option<PgHarness> {
    let database = TestDatabase::create("aide_test").await?;
    Some(PgHarness { database })
}

all_conformance_tests!(setup);

/// Postgres-specific: a fenced write that races a claim still in flight waits for it and
/// is then refused, instead of passing the fence on its older snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fenced_write_waits_for_an_uncommitted_claim() {
    let Some(harness) = setup().await else { return };
    let harness = std::sync::Arc::new(harness);
    let outcome = tokio::spawn(fenced_write_waits(harness.clone())).await;
    conformance::Harness::cleanup(&*harness).await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

async fn fenced_write_waits(harness: std::sync::Arc<PgHarness>) {
    use aide_store::Error;
    use aide_store::prelude::*;
    use conformance::Harness;

    let store = harness.open().await;
    let run = conformance::create(&store, "fence").await;
    let lease = store
        .claim_run("replica-a", conformance::LONG)
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(lease.run_id, run.id);

    // A rival's takeover, held open: the run row is updated but not yet committed.
    let mut takeover = store.pool().begin().await.expect("begin");
    sqlx::query("UPDATE runs SET owner = 'replica-b', epoch = epoch + 1 WHERE id = $1")
        .bind(run.id.0)
        .execute(&mut *takeover)
        .await
        .expect("takeover");

    let writer = {
        let store = store.clone();
        let lease = lease.clone();
        tokio::spawn(async move { store.insert_node(&lease, conformance::draft(0)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writer.is_finished(),
        "the fenced write waits for the claim in flight"
    );
    takeover.commit().await.expect("commit the takeover");
    let outcome = writer.await.expect("writer task");
    assert!(
        matches!(outcome, Err(Error::LeaseLost { .. })),
        "{outcome:?}"
    );
    assert!(store.load_tree(run.id).await.expect("tree").is_empty());
}
