//! Eviction: whole bundles beyond the bound go least recently used first, never one under a
//! lease; blobs go only when no remaining bundle links them.

use std::path::Path;

use aide_bundle::BundleCache;
use aide_core::bundle::{Manifest, Sha256Digest};

use crate::common::{Store, assert_tree, bytes, files_under, open, open_dir};

const KB100: usize = 100_000;

/// Which of the bundles have a tree in the cache.
fn present(cache: &Path, bundles: &[&(Sha256Digest, Manifest)]) -> Vec<bool> {
    bundles
        .iter()
        .map(|(digest, _)| cache.join("bundles").join(digest.to_string()).is_dir())
        .collect()
}

async fn use_once(cache: &BundleCache, bundle: &(Sha256Digest, Manifest)) {
    drop(
        cache
            .materialize(bundle.0, &bundle.1)
            .await
            .expect("materialize"),
    );
}

#[tokio::test]
async fn the_least_recently_used_bundle_goes_first() {
    let store = Store::new();
    let (a, b, c) = (bytes(KB100, 1), bytes(KB100, 2), bytes(KB100, 3));
    let ba = store.bundle(&[("a", &a, false)]);
    let bb = store.bundle(&[("b", &b, false)]);
    let bc = store.bundle(&[("c", &c, false)]);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 250_000, store.arc()).await;

    use_once(&cache, &ba).await;
    use_once(&cache, &bb).await;
    use_once(&cache, &ba).await; // a is now more recent than b
    assert_eq!(
        present(cache_dir.path(), &[&ba, &bb, &bc]),
        [true, true, false]
    );
    use_once(&cache, &bc).await;

    assert_eq!(
        present(cache_dir.path(), &[&ba, &bb, &bc]),
        [true, false, true]
    );
    assert_eq!(cache.stored_bytes(), 200_000);
    assert_eq!(files_under(&cache_dir.path().join("blobs")).len(), 2);
}

#[tokio::test]
async fn a_leased_bundle_is_never_evicted() {
    let store = Store::new();
    let (a, b, c) = (bytes(KB100, 4), bytes(KB100, 5), bytes(KB100, 6));
    let ba = store.bundle(&[("a", &a, false)]);
    let bb = store.bundle(&[("b", &b, false)]);
    let bc = store.bundle(&[("c", &c, false)]);
    let cache_dir = open_dir();
    // Room for none of them: only leases keep bundles.
    let cache = open(cache_dir.path(), 50_000, store.arc()).await;

    let held = cache.materialize(ba.0, &ba.1).await.unwrap();
    use_once(&cache, &bb).await;
    use_once(&cache, &bc).await;

    assert_eq!(
        present(cache_dir.path(), &[&ba, &bb, &bc]),
        [true, false, true]
    );
    assert_tree(held.dir(), &[("a", &a, false)]);
    drop(held);
    use_once(&cache, &bb).await;
    assert_eq!(
        present(cache_dir.path(), &[&ba, &bb, &bc]),
        [false, true, false]
    );
}

#[tokio::test]
async fn a_bundle_larger_than_the_bound_still_works_alone() {
    let store = Store::new();
    let (big, small) = (bytes(3 * KB100, 7), bytes(10, 8));
    let bbig = store.bundle(&[("big", &big, false), ("d/more", &small, true)]);
    let bsmall = store.bundle(&[("s", &small, false)]);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1000, store.arc()).await;

    use_once(&cache, &bsmall).await;
    let lease = cache.materialize(bbig.0, &bbig.1).await.unwrap();

    assert_tree(
        lease.dir(),
        &[("big", &big, false), ("d/more", &small, true)],
    );
    assert_eq!(present(cache_dir.path(), &[&bbig, &bsmall]), [true, false]);
    assert_eq!(cache.stored_bytes(), 3 * KB100 as u64 + 10);
}

#[tokio::test]
async fn a_blob_shared_with_a_kept_bundle_stays() {
    let store = Store::new();
    let (own, shared, other) = (bytes(KB100, 9), bytes(KB100, 10), bytes(KB100, 11));
    let first = store.bundle(&[("own", &own, false), ("shared", &shared, false)]);
    let second = store.bundle(&[("shared", &shared, false), ("other", &other, false)]);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 250_000, store.arc()).await;

    use_once(&cache, &first).await;
    let lease = cache.materialize(second.0, &second.1).await.unwrap();

    // 300 KB of distinct blobs: dropping the first bundle frees only `own`.
    assert_eq!(present(cache_dir.path(), &[&first, &second]), [false, true]);
    assert_tree(
        lease.dir(),
        &[("shared", &shared, false), ("other", &other, false)],
    );
    assert_eq!(cache.stored_bytes(), 200_000);
    assert_eq!(files_under(&cache_dir.path().join("blobs")).len(), 2);
}
