//! The data preview of a run's input: a directory on this host is walked and read in place;
//! a stored bundle is previewed from its manifest, with only the first bytes of the files
//! the preview describes fetched from the blob store ([`BundleHeads`]), within a budget.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aide_core::bundle::{Manifest, Sha256Digest};
use aide_core::preview::{Head, HeadSource, preview_listing};
use aide_core::{PreviewOptions, TokenCounter, preview_dir};
use tokio::runtime::Handle;
use tracing::warn;

use super::TaskFilesPort;
use super::task_files::ScriptInput;

/// Bytes fetched at most for one preview, whatever the number of files described.
const PREVIEW_FETCH_BUDGET: u64 = 256 << 20;

/// The preview of `input`, or `None` (with a warning) when it cannot be made.
pub(super) async fn data_preview(
    input: &ScriptInput,
    files: &TaskFilesPort,
    tokens: &TokenCounter,
) -> Option<String> {
    let options = PreviewOptions {
        tokens: tokens.clone(),
        ..PreviewOptions::default()
    };
    let rendered = match input {
        ScriptInput::Local(dir) => {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                preview_dir(&dir, &options).map_err(|e| e.to_string())
            })
            .await
        }
        ScriptInput::Bundle { manifest, .. } => {
            let heads = match BundleHeads::new(manifest, files.clone(), PREVIEW_FETCH_BUDGET) {
                Ok(heads) => heads,
                Err(e) => {
                    warn!(error = %e, "no data preview: no temporary directory");
                    return None;
                }
            };
            let listing: Vec<(String, u64)> = manifest
                .files
                .iter()
                .map(|f| (f.path.clone(), f.size))
                .collect();
            tokio::task::spawn_blocking(move || {
                Ok(preview_listing("input", &listing, &heads, &options))
            })
            .await
        }
    };
    match rendered {
        Ok(Ok(preview)) => Some(preview),
        Ok(Err(e)) => {
            warn!(error = %e, "no data preview");
            None
        }
        Err(e) => {
            warn!(error = %e, "the data preview panicked");
            None
        }
    }
}

/// The heads of a bundle's files, fetched from the blob store into a temporary directory
/// when the preview asks for them (on a blocking thread), at most
/// `budget` bytes in all.
struct BundleHeads {
    files: TaskFilesPort,
    budget: u64,
    entries: HashMap<String, (Sha256Digest, u64)>,
    dir: tempfile::TempDir,
    runtime: Handle,
    fetched: AtomicU64,
}

impl BundleHeads {
    fn new(manifest: &Arc<Manifest>, files: TaskFilesPort, budget: u64) -> std::io::Result<Self> {
        Ok(Self {
            files,
            budget,
            entries: manifest
                .files
                .iter()
                .map(|f| (f.path.clone(), (f.sha256, f.size)))
                .collect(),
            dir: tempfile::Builder::new().prefix("aide-preview-").tempdir()?,
            runtime: Handle::current(),
            fetched: AtomicU64::new(0),
        })
    }
}

impl HeadSource for BundleHeads {
    fn head(&self, rel_path: &str, wanted: u64) -> std::io::Result<Head> {
        let &(digest, size) = self.entries.get(rel_path).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "not in the manifest")
        })?;
        let left = self
            .budget
            .saturating_sub(self.fetched.load(Ordering::Relaxed));
        let asked = wanted.min(size).min(left);
        if asked == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::QuotaExceeded,
                "the preview's fetch budget is spent",
            ));
        }
        let bytes = self
            .runtime
            .block_on(self.files.0.blob_head(digest, asked))
            .map_err(std::io::Error::other)?;
        self.fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let complete = bytes.len() as u64 == size;
        // A head ends at its last full line, so no row or line is shown cut.
        let kept = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) if !complete => &bytes[..=end],
            _ => &bytes[..],
        };
        let path = self.dir.path().join(digest.to_string());
        std::fs::write(&path, kept)?;
        Ok(Head { path, complete })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicU64;

    use aide_core::bundle::{Limits, LocalBundle};
    use aide_core::task::BundleRef;
    use aide_store::NodeFile;
    use futures::future::BoxFuture;

    use super::*;
    use crate::blobs::{BlobStore, StoredTaskFiles};
    use crate::engine::{PortError, TaskFiles};

    /// The blob store's port, counting the bytes of blob heads it hands out.
    struct Counting {
        inner: StoredTaskFiles,
        given: Arc<AtomicU64>,
    }

    impl TaskFiles for Counting {
        fn manifest(&self, bundle: BundleRef) -> BoxFuture<'_, Result<Arc<Manifest>, PortError>> {
            self.inner.manifest(bundle)
        }

        fn blob_head(
            &self,
            digest: Sha256Digest,
            max_bytes: u64,
        ) -> BoxFuture<'_, Result<Vec<u8>, PortError>> {
            Box::pin(async move {
                let head = self.inner.blob_head(digest, max_bytes).await?;
                self.given.fetch_add(head.len() as u64, Ordering::Relaxed);
                Ok(head)
            })
        }

        fn keep_node_file(
            &self,
            name: String,
            bytes: Vec<u8>,
        ) -> BoxFuture<'_, Result<NodeFile, PortError>> {
            self.inner.keep_node_file(name, bytes)
        }

        fn node_file_bytes(&self, file: NodeFile) -> BoxFuture<'_, Result<Vec<u8>, PortError>> {
            self.inner.node_file_bytes(file)
        }
    }

    /// A task directory: a 48 MB table, a short text and a nested small table.
    fn write_task(dir: &Path) {
        // About a million rows: under the preview's count, so a whole copy counts them all.
        let mut big = String::from("id,value,label,comment\n");
        let mut i = 0u64;
        while big.len() < 48_000_000 {
            let label = ["a", "b"][i as usize % 2];
            let value = i as f64 * 0.37;
            big.push_str(&format!(
                "{i},{value:.3},{label},a comment of some length\n"
            ));
            i += 1;
        }
        std::fs::write(dir.join("train.csv"), big).expect("train.csv");
        std::fs::write(dir.join("notes.txt"), "hello\n").expect("notes");
        std::fs::create_dir(dir.join("extra")).expect("extra");
        std::fs::write(dir.join("extra/small.csv"), "x,y\n1,2\n").expect("small");
    }

    async fn stored(dir: &Path, data: &Path) -> (ScriptInput, Arc<AtomicU64>, TaskFilesPort) {
        let blobs = BlobStore::from_url(None, data).expect("blob store");
        let bundle = LocalBundle::of(dir, &Limits::default()).expect("bundle");
        let stored = blobs.ingest(&bundle).await.expect("ingest");
        let given = Arc::new(AtomicU64::new(0));
        let port = TaskFilesPort(Arc::new(Counting {
            inner: StoredTaskFiles::new(blobs),
            given: given.clone(),
        }));
        let manifest = port.0.manifest(stored).await.expect("manifest");
        let input = ScriptInput::Bundle {
            digest: stored.digest,
            manifest,
        };
        (input, given, port)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_stored_bundle_is_previewed_from_the_heads_of_its_files() {
        let task = tempfile::tempdir().expect("task");
        let data = tempfile::tempdir().expect("data");
        write_task(task.path());
        let (input, given, port) = stored(task.path(), data.path()).await;

        let tokens = TokenCounter::new();
        let preview = data_preview(&input, &port, &tokens)
            .await
            .expect("a preview");
        let local = data_preview(
            &ScriptInput::Local(task.path().to_path_buf()),
            &port,
            &tokens,
        )
        .await
        .expect("a local preview");
        assert!(preview.contains("input/  (3 files, 48.0 MB)"), "{preview}");
        assert!(preview.contains("train.csv  (48.0 MB)"), "{preview}");
        assert!(
            preview.contains("estimated from file size"),
            "the big table's rows are estimated:\n{preview}"
        );
        assert!(preview.contains("extra/small.csv"), "{preview}");
        assert!(
            !local.contains("estimated from file size"),
            "read whole, the rows are counted:\n{local}"
        );
        let fetched = given.load(Ordering::Relaxed);
        assert!(
            fetched <= TABLE_HEAD + 1_000,
            "one table head and two small files, not 48 MB: {fetched} bytes"
        );
    }

    const TABLE_HEAD: u64 = aide_core::preview::TABLE_HEAD_BYTES;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_preview_fetches_no_more_than_its_budget() {
        let task = tempfile::tempdir().expect("task");
        let data = tempfile::tempdir().expect("data");
        write_task(task.path());
        let (input, given, port) = stored(task.path(), data.path()).await;
        let ScriptInput::Bundle { manifest, .. } = &input else {
            unreachable!("stored")
        };
        let heads = BundleHeads::new(manifest, port.clone(), 1_000_000).expect("heads");
        // The preview asks from a blocking thread, as `data_preview` runs it.
        tokio::task::spawn_blocking(move || {
            let first = heads
                .head("train.csv", TABLE_HEAD)
                .expect("within the budget");
            assert!(!first.complete);
            let copied = std::fs::read(&first.path).expect("head");
            assert!(
                copied.len() <= 1_000_000 && copied.ends_with(b"\n"),
                "{}",
                copied.len()
            );
            let spent = heads
                .head("notes.txt", 100)
                .expect_err("the budget is spent");
            assert_eq!(spent.kind(), std::io::ErrorKind::QuotaExceeded);
        })
        .await
        .expect("heads read");
        assert_eq!(given.load(Ordering::Relaxed), 1_000_000);
    }
}
