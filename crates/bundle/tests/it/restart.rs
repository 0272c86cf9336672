//! Restarts: leftovers of a crash removed at open, a complete cache reused without the
//! source, corrupt blobs found and fetched again, one process per cache directory.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aide_bundle::{BundleCache, CacheConfig, Error};

use crate::common::{Counting, Dead, Store, assert_tree, bytes, files_under, open, open_dir};

#[tokio::test]
async fn leftover_temporary_files_are_removed_at_open() {
    let store = Store::new();
    let cache_dir = open_dir();
    drop(open(cache_dir.path(), 1 << 30, store.arc()).await);
    // What a process killed mid-fetch and mid-build leaves behind.
    let tmp = cache_dir.path().join("tmp");
    fs::write(tmp.join("blob-0123-abc"), bytes(1000, 1)).unwrap();
    fs::create_dir_all(tmp.join("bundle-xyz/data")).unwrap();
    fs::write(tmp.join("bundle-xyz/data/f"), b"half").unwrap();
    fs::set_permissions(
        tmp.join("bundle-xyz/data"),
        fs::Permissions::from_mode(0o555),
    )
    .unwrap();

    let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;

    assert!(tmp.is_dir());
    assert!(
        fs::read_dir(&tmp).unwrap().next().is_none(),
        "tmp/ is empty"
    );
    assert_eq!(cache.stored_bytes(), 0);
}

#[tokio::test]
async fn a_complete_cache_is_reused_after_a_restart_without_the_source() {
    let store = Store::new();
    let data = bytes(500_000, 2);
    let files = [
        ("a.csv", &data[..], false),
        ("bin/tool", &b"#!/bin/sh\n"[..], true),
    ];
    let (digest, manifest) = store.bundle(&files);
    let cache_dir = open_dir();
    {
        let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;
        drop(cache.materialize(digest, &manifest).await.unwrap());
    }
    let dead = Arc::new(Dead::default());

    let cache = open(cache_dir.path(), 1 << 30, dead.clone()).await;
    let lease = cache
        .materialize(digest, &manifest)
        .await
        .expect("served from the cache");

    assert_tree(lease.dir(), &files);
    assert_eq!(dead.reads.load(Ordering::SeqCst), 0);
    assert_eq!(cache.stored_bytes(), manifest.total_bytes());
}

/// Overwrites a cached blob with other bytes of the same size.
fn corrupt(path: &std::path::Path, restore_mtime: bool) {
    let before = fs::metadata(path).unwrap().modified().unwrap();
    let mut data = fs::read(path).unwrap();
    data[0] ^= 0xff;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(path, &data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o444)).unwrap();
    if restore_mtime {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(before).unwrap();
    }
}

#[tokio::test]
async fn a_corrupt_blob_is_detected_and_fetched_again_at_the_next_open() {
    let store = Store::new();
    let (good, bad) = (bytes(200_000, 3), bytes(200_000, 4));
    let files = [("good.bin", &good[..], false), ("bad.bin", &bad[..], false)];
    let (digest, manifest) = store.bundle(&files);
    let cache_dir = open_dir();
    let lease_dir = {
        let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;
        cache
            .materialize(digest, &manifest)
            .await
            .unwrap()
            .dir()
            .to_owned()
    };
    // Even with its mtime put back, the first use after open hashes the blob.
    corrupt(&lease_dir.join("bad.bin"), true);
    let counting = Counting::new(store.arc(), Duration::ZERO);

    let cache = open(cache_dir.path(), 1 << 30, counting.clone()).await;
    let lease = cache.materialize(digest, &manifest).await.unwrap();

    assert_tree(lease.dir(), &files);
    let bad_digest = manifest
        .files
        .iter()
        .find(|f| f.path == "bad.bin")
        .unwrap()
        .sha256;
    assert_eq!(counting.reads.lock().unwrap().as_slice(), [(bad_digest, 0)]);
    assert_eq!(files_under(&cache_dir.path().join("blobs")).len(), 2);
    assert_eq!(cache.stored_bytes(), manifest.total_bytes());
}

#[tokio::test]
async fn a_blob_rewritten_while_the_process_runs_is_fetched_again_on_next_use() {
    let store = Store::new();
    let data = bytes(100_000, 5);
    let files = [("x.bin", &data[..], false)];
    let (digest, manifest) = store.bundle(&files);
    let counting = Counting::new(store.arc(), Duration::ZERO);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, counting.clone()).await;
    let dir = cache
        .materialize(digest, &manifest)
        .await
        .unwrap()
        .dir()
        .to_owned();
    // A later mtime than the fetch's, even on a coarse clock.
    tokio::time::sleep(Duration::from_millis(20)).await;
    corrupt(&dir.join("x.bin"), false);

    let lease = cache.materialize(digest, &manifest).await.unwrap();

    assert_tree(lease.dir(), &files);
    assert_eq!(counting.total(), 2, "fetched, then fetched again");
}

#[tokio::test]
async fn a_second_process_on_the_same_directory_is_refused() {
    let store = Store::new();
    let cache_dir = open_dir();
    let _first = open(cache_dir.path(), 1 << 30, store.arc()).await;

    let second = BundleCache::open(
        CacheConfig {
            dir: cache_dir.path().to_owned(),
            max_bytes: 1 << 30,
        },
        store.arc(),
    )
    .await;

    assert!(
        matches!(&second, Err(Error::CacheDir { path, reason }) if path == cache_dir.path() && reason.contains("in use")),
        "{second:?}"
    );
}

#[tokio::test]
async fn a_cache_under_a_private_directory_is_refused_as_root() {
    let store = Store::new();
    let outer = open_dir();
    let private = outer.path().join("private");
    fs::create_dir(&private).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let config = CacheConfig {
        dir: private.join("cache"),
        max_bytes: 1 << 30,
    };

    let opened = BundleCache::open(config, store.arc()).await;

    if aide_testkit::is_root() {
        let err = opened.unwrap_err();
        assert!(
            matches!(&err, Error::CacheDir { path, .. } if *path == private),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&private.display().to_string()),
            "{err}"
        );
    } else {
        // Sandboxes run as this same uid then, so a private parent is fine.
        assert!(opened.is_ok(), "{opened:?}");
    }
}
