//! Eviction: while the stored blobs pass `max_bytes`, whole bundles go, least recently used
//! first (a bundle's directory mtime is its last use), never one held by a lease; then every
//! blob no remaining tree links (link count 1) and no leased bundle lists is deleted.
//!
//! The plan is exact without deleting anything first: a blob is freed once the trees chosen
//! account for all its links but the blob's own.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aide_core::bundle::Sha256Digest;

use crate::cache::Inner;
use crate::error::{IoAt as _, Result};
use crate::tree;

impl Inner {
    /// Runs one eviction pass if the blobs pass the bound; failures are logged, not returned
    /// (the bundle just materialized is fine either way).
    pub async fn evict(self: Arc<Self>) {
        if self.state().blob_bytes <= self.max_bytes {
            return;
        }
        let _one_at_a_time = self.evicting.lock().await;
        let inner = Arc::clone(&self);
        match tokio::task::spawn_blocking(move || inner.evict_blocking()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "bundle cache eviction failed"),
            Err(error) => tracing::warn!(%error, "bundle cache eviction panicked"),
        }
    }

    fn evict_blocking(&self) -> Result<()> {
        let before = self.state().blob_bytes;
        if before <= self.max_bytes {
            return Ok(());
        }
        let victims = self.plan(before)?;
        let mut detached = Vec::new();
        {
            // Under the lock, so a bundle leased since the plan is kept.
            let state = self.state();
            for (digest, dir) in &victims {
                if !state.leased.contains_key(digest) {
                    detached.push((*digest, tree::detach(&self.layout, dir)?));
                }
            }
        }
        for (digest, aside) in &detached {
            fs::remove_dir_all(aside).at(aside)?;
            self.state().checked.remove(digest);
        }
        let freed = self.collect_garbage()?;
        tracing::info!(
            bundles_evicted = detached.len(),
            bytes_freed = freed,
            bytes_kept = before - freed,
            max_bytes = self.max_bytes,
            "bundle cache evicted"
        );
        Ok(())
    }

    /// Unleased bundles, least recently used first, until what they free brings the blobs
    /// under the bound (or all of them).
    fn plan(&self, total: u64) -> Result<Vec<(Sha256Digest, PathBuf)>> {
        let leased: Vec<Sha256Digest> = self.state().leased.keys().copied().collect();
        let bundles = self.layout.bundles();
        let mut candidates = Vec::new();
        for entry in fs::read_dir(&bundles).at(&bundles)? {
            let path = entry.at(&bundles)?.path();
            let Some(digest) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<Sha256Digest>().ok())
            else {
                continue;
            };
            if leased.contains(&digest) {
                continue;
            }
            let used = fs::metadata(&path).and_then(|m| m.modified()).at(&path)?;
            candidates.push((used, digest, path));
        }
        candidates.sort_by_key(|(used, digest, _)| (*used, *digest));

        // (device, inode) -> (links among the chosen trees, link count, size)
        let mut links: HashMap<(u64, u64), (u64, u64, u64)> = HashMap::new();
        let mut freed = 0u64;
        let mut victims = Vec::new();
        for (_, digest, path) in candidates {
            if total.saturating_sub(freed) <= self.max_bytes {
                break;
            }
            let mut files = Vec::new();
            tree_files(&path, &mut files)?;
            for meta in files {
                let entry =
                    links
                        .entry((meta.dev(), meta.ino()))
                        .or_insert((0, meta.nlink(), meta.size()));
                entry.0 += 1;
                if entry.0 + 1 == entry.1 {
                    freed += entry.2;
                }
            }
            victims.push((digest, path));
        }
        Ok(victims)
    }

    /// Deletes blobs that no tree links and no leased bundle lists; returns the bytes freed.
    fn collect_garbage(&self) -> Result<u64> {
        let orphans: Vec<_> = self
            .layout
            .scan_blobs()?
            .into_iter()
            .filter(|(_, _, meta)| meta.nlink() == 1)
            .collect();
        let mut state = self.state();
        let pinned = state.pinned();
        let mut freed = 0;
        for (key, path, _) in orphans {
            if pinned.contains(&key) {
                continue;
            }
            // Checked again under the lock: nothing links it now, and nothing can start to.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.nlink() == 1 {
                fs::remove_file(&path).at(&path)?;
                state.stamps.remove(&key);
                state.blob_bytes = state.blob_bytes.saturating_sub(meta.size());
                freed += meta.size();
            }
        }
        Ok(freed)
    }
}

/// The metadata of every file in a bundle tree.
fn tree_files(dir: &Path, out: &mut Vec<fs::Metadata>) -> Result<()> {
    for entry in fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        let meta = fs::symlink_metadata(&path).at(&path)?;
        if meta.is_dir() {
            tree_files(&path, out)?;
        } else if meta.is_file() {
            out.push(meta);
        }
    }
    Ok(())
}
