//! Uploading a local task as bundles: hash its data and held-back answers, ask the server
//! which blobs it lacks, stream only those (bounded memory, a few at a time, with a progress
//! line of bytes and rate), then store both manifests. The server never reads a client path.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aide_core::bundle::{BundleFile, Limits, LocalBundle, Sha256Digest};
use aide_core::{Task, human_size};
use aide_proto::bundle::{digest_from_wire, digest_to_wire};
use aide_proto::v1;
use aide_proto::v1::blobs_client::BlobsClient;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;
use tonic::transport::Channel;

use super::remote;
use crate::error::CliError;

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

/// Hashes the task's data and answers on a blocking thread, refusing what a bundle cannot
/// hold (see [`aide_core::bundle`]) before anything is sent.
pub async fn pack(task: &Task, limits: Limits) -> Result<PackedTask, CliError> {
    let input = task
        .input
        .local_path()
        .map(Path::to_path_buf)
        .ok_or_else(|| CliError::Usage("the task's data is not on this machine".into()))?;
    let answers = task
        .answers
        .as_ref()
        .and_then(|a| a.data.local_path().map(Path::to_path_buf));
    eprintln!("hashing {} …", input.display());
    let started = Instant::now();
    let packed = tokio::task::spawn_blocking(move || -> Result<PackedTask, CliError> {
        let input = LocalBundle::of(&input, &limits).map_err(bundle_error)?;
        let private = answers
            .map(|a| LocalBundle::of(&a, &limits).map_err(bundle_error))
            .transpose()?;
        Ok(PackedTask { input, private })
    })
    .await
    .map_err(|e| CliError::Remote(format!("hashing the task failed: {e}")))??;
    eprintln!(
        "hashed {} files, {} in {:.1} s",
        packed.input.manifest.files.len(),
        human_size(packed.input.manifest.total_bytes()),
        started.elapsed().as_secs_f64()
    );
    Ok(packed)
}

fn bundle_error(err: aide_core::Error) -> CliError {
    CliError::Usage(err.to_string())
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadReport {
    pub input: Sha256Digest,
    pub private: Option<Sha256Digest>,
    pub blobs_sent: usize,
    pub bytes_sent: u64,
}

/// Uploads the blobs the server lacks and stores both manifests.
pub async fn upload(channel: Channel, packed: &PackedTask) -> Result<UploadReport, CliError> {
    let mut client = BlobsClient::new(channel)
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES);
    let missing = missing_files(&mut client, packed).await?;
    let total: u64 = missing.iter().map(|(_, f)| f.size).sum();
    if missing.is_empty() {
        eprintln!("the server already holds every file of the task: nothing to upload");
    } else {
        eprintln!(
            "uploading {} of {} files ({})",
            missing.len(),
            packed.input.manifest.files.len()
                + packed
                    .private
                    .as_ref()
                    .map_or(0, |p| p.manifest.files.len()),
            human_size(total)
        );
    }
    let progress = Progress::new(total);
    futures::stream::iter(missing.iter())
        .map(|(bundle, file)| send_with_retries(client.clone(), bundle, file, &progress))
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;
    progress.finish();
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
    client: &mut BlobsClient<Channel>,
    packed: &'a PackedTask,
) -> Result<Vec<(&'a LocalBundle, &'a BundleFile)>, CliError> {
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
        let reply = client
            .find_missing_blobs(request)
            .await
            .map_err(|s| remote(s, None))?
            .into_inner();
        for digest in reply.missing {
            let digest = digest_from_wire("missing", &digest)
                .map_err(|e| CliError::Remote(format!("the server answered {e}")))?;
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
    client: BlobsClient<Channel>,
    bundle: &LocalBundle,
    file: &BundleFile,
    progress: &Progress,
) -> Result<(), CliError> {
    let mut attempt = 1;
    loop {
        let sent_before = progress.sent();
        match send(client.clone(), bundle, file, progress).await {
            Ok(()) => return Ok(()),
            Err(SendError::Local(err)) => return Err(err),
            Err(SendError::Remote(status)) if attempt >= ATTEMPTS || !transient(&status) => {
                return Err(remote(status, None));
            }
            Err(SendError::Remote(status)) => {
                progress.rewind(progress.sent() - sent_before);
                tracing::warn!(path = %file.path, error = %status.message(), "upload failed, retrying");
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                attempt += 1;
            }
        }
    }
}

enum SendError {
    Local(CliError),
    Remote(tonic::Status),
}

fn transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Aborted
            | tonic::Code::Unknown
            | tonic::Code::Internal
    )
}

async fn send(
    mut client: BlobsClient<Channel>,
    bundle: &LocalBundle,
    file: &BundleFile,
    progress: &Progress,
) -> Result<(), SendError> {
    let path = bundle.source_of(file);
    let mut reader = tokio::fs::File::open(&path)
        .await
        .map_err(|e| SendError::Local(CliError::Usage(format!("{}: {e}", path.display()))))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<v1::UploadBlobRequest>(2);
    let header = v1::UploadBlobRequest {
        digest: digest_to_wire(&file.sha256),
        size: file.size,
        data: Vec::new(),
    };
    let call = client.upload_blob(tokio_stream::wrappers::ReceiverStream::new(rx));
    let feed = async {
        if tx.send(header).await.is_err() {
            return Ok(());
        }
        loop {
            let mut data = vec![0u8; CHUNK];
            let read = reader.read(&mut data).await.map_err(|e| {
                SendError::Local(CliError::Usage(format!("{}: {e}", path.display())))
            })?;
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
            progress.add(read as u64);
        }
    };
    let (fed, answer) = tokio::join!(feed, call);
    fed?;
    answer.map_err(SendError::Remote)?;
    Ok(())
}

async fn put_manifest(
    client: &mut BlobsClient<Channel>,
    bundle: &LocalBundle,
) -> Result<Sha256Digest, CliError> {
    let request = v1::PutManifestRequest {
        manifest: Some((&bundle.manifest).into()),
    };
    let reply = client
        .put_manifest(request)
        .await
        .map_err(|s| remote(s, None))?
        .into_inner();
    let digest = digest_from_wire("digest", &reply.digest)
        .map_err(|e| CliError::Remote(format!("the server answered {e}")))?;
    if digest != bundle.manifest.digest() {
        return Err(CliError::Remote(format!(
            "the server named the manifest {digest}, not {}",
            bundle.manifest.digest()
        )));
    }
    Ok(digest)
}

/// The progress line: bytes sent of the total and the rate, redrawn at most a few times a
/// second on a terminal, every tenth of the way otherwise.
struct Progress {
    total: u64,
    sent: AtomicU64,
    started: Instant,
    last_drawn: std::sync::Mutex<(Instant, u64)>,
    terminal: bool,
}

impl Progress {
    fn new(total: u64) -> Self {
        Self {
            total,
            sent: AtomicU64::new(0),
            started: Instant::now(),
            last_drawn: std::sync::Mutex::new((Instant::now(), 0)),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn rewind(&self, bytes: u64) {
        self.sent.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn add(&self, bytes: u64) {
        let sent = self.sent.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let mut last = self.last_drawn.lock().unwrap_or_else(|p| p.into_inner());
        let due = match self.terminal {
            true => last.0.elapsed() >= Duration::from_millis(250),
            false => sent.saturating_sub(last.1) >= self.total / 10 && self.total > 0,
        };
        if due {
            *last = (Instant::now(), sent);
            self.draw(sent, if self.terminal { "\r" } else { "" }, !self.terminal);
        }
    }

    fn draw(&self, sent: u64, prefix: &str, newline: bool) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let line = format!(
            "{prefix}  {} / {} ({:.0}%), {}/s   ",
            human_size(sent),
            human_size(self.total),
            100.0 * sent as f64 / self.total.max(1) as f64,
            human_size((sent as f64 / secs) as u64)
        );
        if newline {
            eprintln!("{line}");
        } else {
            eprint!("{line}");
        }
    }

    fn finish(&self) {
        if self.total == 0 {
            return;
        }
        self.draw(self.sent(), if self.terminal { "\r" } else { "" }, true);
        eprintln!(
            "uploaded {} in {:.1} s",
            human_size(self.sent()),
            self.started.elapsed().as_secs_f64()
        );
    }
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
