//! Shared fixtures: a cache directory others can traverse, a directory blob store holding
//! test bundles, and blob sources that count, delay, cut off or refuse reads.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aide_bundle::{BlobSource, BlobStream, BundleCache, CacheConfig, DirBlobSource, SourceError};
use aide_core::bundle::{BundleFile, Limits, Manifest, Sha256Digest};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};

/// A temporary directory with mode 0755 (tempdirs are 0700, which the cache refuses as an
/// ancestor when running as root).
pub fn open_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// A blob store with bundles made from in-memory files.
pub struct Store {
    pub dir: tempfile::TempDir,
    pub source: DirBlobSource,
}

/// One file of a test bundle: path, bytes, executable.
pub type Spec<'a> = (&'a str, &'a [u8], bool);

impl Store {
    pub fn new() -> Self {
        let dir = open_dir();
        let source = DirBlobSource::new(dir.path().join("blobs"));
        Self { dir, source }
    }

    /// Stores the files' bytes and returns the bundle's digest and manifest.
    pub fn bundle(&self, files: &[Spec<'_>]) -> (Sha256Digest, Manifest) {
        let files = files
            .iter()
            .map(|(path, data, executable)| BundleFile {
                path: (*path).to_owned(),
                size: data.len() as u64,
                sha256: self.source.insert(data).expect("insert blob"),
                executable: *executable,
            })
            .collect();
        let manifest = Manifest::from_files(files, &Limits::default()).expect("manifest");
        (manifest.digest(), manifest)
    }

    pub fn arc(&self) -> Arc<dyn BlobSource> {
        Arc::new(self.source.clone())
    }
}

/// `n` bytes of a pattern seeded by `seed` (different seeds, different blobs).
pub fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}

pub async fn open(dir: &Path, max_bytes: u64, source: Arc<dyn BlobSource>) -> BundleCache {
    BundleCache::open(
        CacheConfig {
            dir: dir.to_owned(),
            max_bytes,
        },
        source,
    )
    .await
    .expect("open cache")
}

/// The bundle's directory holds exactly `files`, with their bytes and modes.
pub fn assert_tree(dir: &Path, files: &[Spec<'_>]) {
    for (path, data, executable) in files {
        let file = dir.join(path);
        assert_eq!(&fs::read(&file).expect("read bundle file"), data, "{path}");
        let mode = fs::metadata(&file).expect("stat").mode() & 0o7777;
        assert_eq!(mode, if *executable { 0o555 } else { 0o444 }, "{path}");
    }
    assert_eq!(count_files(dir), files.len(), "files in {}", dir.display());
}

pub fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .map(|p| if p.is_dir() { count_files(&p) } else { 1 })
        .sum()
}

/// The entries of a cache subdirectory (`blobs`, `bundles`, `tmp`), recursively, files only.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Wraps a source and records each read (digest, offset); optionally waits before answering
/// so concurrent callers overlap.
pub struct Counting {
    inner: Arc<dyn BlobSource>,
    delay: Duration,
    pub reads: Mutex<Vec<(Sha256Digest, u64)>>,
}

impl Counting {
    pub fn new(inner: Arc<dyn BlobSource>, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner,
            delay,
            reads: Mutex::default(),
        })
    }

    pub fn reads_of(&self) -> HashMap<Sha256Digest, usize> {
        let mut counts = HashMap::new();
        for (digest, _) in self.reads.lock().unwrap().iter() {
            *counts.entry(*digest).or_default() += 1;
        }
        counts
    }

    pub fn total(&self) -> usize {
        self.reads.lock().unwrap().len()
    }
}

impl BlobSource for Counting {
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        self.reads.lock().unwrap().push((digest, offset));
        async move {
            tokio::time::sleep(self.delay).await;
            self.inner.read(digest, offset).await
        }
        .boxed()
    }
}

/// Serves `cut` bytes of each read and then fails transiently, while `failing` is set;
/// counts the failures.
pub struct CutOff {
    inner: Arc<dyn BlobSource>,
    cut: usize,
    pub failing: AtomicBool,
    pub failures: AtomicUsize,
}

impl CutOff {
    pub fn new(inner: Arc<dyn BlobSource>, cut: usize) -> Arc<Self> {
        Arc::new(Self {
            inner,
            cut,
            failing: AtomicBool::new(true),
            failures: AtomicUsize::new(0),
        })
    }
}

impl BlobSource for CutOff {
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        async move {
            let stream = self.inner.read(digest, offset).await?;
            if !self.failing.load(Ordering::SeqCst) {
                return Ok(stream);
            }
            self.failures.fetch_add(1, Ordering::SeqCst);
            let mut data = Vec::new();
            let mut stream = stream;
            while let Some(chunk) = stream.next().await {
                data.extend_from_slice(&chunk?);
            }
            data.truncate(self.cut);
            let head = futures::stream::iter([
                Ok(bytes::Bytes::from(data)),
                Err(SourceError::transient("connection reset (test)")),
            ]);
            Ok(head.boxed())
        }
        .boxed()
    }
}

/// Serves other bytes of the same length than any blob asked for.
pub struct Lying(pub Arc<dyn BlobSource>);

impl BlobSource for Lying {
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        async move {
            let stream = self.0.read(digest, offset).await?;
            Ok(stream
                .map(|chunk| chunk.map(|c| c.iter().map(|b| b ^ 0xff).collect()))
                .boxed())
        }
        .boxed()
    }
}

/// Refuses every read, and counts them.
#[derive(Default)]
pub struct Dead {
    pub reads: AtomicUsize,
}

impl BlobSource for Dead {
    fn read(
        &self,
        _digest: Sha256Digest,
        _offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        async { Err(SourceError::permanent("the source is gone (test)")) }.boxed()
    }
}
