//! Pushing a local task to a coordinator as bundles: hash its data and held-back answers,
//! ask which blobs the coordinator lacks, stream only those (bounded memory, a few at a time,
//! each retried from its start after a transient failure), then store both manifests. The
//! coordinator never reads a client's path. The channel carries the caller's token (uploads
//! take a member's). Progress is reported through [`PushProgress`].

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aide_core::Task;
use aide_core::bundle::{BundleFile, Limits, LocalBundle, Sha256Digest};
use aide_proto::bearer::AuthedChannel;
use aide_proto::bundle::{digest_from_wire, digest_to_wire};
use aide_proto::v1;
use aide_proto::v1::blobs_client::BlobsClient;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

use crate::source::grpc::retryable;

/// Bytes per upload message.
const CHUNK: usize = 1 << 20;
/// Blobs uploaded at once.
const PARALLEL: usize = 4;
/// Digests asked about per FindMissingBlobs call.
const FIND_BATCH: usize = 10_000;
/// Attempts per blob before the upload gives up.
const ATTEMPTS: u32 = 3;

/// The local bundles of a task: its public data and, apart, its held-back answers.
#[derive(Debug)]
pub struct PackedTask {
    pub input: LocalBundle,
    pub private: Option<LocalBundle>,
}

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The task's data is not on this machine (already a stored bundle).
    #[error("the task's data is not on this machine")]
    NotLocal,
    /// A file cannot become part of a bundle, or cannot be read; the message names it.
    #[error(transparent)]
    Bundle(#[from] aide_core::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The coordinator refused or failed a call.
    #[error("{}", .0.message())]
    Remote(#[from] tonic::Status),
    /// The coordinator answered something that cannot be right.
    #[error("the coordinator answered {0}")]
    BadReply(String),
    #[error("hashing the task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hears how a push goes.
pub trait PushProgress: Send + Sync {
    /// The files are being hashed.
    fn hashing(&self, dir: &Path) {
        let _ = dir;
    }
    /// Hashed; `missing` files (`bytes` in all) will be sent, of `files`.
    fn planned(&self, files: usize, missing: usize, bytes: u64) {
        let _ = (files, missing, bytes);
    }
    /// `bytes` more were sent (negative after a retry rewinds).
    fn sent(&self, bytes: i64) {
        let _ = bytes;
    }
    /// Everything was sent.
    fn done(&self) {}
}

/// A push nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl PushProgress for Quiet {}

/// Hashes the task's data and answers on a blocking thread, refusing what a bundle cannot
/// hold (see [`aide_core::bundle`]) before anything is sent.
pub async fn pack(
    task: &Task,
    limits: Limits,
    progress: &dyn PushProgress,
) -> Result<PackedTask, PushError> {
    let input = task
        .input
        .local_path()
        .map(Path::to_path_buf)
        .ok_or(PushError::NotLocal)?;
    let answers = task
        .answers
        .as_ref()
        .and_then(|a| a.data.local_path().map(Path::to_path_buf));
    progress.hashing(&input);
    tokio::task::spawn_blocking(move || -> Result<PackedTask, PushError> {
        let input = LocalBundle::of(&input, &limits)?;
        let private = answers.map(|a| LocalBundle::of(&a, &limits)).transpose()?;
        Ok(PackedTask { input, private })
    })
    .await?
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadReport {
    pub input: Sha256Digest,
    pub private: Option<Sha256Digest>,
    pub blobs_sent: usize,
    pub bytes_sent: u64,
}

/// Uploads the blobs the coordinator lacks and stores both manifests.
pub async fn upload(
    channel: AuthedChannel,
    packed: &PackedTask,
    progress: &dyn PushProgress,
) -> Result<UploadReport, PushError> {
    let mut client = BlobsClient::new(channel)
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES);
    let missing = missing_files(&mut client, packed).await?;
    let total: u64 = missing.iter().map(|(_, f)| f.size).sum();
    let files = packed.input.manifest.files.len()
        + packed
            .private
            .as_ref()
            .map_or(0, |p| p.manifest.files.len());
    progress.planned(files, missing.len(), total);
    let sends: Vec<BoxFuture<'_, Result<(), PushError>>> = missing
        .iter()
        .map(|(bundle, file)| {
            Box::pin(send_with_retries(client.clone(), bundle, file, progress)) as BoxFuture<'_, _>
        })
        .collect();
    futures::stream::iter(sends)
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    progress.done();
    let input = put_manifest(&mut client, &packed.input).await?;
    let private = match &packed.private {
        Some(private) => Some(put_manifest(&mut client, private).await?),
        None => None,
    };
    Ok(UploadReport {
        input,
        private,
        blobs_sent: missing.len(),
        bytes_sent: total,
    })
}

/// The files whose blobs the server lacks, each blob once.
async fn missing_files<'a>(
    client: &mut BlobsClient<AuthedChannel>,
    packed: &'a PackedTask,
) -> Result<Vec<(&'a LocalBundle, &'a BundleFile)>, PushError> {
    let mut seen = HashSet::new();
    let files: Vec<(&LocalBundle, &BundleFile)> = std::iter::once(&packed.input)
        .chain(packed.private.as_ref())
        .flat_map(|b| b.manifest.files.iter().map(move |f| (b, f)))
        .filter(|(_, f)| seen.insert(f.sha256))
        .collect();
    let mut missing = HashSet::new();
    for batch in files.chunks(FIND_BATCH) {
        let request = v1::FindMissingBlobsRequest {
            digests: batch
                .iter()
                .map(|(_, f)| digest_to_wire(&f.sha256))
                .collect(),
        };
        let reply = client.find_missing_blobs(request).await?.into_inner();
        for digest in reply.missing {
            let digest = digest_from_wire("missing", &digest)
                .map_err(|e| PushError::BadReply(e.to_string()))?;
            missing.insert(digest);
        }
    }
    Ok(files
        .into_iter()
        .filter(|(_, f)| missing.contains(&f.sha256))
        .collect())
}

/// Sends one blob, again from its start after a transient failure.
async fn send_with_retries(
    client: BlobsClient<AuthedChannel>,
    bundle: &LocalBundle,
    file: &BundleFile,
    progress: &dyn PushProgress,
) -> Result<(), PushError> {
    let mut attempt = 1;
    loop {
        let counted = AtomicU64::new(0);
        match send(client.clone(), bundle, file, progress, &counted).await {
            Ok(()) => return Ok(()),
            Err(PushError::Remote(status)) if attempt < ATTEMPTS && retryable(status.code()) => {
                let sent = counted.load(Ordering::Relaxed);
                progress.sent(-i64::try_from(sent).unwrap_or(i64::MAX));
                tracing::warn!(path = %file.path, error = %status.message(), "upload failed, retrying");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(other) => return Err(other),
        }
    }
}

async fn send(
    mut client: BlobsClient<AuthedChannel>,
    bundle: &LocalBundle,
    file: &BundleFile,
    progress: &dyn PushProgress,
    counted: &AtomicU64,
) -> Result<(), PushError> {
    let path = bundle.source_of(file);
    let read_error = |source| PushError::Read {
        path: path.clone(),
        source,
    };
    let mut reader = tokio::fs::File::open(&path).await.map_err(read_error)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::UploadBlobRequest>(2);
    let header = v1::UploadBlobRequest {
        digest: digest_to_wire(&file.sha256),
        size: file.size,
        data: Vec::new(),
    };
    let call = client.upload_blob(tokio_stream::wrappers::ReceiverStream::new(rx));
    let feed = async {
        // Owned here, so the request stream ends when the file does.
        let tx = tx;
        if tx.send(header).await.is_err() {
            return Ok::<(), PushError>(());
        }
        loop {
            let mut data = vec![0u8; CHUNK];
            let read = reader.read(&mut data).await.map_err(read_error)?;
            if read == 0 {
                return Ok(());
            }
            data.truncate(read);
            let message = v1::UploadBlobRequest {
                data,
                ..Default::default()
            };
            if tx.send(message).await.is_err() {
                return Ok(()); // the call ended; its status says why
            }
            counted.fetch_add(read as u64, Ordering::Relaxed);
            progress.sent(read as i64);
        }
    };
    let (fed, answer) = tokio::join!(feed, call);
    fed?;
    answer?;
    Ok(())
}

async fn put_manifest(
    client: &mut BlobsClient<AuthedChannel>,
    bundle: &LocalBundle,
) -> Result<Sha256Digest, PushError> {
    let request = v1::PutManifestRequest {
        manifest: Some((&bundle.manifest).into()),
    };
    let reply = client.put_manifest(request).await?.into_inner();
    let digest = digest_from_wire("digest", &reply.digest)
        .map_err(|e| PushError::BadReply(e.to_string()))?;
    if digest != bundle.manifest.digest() {
        return Err(PushError::BadReply(format!(
            "manifest {digest}, not {}",
            bundle.manifest.digest()
        )));
    }
    Ok(digest)
}

/// The bundle part of a CreateRun request for an uploaded task.
pub fn task_bundle(task: &Task, report: &UploadReport) -> v1::TaskBundle {
    v1::TaskBundle {
        descriptor: Some(aide_proto::task::descriptor_of(task)),
        input_digest: digest_to_wire(&report.input),
        private_digest: report
            .private
            .as_ref()
            .map(digest_to_wire)
            .unwrap_or_default(),
    }
}

/// Packs and uploads a local task; the source of its CreateRun request.
pub async fn push_task(
    channel: AuthedChannel,
    task: &Task,
    limits: Limits,
    progress: &dyn PushProgress,
) -> Result<(v1::TaskBundle, UploadReport), PushError> {
    let packed = pack(task, limits, progress).await?;
    let report = upload(channel, &packed, progress).await?;
    Ok((task_bundle(task, &report), report))
}
