//! Fetching one blob: streamed from a [`BlobSource`] into a temporary file in the cache's
//! `tmp/`, hashed and counted on the way by a blocking writer (memory stays bounded by a few
//! chunks whatever the blob's size), fsynced, and renamed into place only when size and
//! sha256 match. A transient source failure is retried, resuming at the bytes already
//! written. On any failure the temporary file is deleted; a crash leaves it in `tmp/`, which
//! the next open empties.

use std::fs;
use std::io::{self, BufWriter, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use aide_core::bundle::Sha256Digest;
use bytes::Bytes;
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::error::{Error, IoAt as _, Result};
use crate::layout::{BlobKey, make_dir};
use crate::source::{BlobSource, SourceError};
use crate::verify::Stamp;

/// Attempts in a row that make no progress before a transient failure is final.
const RETRIES: u32 = 3;
/// The first pause before a retry; doubled each time.
const BACKOFF: Duration = Duration::from_millis(100);
/// A source silent for this long is treated as a transient failure.
const IDLE: Duration = Duration::from_secs(60);
/// Chunks queued between the network and the disk.
const QUEUE: usize = 4;

/// Where a fetched blob goes.
#[derive(Debug)]
pub(crate) struct Target {
    pub key: BlobKey,
    pub size: u64,
    pub tmp_dir: PathBuf,
    pub dest: PathBuf,
}

/// Fetches `target.key` from `source` into `target.dest`; returns the stored file's stamp.
pub(crate) async fn fetch(source: &dyn BlobSource, target: &Target) -> Result<Stamp> {
    let digest = target.key.digest;
    let tmp = tempfile::Builder::new()
        .prefix(&format!("blob-{digest}-"))
        .tempfile_in(&target.tmp_dir)
        .at(&target.tmp_dir)?;
    let file = tmp.as_file().try_clone().at(tmp.path())?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = tokio::task::spawn_blocking(move || write_hashing(file, rx));

    let pumped = pump_with_retries(source, digest, target.size, &tx).await;
    drop(tx);
    let written = writer.await?.at(tmp.path());
    pumped?;
    let (got, got_size) = written?;
    if got != digest || got_size != target.size {
        return Err(Error::BlobMismatch {
            digest,
            expected_size: target.size,
            got_size,
            got,
        });
    }
    let mode = target.key.mode();
    let dest = target.dest.clone();
    tokio::task::spawn_blocking(move || -> Result<Stamp> {
        let file = tmp.as_file();
        file.sync_all().at(tmp.path())?;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .at(tmp.path())?;
        if let Some(shard) = dest.parent() {
            make_dir(shard)?;
        }
        tmp.persist(&dest).map_err(|e| Error::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(Stamp::of(&fs::symlink_metadata(&dest).at(&dest)?))
    })
    .await?
}

/// Reads the blob into `tx`, resuming after transient failures; `Ok` once the source ends
/// (the writer's count and hash then decide whether the bytes are the blob).
async fn pump_with_retries(
    source: &dyn BlobSource,
    digest: Sha256Digest,
    size: u64,
    tx: &mpsc::Sender<Bytes>,
) -> Result<()> {
    let mut written = 0u64;
    let mut failures = 0u32;
    loop {
        let before = written;
        let outcome = pump(source, digest, size, &mut written, tx).await;
        let progressed = written > before;
        if progressed {
            failures = 0;
        }
        let error = match outcome {
            // Ended early after some progress: a cut-off stream, so resume.
            Ok(()) if written < size && progressed => {
                SourceError::transient(format!("the stream ended after {written} of {size} bytes"))
            }
            Ok(()) => return Ok(()),
            Err(Pumped::TooLong) => {
                return Err(Error::BlobTooLong {
                    digest,
                    expected_size: size,
                });
            }
            Err(Pumped::WriterGone) => return Ok(()),
            Err(Pumped::Source(e)) => e,
        };
        if !error.is_transient() || failures >= RETRIES {
            return Err(Error::Source {
                digest,
                source: error,
            });
        }
        tracing::debug!(%digest, offset = written, %error, "retrying a blob read");
        tokio::time::sleep(BACKOFF * 2u32.pow(failures)).await;
        failures += 1;
    }
}

enum Pumped {
    Source(SourceError),
    TooLong,
    /// The writer stopped (a disk error); its result says why.
    WriterGone,
}

/// One read of the blob from `*written` on.
async fn pump(
    source: &dyn BlobSource,
    digest: Sha256Digest,
    size: u64,
    written: &mut u64,
    tx: &mpsc::Sender<Bytes>,
) -> Result<(), Pumped> {
    let idle = || Pumped::Source(SourceError::transient(format!("no data for {IDLE:?}")));
    let mut stream = tokio::time::timeout(IDLE, source.read(digest, *written))
        .await
        .map_err(|_| idle())?
        .map_err(Pumped::Source)?;
    while let Some(chunk) = tokio::time::timeout(IDLE, stream.next())
        .await
        .map_err(|_| idle())?
    {
        let chunk = chunk.map_err(Pumped::Source)?;
        if *written + chunk.len() as u64 > size {
            return Err(Pumped::TooLong);
        }
        let len = chunk.len() as u64;
        tx.send(chunk).await.map_err(|_| Pumped::WriterGone)?;
        *written += len;
        if *written == size {
            // All the bytes are here; the hash decides. What the stream does next is moot.
            break;
        }
    }
    Ok(())
}

/// Writes and hashes every chunk received until the channel closes.
fn write_hashing(file: fs::File, mut rx: mpsc::Receiver<Bytes>) -> io::Result<(Sha256Digest, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        hasher.update(&chunk);
        out.write_all(&chunk)?;
        total += chunk.len() as u64;
    }
    out.flush()?;
    Ok((Sha256Digest(hasher.finalize().into()), total))
}
