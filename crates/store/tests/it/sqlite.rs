//! The conformance suite on SQLite: each test gets a fresh database file in a temporary
//! directory; rival stores are separate pools on that file.

use std::path::PathBuf;

use aide_store::SqliteStore;
use tempfile::TempDir;

use crate::conformance;

struct SqliteHarness {
    _dir: TempDir,
    path: PathBuf,
}

impl conformance::Harness for SqliteHarness {
    type S = SqliteStore;

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.path)
            .await
            .expect("open the SQLite store")
    }

    fn url(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn cleanup(&self) {}
}

async fn setup() -> Option<SqliteHarness> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("nested").join("aide.db");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    Some(SqliteHarness { _dir: dir, path })
}

all_conformance_tests!(setup);

#[tokio::test]
async fn in_memory_database_works() {
    use aide_store::prelude::*;
    let store = aide_store::connect("sqlite::memory:")
        .await
        .expect("in-memory store");
    let run = store
        .create_run(conformance::new_run("memory"))
        .await
        .expect("create");
    assert_eq!(store.get_run(run.id).await.expect("get").id, run.id);
}

#[tokio::test]
async fn the_database_file_is_created_with_wal() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("fresh.db");
    let store = aide_store::connect(&format!("sqlite:{}", path.display()))
        .await
        .expect("connect");
    assert!(path.exists(), "the file is created when missing");
    let aide_store::AnyStore::Sqlite(sqlite) = &store else {
        panic!("expected the SQLite backend")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(sqlite.pool())
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(sqlite.pool())
        .await
        .expect("pragma");
    assert_eq!(fk, 1);
    // Reopening applies no migration twice.
    store.close().await;
    aide_store::connect(&format!("sqlite:{}", path.display()))
        .await
        .expect("reopen");
}

/// A database written by the previous version (`aide run` at commit 9f188c9: one run whose
/// four drafts raised `ValueError`, one with three good nodes) reads back whole: every event
/// decodes to its kind and every stored exception to its details, and the submissions it
/// kept in its rows (before node files moved to the blob store) read back as inline files.
#[tokio::test]
async fn a_database_of_the_previous_version_decodes() {
    use aide_core::RunEvent;
    use aide_store::RunFilter;
    use aide_store::prelude::*;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("old.db");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/written-by-9f188c9.db");
    std::fs::copy(&fixture, &path).expect("copy the fixture");
    let store = SqliteStore::open(&path).await.expect("open");
    // The nodes table was rebuilt (merge nodes): every foreign key still names a live table,
    // and none is violated.
    let targets: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT f.\"table\" FROM sqlite_schema AS s, pragma_foreign_key_list(s.name) AS f \
         WHERE s.type = 'table'",
    )
    .fetch_all(store.pool())
    .await
    .expect("foreign keys");
    assert!(
        targets.iter().all(|t| t == "runs"
            || t == "nodes"
            || t == "projects"
            || t == "blobs"
            || t == "sweeps"),
        "{targets:?}"
    );
    assert!(targets.contains(&"nodes".to_owned()), "{targets:?}");
    let violations: Vec<(String,)> =
        sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(store.pool())
            .await
            .expect("foreign key check");
    assert!(violations.is_empty(), "{violations:?}");
    let runs = store.list_runs(RunFilter::default()).await.expect("runs");
    assert_eq!(runs.len(), 2);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let mut exceptions = 0;
    let mut legacy_files = 0;
    for run in &runs {
        for record in store.events_after(run.id, 0, 1000).await.expect("events") {
            assert!(
                !matches!(record.event, RunEvent::Unrecognised(_)),
                "{record:?}"
            );
            *kinds.entry(record.event.kind().to_owned()).or_default() += 1;
        }
        for node in store.load_tree(run.id).await.expect("tree") {
            if let Some(file) = store
                .get_node_file(node.id, "submission.csv")
                .await
                .expect("node file")
            {
                let aide_store::NodeFileBody::Inline(bytes) = &file.body else {
                    panic!("a file of the old schema is inline: {:?}", file.body);
                };
                assert_eq!(file.size, bytes.len() as u64);
                assert!(bytes.starts_with(b"id,"), "{:?}", &bytes[..20]);
                legacy_files += 1;
            }
            let execution = node.execution.expect("executed");
            if let Some(info) = execution.exc_info {
                assert_eq!(execution.exc_type.as_deref(), Some("ValueError"));
                assert!(info.line > 0, "{info:?}");
                assert!(info.traceback.starts_with("Traceback"), "{info:?}");
                assert!(!info.stack().is_empty());
                exceptions += 1;
            }
        }
    }
    let expected = [
        ("best_changed", 3),
        ("node_created", 7),
        ("node_reviewed", 7),
        ("run_finished", 2),
        ("run_started", 2),
    ];
    let expected = expected
        .map(|(k, n)| (k.to_owned(), n))
        .into_iter()
        .collect();
    assert_eq!(kinds, expected);
    assert_eq!(exceptions, 4);
    assert_eq!(legacy_files, 3);
}
