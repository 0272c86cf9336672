//! The engine's [`TaskFiles`] port over the blob store: manifests read (and remembered) by
//! digest, and local copies of bundles kept in a bundle cache under the data directory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aide_bundle::BundleCache;
use aide_core::bundle::{Manifest, Sha256Digest};
use aide_core::task::BundleRef;
use futures::future::BoxFuture;

use super::BlobStore;
use crate::Error;
use crate::engine::{LocalCopy, PortError, TaskFiles};

/// Task bundles read from the blob store.
#[derive(Debug, Clone)]
pub struct StoredTaskFiles {
    blobs: BlobStore,
    cache: BundleCache,
    manifests: Arc<Mutex<HashMap<Sha256Digest, Arc<Manifest>>>>,
}

impl StoredTaskFiles {
    pub fn new(blobs: BlobStore, cache: BundleCache) -> Self {
        Self {
            blobs,
            cache,
            manifests: Arc::default(),
        }
    }
}

impl TaskFiles for StoredTaskFiles {
    fn manifest(&self, bundle: BundleRef) -> BoxFuture<'_, Result<Arc<Manifest>, PortError>> {
        Box::pin(async move {
            if let Some(known) = self.lock().get(&bundle.digest) {
                return Ok(known.clone());
            }
            let manifest = self
                .blobs
                .get_manifest(&bundle.digest)
                .await
                .map_err(port_error)?;
            let manifest = Arc::new(manifest);
            self.lock().insert(bundle.digest, manifest.clone());
            Ok(manifest)
        })
    }

    fn local_copy(
        &self,
        bundle: BundleRef,
        manifest: Arc<Manifest>,
    ) -> BoxFuture<'_, Result<LocalCopy, PortError>> {
        Box::pin(async move {
            let lease = self
                .cache
                .materialize(bundle.digest, &manifest)
                .await
                .map_err(|e| PortError::infrastructure(e.original().to_string()))?;
            Ok(LocalCopy {
                dir: lease.dir().to_path_buf(),
                _hold: Box::new(lease),
            })
        })
    }
}

impl StoredTaskFiles {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Sha256Digest, Arc<Manifest>>> {
        self.manifests.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A missing manifest will not appear by retrying; anything else may.
fn port_error(err: Error) -> PortError {
    match err {
        Error::ManifestNotFound { .. } => PortError::request(err.to_string()),
        other => PortError::infrastructure(other.to_string()),
    }
}
