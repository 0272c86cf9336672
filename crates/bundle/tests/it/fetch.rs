//! Fetch failures: bytes that are not the blob, streams cut off mid-way (resumed), and
//! sources that keep failing; none leaves a half-written entry.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use aide_bundle::Error;

use crate::common::{CutOff, Lying, Store, assert_tree, bytes, files_under, open, open_dir};

/// Nothing under blobs/, bundles/ or tmp/.
fn assert_empty(cache: &std::path::Path) {
    for sub in ["blobs", "bundles", "tmp"] {
        let left = files_under(&cache.join(sub));
        assert!(left.is_empty(), "{sub}: {left:?}");
    }
    assert!(
        std::fs::read_dir(cache.join("bundles"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[tokio::test]
async fn bytes_that_do_not_hash_to_the_digest_are_refused_and_leave_nothing() {
    let store = Store::new();
    let data = bytes(100_000, 5);
    let (digest, manifest) = store.bundle(&[("train.csv", &data, false)]);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, Arc::new(Lying(store.arc()))).await;

    let err = cache.materialize(digest, &manifest).await.unwrap_err();

    let blob = manifest.files[0].sha256;
    assert!(err.to_string().contains(&blob.to_string()), "{err}");
    assert!(
        matches!(err.original(), Error::BlobMismatch { digest, got_size: 100_000, .. } if *digest == blob),
        "{err:?}"
    );
    assert_empty(cache_dir.path());
}

#[tokio::test]
async fn a_stream_cut_off_mid_way_is_resumed_from_the_bytes_written() {
    let store = Store::new();
    let data = bytes(3 << 20, 6);
    let files = [("big.bin", &data[..], false)];
    let (digest, manifest) = store.bundle(&files);
    let cut = CutOff::new(store.arc(), 1 << 20);
    let counting = crate::common::Counting::new(cut.clone(), Default::default());
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, counting.clone()).await;

    let lease = cache.materialize(digest, &manifest).await.expect("resumed");

    assert_tree(lease.dir(), &files);
    let offsets: Vec<u64> = counting.reads.lock().unwrap().iter().map(|r| r.1).collect();
    assert_eq!(
        offsets,
        [0, 1 << 20, 2 << 20],
        "each retry resumes where the last stopped"
    );
    assert_eq!(cut.failures.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_source_that_keeps_failing_leaves_nothing_and_a_later_try_succeeds() {
    let store = Store::new();
    let data = bytes(100_000, 7);
    let files = [("a.bin", &data[..], false)];
    let (digest, manifest) = store.bundle(&files);
    // Cut at 0 bytes: no attempt makes progress, so the retries run out.
    let cut = CutOff::new(store.arc(), 0);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, cut.clone()).await;

    let err = cache.materialize(digest, &manifest).await.unwrap_err();

    assert!(err.to_string().contains("connection reset (test)"), "{err}");
    assert!(
        err.to_string()
            .contains(&manifest.files[0].sha256.to_string()),
        "{err}"
    );
    assert_eq!(
        cut.failures.load(Ordering::SeqCst),
        4,
        "one read and three retries"
    );
    assert_empty(cache_dir.path());

    cut.failing.store(false, Ordering::SeqCst);
    let lease = cache
        .materialize(digest, &manifest)
        .await
        .expect("the source is back");
    assert_tree(lease.dir(), &files);
    assert!(
        matches!(err.original(), Error::Source { source, .. } if source.is_transient()),
        "{err:?}"
    );
}
