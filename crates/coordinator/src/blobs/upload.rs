//! Storing blobs: a stream is hashed and counted as it arrives and becomes visible under its
//! key only once it hashes to its digest with its declared size. A blob that fits in one
//! part is written with a single atomic put; a larger one streams into a multipart upload
//! with at most [`PART_BYTES`] buffered and [`PARTS_IN_FLIGHT`] parts being written, so
//! memory stays bounded whatever the blob's size. A mismatch, an overrun, a failed stream or
//! a dropped future aborts the upload: nothing appears under the key. Two uploads of one blob
//! at once both succeed; the object is written whole by each (same bytes), the last wins.

use aide_core::bundle::Sha256Digest;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest as _, Sha256};

use super::BlobStore;
use crate::Error;

/// The size of one multipart part (S3's minimum for all but the last part).
pub const PART_BYTES: usize = 5 << 20;
/// Parts written at once by one upload.
const PARTS_IN_FLIGHT: usize = 2;

/// What [`BlobStore::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutOutcome {
    /// Bytes read from the stream (0 when the blob was already stored).
    pub received: u64,
    /// The blob was already stored: the stream was not read and nothing was written.
    pub already_stored: bool,
}

/// An upload's running hash, count and limit.
struct Tally {
    digest: Sha256Digest,
    size: u64,
    received: u64,
    hasher: Sha256,
}

impl Tally {
    fn add(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.received += chunk.len() as u64;
        if self.received > self.size {
            return Err(Error::BlobOverrun {
                digest: self.digest,
                size: self.size,
            });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    fn check(self) -> Result<u64, Error> {
        let actual = Sha256Digest(self.hasher.finalize().into());
        if actual != self.digest || self.received != self.size {
            return Err(Error::BlobMismatch {
                digest: self.digest,
                size: self.size,
                received: self.received,
                actual,
            });
        }
        Ok(self.received)
    }
}

impl BlobStore {
    /// Stores the blob `digest` of `size` bytes from `data` (see the module docs). When the
    /// blob is already stored, `data` is not read and nothing is written.
    pub async fn put<S, E>(
        &self,
        digest: Sha256Digest,
        size: u64,
        data: S,
    ) -> Result<PutOutcome, Error>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self.contains(&digest).await? {
            return Ok(PutOutcome {
                received: 0,
                already_stored: true,
            });
        }
        let mut tally = Tally {
            digest,
            size,
            received: 0,
            hasher: Sha256::new(),
        };
        let mut data = std::pin::pin!(data);
        let interrupted = |received, e: E| Error::UploadInterrupted {
            digest,
            received,
            source: e.into(),
        };
        // Up to one part in memory: a blob that ends there is one atomic put.
        let mut head = Vec::new();
        let mut buffered = 0;
        while buffered < PART_BYTES {
            match data.next().await {
                Some(Ok(chunk)) => {
                    tally.add(&chunk)?;
                    buffered += chunk.len();
                    head.push(chunk);
                }
                Some(Err(e)) => return Err(interrupted(tally.received, e)),
                None => {
                    let received = tally.check()?;
                    let payload = PutPayload::from_iter(head);
                    self.store.put(&self.blob_key(&digest), payload).await?;
                    return Ok(PutOutcome {
                        received,
                        already_stored: false,
                    });
                }
            }
        }
        let upload = self.store.put_multipart(&self.blob_key(&digest)).await?;
        let mut writer = Multipart(Some(WriteMultipart::new_with_chunk_size(
            upload, PART_BYTES,
        )));
        for chunk in head {
            writer.put(chunk).await?;
        }
        while let Some(chunk) = data.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    writer.abort().await;
                    return Err(interrupted(tally.received, e));
                }
            };
            if let Err(e) = tally.add(&chunk) {
                writer.abort().await;
                return Err(e);
            }
            writer.put(chunk).await?;
        }
        match tally.check() {
            Ok(received) => {
                writer.finish().await?;
                Ok(PutOutcome {
                    received,
                    already_stored: false,
                })
            }
            Err(e) => {
                writer.abort().await;
                Err(e)
            }
        }
    }

    /// Stores a small blob held in memory with one put and returns its digest (node files:
    /// submissions, collected files). Already stored: nothing is written.
    pub async fn put_bytes(&self, bytes: &[u8]) -> Result<Sha256Digest, Error> {
        let digest = Sha256Digest(Sha256::digest(bytes).into());
        if !self.contains(&digest).await? {
            let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
            self.store.put(&self.blob_key(&digest), payload).await?;
        }
        Ok(digest)
    }
}

/// A multipart upload that is aborted unless finished, even when its future is dropped (a
/// client that goes away mid-upload): S3 would otherwise keep the parts.
struct Multipart(Option<WriteMultipart>);

impl Multipart {
    /// Queues `chunk`, first waiting until fewer than [`PARTS_IN_FLIGHT`] parts are written.
    async fn put(&mut self, chunk: Bytes) -> Result<(), Error> {
        let writer = self.0.as_mut().expect("an unfinished upload");
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            self.abort().await;
            return Err(e.into());
        }
        if let Some(writer) = self.0.as_mut() {
            writer.put(chunk);
        }
        Ok(())
    }

    /// Writes the last part and makes the object visible (aborting on failure).
    async fn finish(mut self) -> Result<(), Error> {
        let writer = self.0.take().expect("an unfinished upload");
        writer.finish().await?;
        Ok(())
    }

    /// Drops the parts written so far; a failure to do so is only logged.
    async fn abort(&mut self) {
        if let Some(writer) = self.0.take()
            && let Err(e) = writer.abort().await
        {
            tracing::warn!(error = %e, "cannot abort a blob upload");
        }
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        if let Some(writer) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "cannot abort a dropped blob upload");
                }
            });
        }
    }
}
