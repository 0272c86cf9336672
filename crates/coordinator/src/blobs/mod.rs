//! The coordinator's blob store (ARCHITECTURE §9): blobs and bundle manifests addressed by
//! sha256 in an object store — a local directory by default, an S3-compatible bucket for
//! teams ([`BlobStore::from_url`]) — and the `aide.v1.Blobs` gRPC service over it
//! ([`BlobsService`]).
//!
//! Keys, under the URL's prefix: `blobs/sha256/<first two hex digits>/<hex>` for blobs and
//! `manifests/<hex>` for manifests (JSON). A key only ever holds verified bytes: an upload is
//! hashed and counted as it streams and becomes visible only once its digest and size match
//! ([`upload`]); anything else is aborted and leaves nothing under the key.
//!
//! - [`open`]: the store a URL names;
//! - [`upload`]: streamed, verified uploads and small single-request puts;
//! - [`manifests`]: manifests stored once their blobs are;
//! - [`service`]: the gRPC service, every input bounded;
//! - [`ingest`]: a bundle of this host's files (a task under a task root) stored;
//! - [`task_files`]: the engine's port to stored task bundles and node files.

mod ingest;
mod manifests;
mod open;
mod rechunk;
pub(crate) mod service;
mod task_files;
mod upload;

use std::sync::Arc;

use aide_core::bundle::Sha256Digest;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};

use crate::Error;

pub(crate) use rechunk::rechunk;
pub use service::{BlobsService, DEFAULT_MAX_BLOB_BYTES};
pub use task_files::StoredTaskFiles;
pub use upload::{PART_BYTES, PutOutcome};

/// HEAD requests in flight at once while looking for missing blobs.
const HEAD_CONCURRENCY: usize = 32;

/// Blobs and manifests by sha256 over an object store; cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// The URL's prefix; every key lives under it.
    root: Path,
}

impl BlobStore {
    /// A store over `store`, its keys under `root` (e.g. `""` or `"team/aide"`).
    pub fn new(store: Arc<dyn ObjectStore>, root: &str) -> Self {
        Self {
            store,
            root: Path::from(root),
        }
    }

    /// The key of a blob.
    fn blob_key(&self, digest: &Sha256Digest) -> Path {
        let hex = digest.to_string();
        let key = self.root.clone().join("blobs").join("sha256");
        key.join(&hex[..2]).join(hex.as_str())
    }

    /// The key of a manifest.
    fn manifest_key(&self, digest: &Sha256Digest) -> Path {
        self.root.clone().join("manifests").join(digest.to_string())
    }

    /// Whether the blob is stored.
    pub async fn contains(&self, digest: &Sha256Digest) -> Result<bool, Error> {
        match self.store.head(&self.blob_key(digest)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The digests among `digests` that are not stored, in the order given (HEAD requests,
    /// a bounded number at once).
    pub async fn missing(&self, digests: &[Sha256Digest]) -> Result<Vec<Sha256Digest>, Error> {
        futures::stream::iter(digests.iter().copied())
            .map(|digest| async move { Ok((digest, self.contains(&digest).await?)) })
            .buffered(HEAD_CONCURRENCY)
            .try_filter_map(|(digest, stored)| async move { Ok((!stored).then_some(digest)) })
            .try_collect()
            .await
    }

    /// The blob's bytes from `offset` on, as a stream of chunks. [`Error::BlobNotFound`]
    /// when it is not stored; [`Error::BlobOffset`] when `offset` is past its end.
    pub async fn read(
        &self,
        digest: &Sha256Digest,
        offset: u64,
    ) -> Result<BoxStream<'static, Result<Bytes, Error>>, Error> {
        let key = self.blob_key(digest);
        let not_found = not_found_as_blob(digest);
        let mut options = GetOptions::default();
        if offset > 0 {
            // A range at or past the end is an error for object stores: look at the size.
            let size = self.store.head(&key).await.map_err(not_found)?.size;
            if offset > size {
                return Err(Error::BlobOffset {
                    digest: *digest,
                    offset,
                    size,
                });
            }
            if offset == size {
                return Ok(futures::stream::empty().boxed());
            }
            options.range = Some(GetRange::Offset(offset));
        }
        let got = self
            .store
            .get_opts(&key, options)
            .await
            .map_err(not_found)?;
        Ok(got.into_stream().map_err(Error::from).boxed())
    }

    /// The blob's first `max_bytes` bytes (all of it when shorter), with one ranged read.
    pub async fn read_head(&self, digest: &Sha256Digest, max_bytes: u64) -> Result<Bytes, Error> {
        let key = self.blob_key(digest);
        let not_found = not_found_as_blob(digest);
        let size = self.store.head(&key).await.map_err(not_found)?.size;
        let end = size.min(max_bytes);
        if end == 0 {
            return Ok(Bytes::new());
        }
        self.store.get_range(&key, 0..end).await.map_err(not_found)
    }

    /// The blob's whole content in memory (small files: node files, tests).
    pub async fn read_all(&self, digest: &Sha256Digest) -> Result<Bytes, Error> {
        let chunks: Vec<Bytes> = self.read(digest, 0).await?.try_collect().await?;
        Ok(chunks.concat().into())
    }
}

/// Maps an object store's `NotFound` to [`Error::BlobNotFound`] for `digest`.
fn not_found_as_blob(digest: &Sha256Digest) -> impl Fn(object_store::Error) -> Error + Copy + '_ {
    move |e| match e {
        object_store::Error::NotFound { .. } => Error::BlobNotFound { digest: *digest },
        e => e.into(),
    }
}

impl std::fmt::Display for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} under {:?}", self.store, self.root.as_ref())
    }
}
