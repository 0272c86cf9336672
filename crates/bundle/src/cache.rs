//! [`BundleCache`]: open a cache directory, materialize bundles into it, and hold them with
//! leases. Blob fetching and checking live here; building trees in [`crate::tree`], eviction
//! in [`crate::evict`].

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use aide_core::bundle::{Manifest, Sha256Digest};

use crate::coalesce::Coalescer;
use crate::error::{Error, IoAt as _, Result};
use crate::fetch::{self, Target};
use crate::layout::{BlobKey, Layout, clean_relative};
use crate::source::{BlobSource, file_stream};
use crate::tree::{self, Built};
use crate::verify::{Stamp, hash_file};

/// Where the cache lives and how large it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cache directory; created if missing and made mode 0755.
    pub dir: PathBuf,
    /// Blob bytes kept before whole bundles are evicted, least recently used first.
    pub max_bytes: u64,
}

/// A cache of bundles fetched from one [`BlobSource`]. Cheap to clone; one process per
/// directory (a lock file enforces it).
#[derive(Clone)]
pub struct BundleCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BundleCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleCache")
            .field("dir", &self.inner.layout.root())
            .field("max_bytes", &self.inner.max_bytes)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub layout: Layout,
    pub max_bytes: u64,
    source: Arc<dyn BlobSource>,
    state: Mutex<State>,
    blobs: Coalescer<BlobKey, Blob>,
    bundles: Coalescer<Sha256Digest, ()>,
    /// One eviction pass at a time.
    pub evicting: tokio::sync::Mutex<()>,
    _lock: fs::File,
}

/// What this process knows about the cache.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Bundles held by leases (and bundles being built, which hold one), with their manifests.
    pub leased: HashMap<Sha256Digest, Held>,
    /// Blobs verified by this process, as they looked then.
    pub stamps: HashMap<BlobKey, Stamp>,
    /// Bundles whose tree this process has checked in full (no extra files).
    pub checked: HashSet<Sha256Digest>,
    /// Bytes of all stored blobs.
    pub blob_bytes: u64,
    pub lookups: CacheLookups,
}

/// How bundle builds went since the cache opened: from what was stored (hits) or with at
/// least one blob fetched (misses). Callers waiting on one build count once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheLookups {
    pub hits: u64,
    pub misses: u64,
}

#[derive(Debug)]
pub(crate) struct Held {
    pub count: usize,
    pub manifest: Arc<Manifest>,
}

impl State {
    /// Blobs that leased bundles list: never deleted, even when no tree links them yet.
    pub fn pinned(&self) -> HashSet<BlobKey> {
        self.leased
            .values()
            .flat_map(|held| held.manifest.files.iter().map(blob_key))
            .collect()
    }
}

/// A stored blob and how many bytes it took from the source (0 when it was already here).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blob {
    pub stamp: Stamp,
    pub fetched: u64,
}

pub(crate) fn blob_key(file: &aide_core::bundle::BundleFile) -> BlobKey {
    BlobKey {
        digest: file.sha256,
        executable: file.executable,
    }
}

/// A materialized bundle, kept from eviction while this value lives.
pub struct BundleLease {
    digest: Sha256Digest,
    dir: PathBuf,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BundleLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleLease")
            .field("digest", &self.digest)
            .field("dir", &self.dir)
            .finish()
    }
}

impl BundleLease {
    /// The bundle's directory: exactly the manifest's files, read-only to everyone.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }
}

impl Drop for BundleLease {
    fn drop(&mut self) {
        let mut state = self.inner.state();
        if let Some(held) = state.leased.get_mut(&self.digest) {
            held.count -= 1;
            if held.count == 0 {
                state.leased.remove(&self.digest);
            }
        }
    }
}

impl BundleCache {
    /// Opens (creating) the cache in `config.dir`: mode 0755, refused as root when an
    /// ancestor does not let other users through, leftovers of a crash removed.
    pub async fn open(config: CacheConfig, source: Arc<dyn BlobSource>) -> Result<Self> {
        let layout = Layout::new(config.dir);
        let (lock, blob_bytes, layout) = tokio::task::spawn_blocking(move || {
            let lock = layout.prepare()?;
            let bytes = layout.blob_bytes()?;
            Ok::<_, Error>((lock, bytes, layout))
        })
        .await??;
        let state = State {
            blob_bytes,
            ..State::default()
        };
        Ok(Self {
            inner: Arc::new(Inner {
                layout,
                max_bytes: config.max_bytes,
                source,
                state: Mutex::new(state),
                blobs: Coalescer::default(),
                bundles: Coalescer::default(),
                evicting: tokio::sync::Mutex::new(()),
                _lock: lock,
            }),
        })
    }

    /// The bundle `digest` as a directory, fetching what is missing; then evicts least
    /// recently used bundles while the blobs pass `max_bytes`. Refuses a manifest whose
    /// digest is not `digest` or that holds an unclean path.
    pub async fn materialize(
        &self,
        digest: Sha256Digest,
        manifest: &Manifest,
    ) -> Result<BundleLease> {
        let actual = manifest.digest();
        if actual != digest {
            return Err(Error::ManifestDigest {
                asked: digest,
                actual,
            });
        }
        for file in &manifest.files {
            clean_relative(&file.path)?;
        }
        let lease = self.lease(digest, manifest);
        // The build holds a lease of its own, so it stays protected from eviction even if
        // every caller waiting for it goes away.
        let build_lease = self.lease(digest, manifest);
        let inner = Arc::clone(&self.inner);
        self.inner
            .bundles
            .run(
                digest,
                async move { inner.ensure_bundle(&build_lease).await },
            )
            .await?;
        let dir = lease.dir.clone();
        tokio::task::spawn_blocking(move || tree::touch(&dir)).await??;
        Arc::clone(&self.inner).evict().await;
        Ok(lease)
    }

    /// The total bytes of the blobs stored now.
    pub fn stored_bytes(&self) -> u64 {
        self.inner.state().blob_bytes
    }

    /// The hits and misses of bundle builds so far.
    pub fn lookups(&self) -> CacheLookups {
        self.inner.state().lookups
    }

    /// Registers a lease first, so nothing this bundle needs is evicted while it is built.
    fn lease(&self, digest: Sha256Digest, manifest: &Manifest) -> BundleLease {
        let mut state = self.inner.state();
        state
            .leased
            .entry(digest)
            .and_modify(|held| held.count += 1)
            .or_insert_with(|| Held {
                count: 1,
                manifest: Arc::new(manifest.clone()),
            });
        BundleLease {
            digest,
            dir: self.inner.layout.bundle(&digest),
            inner: Arc::clone(&self.inner),
        }
    }
}

impl Inner {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("bundle cache state lock")
    }

    /// Checks the bundle's tree if there is one; otherwise fetches its blobs and builds it.
    async fn ensure_bundle(self: Arc<Self>, lease: &BundleLease) -> Result<()> {
        let digest = lease.digest;
        let manifest = Arc::clone(&self.state().leased[&digest].manifest);
        if tree::is_intact(&self, digest, &manifest).await? {
            self.state().lookups.hits += 1;
            return Ok(());
        }
        let started = Instant::now();
        let blobs = self.ensure_blobs(&manifest).await?;
        let fetched: Vec<u64> = blobs.iter().map(|b| b.fetched).filter(|&n| n > 0).collect();
        let layout = self.layout.clone();
        let built = Built::new(digest, manifest.clone(), blobs);
        tokio::task::spawn_blocking(move || tree::build(&layout, &built)).await??;
        {
            let mut state = self.state();
            state.checked.insert(digest);
            match fetched.is_empty() {
                true => state.lookups.hits += 1,
                false => state.lookups.misses += 1,
            }
        }
        if !fetched.is_empty() {
            let bytes: u64 = fetched.iter().sum();
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                bundle = %digest,
                files = manifest.files.len(),
                blobs_fetched = fetched.len(),
                bytes_fetched = bytes,
                elapsed_ms = (secs * 1000.0) as u64,
                mb_per_s = bytes as f64 / 1e6 / secs.max(1e-9),
                "bundle materialized"
            );
        }
        Ok(())
    }

    /// Every blob of `manifest`, present and verified, four at a time; in manifest order.
    pub async fn ensure_blobs(self: &Arc<Self>, manifest: &Manifest) -> Result<Vec<Blob>> {
        use futures::{StreamExt as _, TryStreamExt as _};
        let wanted: Vec<(BlobKey, u64)> = manifest
            .files
            .iter()
            .map(|file| (blob_key(file), file.size))
            .collect();
        let inner = Arc::clone(self);
        futures::stream::iter(wanted)
            .map(move |(key, size)| Arc::clone(&inner).ensure_blob(key, size))
            .buffered(4)
            .try_collect()
            .await
    }

    /// Blob `key` present and verified: one run per key at a time.
    pub async fn ensure_blob(self: Arc<Self>, key: BlobKey, size: u64) -> Result<Blob> {
        let inner = Arc::clone(&self);
        Ok(self
            .blobs
            .run(key, async move { inner.ensure_blob_now(key, size).await })
            .await?)
    }

    async fn ensure_blob_now(&self, key: BlobKey, size: u64) -> Result<Blob> {
        let path = self.layout.blob(key);
        if let Some(stamp) = self.check_stored(key, size, path.clone()).await? {
            return Ok(Blob { stamp, fetched: 0 });
        }
        let target = Target {
            key,
            size,
            tmp_dir: self.layout.tmp(),
            dest: path,
        };
        // The same bytes stored with the other executable bit: copy them locally (verified
        // on the way like any fetch), else read the source.
        let sibling = Sibling(self.layout.blob(key.sibling()));
        let local = match tokio::fs::try_exists(&sibling.0).await {
            Ok(true) => fetch::fetch(&sibling, &target).await.ok(),
            _ => None,
        };
        let (stamp, fetched) = match local {
            Some(stamp) => (stamp, 0),
            None => (fetch::fetch(self.source.as_ref(), &target).await?, size),
        };
        let mut state = self.state();
        state.blob_bytes += size;
        state.stamps.insert(key, stamp);
        Ok(Blob { stamp, fetched })
    }

    /// The stamp of the stored blob when it is intact: known unchanged since this process
    /// verified it, or hashed now. A corrupt blob is deleted (`None`).
    async fn check_stored(&self, key: BlobKey, size: u64, path: PathBuf) -> Result<Option<Stamp>> {
        let known = self.state().stamps.get(&key).copied();
        let checked = tokio::task::spawn_blocking(move || -> Result<Option<(Stamp, bool)>> {
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e).at(&path),
            };
            let stamp = Stamp::of(&meta);
            if known == Some(stamp) && stamp.size == size {
                return Ok(Some((stamp, true)));
            }
            let intact = meta.is_file()
                && meta.len() == size
                && hash_file(&path).at(&path)? == (key.digest, size);
            if !intact {
                tracing::warn!(blob = %key.digest, path = %path.display(), "cached blob is corrupt; fetching it again");
                fs::remove_file(&path).at(&path)?;
            }
            Ok(Some((stamp, intact)))
        })
        .await??;
        let mut state = self.state();
        match checked {
            None => Ok(None),
            Some((stamp, true)) => {
                state.stamps.insert(key, stamp);
                Ok(Some(stamp))
            }
            Some((stamp, false)) => {
                state.stamps.remove(&key);
                state.blob_bytes = state.blob_bytes.saturating_sub(stamp.size);
                Ok(None)
            }
        }
    }
}

/// A local file read as a blob source: the other-mode copy of a blob.
struct Sibling(PathBuf);

impl BlobSource for Sibling {
    fn read(
        &self,
        _digest: Sha256Digest,
        offset: u64,
    ) -> futures::future::BoxFuture<'_, Result<crate::BlobStream, crate::SourceError>> {
        Box::pin(file_stream(self.0.clone(), offset))
    }
}
