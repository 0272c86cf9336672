//! The conformance suite on SQLite: each test gets a fresh database file in a temporary
//! directory; rival stores are separate pools on that file.

mod conformance;

use std::path::PathBuf;

use aide_store::SqliteStore;
use tempfile::TempDir;

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
