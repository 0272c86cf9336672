//! The port through which the engine reads a task's files: a task's input is either a
//! directory on this host (embedded `aide run`) or a stored bundle, which runners fetch by
//! digest and which the engine reads — for the data preview — through a local copy that the
//! port keeps ([`TaskFiles`]). [`ScriptInput`] is what an execution is given as `./input`.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aide_core::bundle::{Manifest, Sha256Digest};
use aide_core::task::BundleRef;
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

/// A directory on this host with a bundle's files, kept while the value lives.
pub struct LocalCopy {
    pub dir: PathBuf,
    /// Whatever keeps the directory from being evicted.
    pub _hold: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for LocalCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCopy")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Reads stored bundles for the engine.
pub trait TaskFiles: Send + Sync + 'static {
    /// The manifest of a stored bundle.
    fn manifest(&self, bundle: BundleRef) -> BoxFuture<'_, Result<Arc<Manifest>, PortError>>;

    /// A local directory holding the bundle's files.
    fn local_copy(
        &self,
        bundle: BundleRef,
        manifest: Arc<Manifest>,
    ) -> BoxFuture<'_, Result<LocalCopy, PortError>>;
}

/// The port of an engine that has no blob store: local tasks only; a stored bundle is a
/// refused request.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalTasksOnly;

impl TaskFiles for LocalTasksOnly {
    fn manifest(&self, bundle: BundleRef) -> BoxFuture<'_, Result<Arc<Manifest>, PortError>> {
        Box::pin(async move { Err(no_store(bundle)) })
    }

    fn local_copy(
        &self,
        bundle: BundleRef,
        _manifest: Arc<Manifest>,
    ) -> BoxFuture<'_, Result<LocalCopy, PortError>> {
        Box::pin(async move { Err(no_store(bundle)) })
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
