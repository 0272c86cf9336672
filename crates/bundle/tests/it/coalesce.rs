//! Coalescing and deduplication: concurrent materializes read each blob once, and bundles
//! sharing a blob store it once.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::time::Duration;

use crate::common::{Counting, Store, assert_tree, bytes, files_under, open, open_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_materializes_of_one_bundle_read_each_blob_once() {
    let store = Store::new();
    let (a, b, c) = (bytes(200_000, 1), bytes(5, 2), bytes(1 << 20, 3));
    let files = [
        ("a", &a[..], false),
        ("d/b", &b[..], true),
        ("d/c", &c[..], false),
    ];
    let (digest, manifest) = store.bundle(&files);
    let source = Counting::new(store.arc(), Duration::from_millis(100));
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, source.clone()).await;

    let runs = (0..8).map(|_| {
        let (cache, manifest) = (cache.clone(), manifest.clone());
        tokio::spawn(async move { cache.materialize(digest, &manifest).await })
    });
    let leases: Vec<_> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("materialize"))
        .collect();

    assert_eq!(
        source.total(),
        3,
        "reads: {:?}",
        source.reads.lock().unwrap()
    );
    assert!(source.reads_of().values().all(|&n| n == 1));
    for lease in &leases {
        assert_eq!(lease.dir(), leases[0].dir());
        assert_tree(lease.dir(), &files);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bundles_sharing_a_blob_store_and_read_it_once() {
    let store = Store::new();
    let shared = bytes(300_000, 9);
    let first = [
        ("x.csv", &b"only in the first"[..], false),
        ("shared.bin", &shared[..], false),
    ];
    let second = [
        ("y.csv", &b"only in the second"[..], false),
        ("sub/same.bin", &shared[..], false),
    ];
    let (d1, m1) = store.bundle(&first);
    let (d2, m2) = store.bundle(&second);
    let source = Counting::new(store.arc(), Duration::from_millis(100));
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, source.clone()).await;

    // At the same time, so the shared blob's fetch is coalesced across bundles too.
    let (l1, l2) = tokio::join!(cache.materialize(d1, &m1), cache.materialize(d2, &m2));
    let (l1, l2) = (l1.unwrap(), l2.unwrap());

    assert_tree(l1.dir(), &first);
    assert_tree(l2.dir(), &second);
    let shared_digest = m1
        .files
        .iter()
        .find(|f| f.path == "shared.bin")
        .unwrap()
        .sha256;
    assert_eq!(source.reads_of()[&shared_digest], 1);
    assert_eq!(source.total(), 3);
    let one = fs::metadata(l1.dir().join("shared.bin")).unwrap();
    let two = fs::metadata(l2.dir().join("sub/same.bin")).unwrap();
    assert_eq!(
        (one.dev(), one.ino()),
        (two.dev(), two.ino()),
        "one inode for both"
    );
    assert_eq!(one.nlink(), 3, "the blob and two bundle links");
    assert_eq!(files_under(&cache_dir.path().join("blobs")).len(), 3);
    assert_eq!(cache.stored_bytes(), (17 + 18 + shared.len()) as u64);
}
