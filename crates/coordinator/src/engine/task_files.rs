//! The port through which the engine reads a task's files and keeps the files its nodes
//! produce ([`TaskFiles`]). A task's input is either a directory on this host (embedded
//! `aide run`) or a stored bundle, which runners fetch by digest and of which the engine
//! reads — for the data preview — only the first bytes of a few files. A node's files
//! (submissions) go to the same blob store as the bundles, or, without one, into the run's
//! database row. [`ScriptInput`] is what an execution is given as `./input`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aide_core::bundle::{Manifest, Sha256Digest};
use aide_core::task::BundleRef;
use aide_store::{NodeFile, NodeFileBody};
use futures::future::BoxFuture;

use super::PortError;

/// What an execution receives as `./input`.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptInput {
    /// A directory on the runner's host: only a runner embedded in this process takes it.
    Local(PathBuf),
    /// A stored bundle, fetched by the runner into its cache.
    Bundle {
        digest: Sha256Digest,
        manifest: Arc<Manifest>,
    },
}

/// Reads stored bundles for the engine.
pub trait TaskFiles: Send + Sync + 'static {
    /// The manifest of a stored bundle.
    fn manifest(&self, bundle: BundleRef) -> BoxFuture<'_, Result<Arc<Manifest>, PortError>>;

    /// The first `max_bytes` bytes of a stored blob, at most its size.
    fn blob_head(
        &self,
        digest: Sha256Digest,
        max_bytes: u64,
    ) -> BoxFuture<'_, Result<Vec<u8>, PortError>>;

    /// Keeps `bytes`, a file named `name` that a node's execution wrote, and says where they
    /// are, for the store to record.
    fn keep_node_file(
        &self,
        name: String,
        bytes: Vec<u8>,
    ) -> BoxFuture<'_, Result<NodeFile, PortError>>;

    /// The bytes of a recorded node file.
    fn node_file_bytes(&self, file: NodeFile) -> BoxFuture<'_, Result<Vec<u8>, PortError>>;
}

/// The port of an engine that has no blob store: local tasks only; a stored bundle is a
/// refused request.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalTasksOnly;

impl TaskFiles for LocalTasksOnly {
    fn manifest(&self, bundle: BundleRef) -> BoxFuture<'_, Result<Arc<Manifest>, PortError>> {
        Box::pin(async move { Err(no_store(bundle)) })
    }

    fn blob_head(
        &self,
        digest: Sha256Digest,
        _max_bytes: u64,
    ) -> BoxFuture<'_, Result<Vec<u8>, PortError>> {
        Box::pin(async move {
            Err(PortError::request(format!(
                "blob {digest} is asked for and this coordinator has no blob store"
            )))
        })
    }

    /// Without a blob store, the bytes stay in the store's row.
    fn keep_node_file(
        &self,
        name: String,
        bytes: Vec<u8>,
    ) -> BoxFuture<'_, Result<NodeFile, PortError>> {
        Box::pin(async move { Ok(NodeFile::inline(name, bytes)) })
    }

    fn node_file_bytes(&self, file: NodeFile) -> BoxFuture<'_, Result<Vec<u8>, PortError>> {
        Box::pin(async move {
            match file.body {
                NodeFileBody::Inline(bytes) => Ok(bytes),
                NodeFileBody::Blob(digest) => Err(PortError::request(format!(
                    "node file {} is blob {digest} and this coordinator has no blob store",
                    file.name
                ))),
            }
        })
    }
}

fn no_store(bundle: BundleRef) -> PortError {
    PortError::request(format!(
        "the task's data is bundle {} and this coordinator has no blob store",
        bundle.digest
    ))
}

/// The files of an input (two levels deep), relative to its root, sorted: what the prompt
/// lists for the author.
pub fn listed_files(manifest: &Manifest) -> Vec<String> {
    let mut files: Vec<String> = manifest
        .files
        .iter()
        .filter(|f| f.path.matches('/').count() <= 1)
        .map(|f| f.path.clone())
        .collect();
    files.sort();
    files
}

/// A local directory's path made absolute against the working directory.
pub fn absolute_dir(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}
