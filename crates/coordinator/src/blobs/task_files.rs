//! The engine's [`TaskFiles`] port over the blob store: manifests read (and remembered) by
//! digest, the first bytes of blobs (data previews), and node files kept as blobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aide_core::bundle::{Manifest, Sha256Digest};
use aide_core::task::BundleRef;
use aide_store::{NodeFile, NodeFileBody};
use futures::future::BoxFuture;

use super::BlobStore;
use crate::Error;
use crate::engine::{PortError, TaskFiles};

/// Task bundles read from the blob store.
#[derive(Debug, Clone)]
pub struct StoredTaskFiles {
    blobs: BlobStore,
    manifests: Arc<Mutex<HashMap<Sha256Digest, Arc<Manifest>>>>,
}

impl StoredTaskFiles {
    pub fn new(blobs: BlobStore) -> Self {
        Self {
            blobs,
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

    fn blob_head(
        &self,
        digest: Sha256Digest,
        max_bytes: u64,
    ) -> BoxFuture<'_, Result<Vec<u8>, PortError>> {
        Box::pin(async move {
            let head = self.blobs.read_head(&digest, max_bytes).await;
            Ok(head.map_err(port_error)?.to_vec())
        })
    }

    fn keep_node_file(
        &self,
        name: String,
        bytes: Vec<u8>,
    ) -> BoxFuture<'_, Result<NodeFile, PortError>> {
        Box::pin(async move {
            let digest = self.blobs.put_bytes(&bytes).await.map_err(port_error)?;
            Ok(NodeFile::blob(name, digest, bytes.len() as u64))
        })
    }

    fn node_file_bytes(&self, file: NodeFile) -> BoxFuture<'_, Result<Vec<u8>, PortError>> {
        Box::pin(async move {
            match file.body {
                NodeFileBody::Inline(bytes) => Ok(bytes),
                NodeFileBody::Blob(digest) => {
                    let bytes = self.blobs.read_all(&digest).await.map_err(port_error)?;
                    Ok(bytes.to_vec())
                }
            }
        })
    }
}

impl StoredTaskFiles {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Sha256Digest, Arc<Manifest>>> {
        self.manifests.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A missing manifest or blob will not appear by retrying; anything else may.
fn port_error(err: Error) -> PortError {
    match err {
        Error::ManifestNotFound { .. } | Error::BlobNotFound { .. } => {
            PortError::request(err.to_string())
        }
        other => PortError::infrastructure(other.to_string()),
    }
}
