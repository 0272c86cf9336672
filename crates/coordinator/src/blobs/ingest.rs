//! Ingesting a bundle whose files are on this host (a task under a task root) into the blob
//! store: only the blobs the store lacks are read and written, then the manifest is stored.

use aide_core::bundle::LocalBundle;
use aide_core::task::BundleRef;
use tokio_util::io::ReaderStream;

use super::BlobStore;
use crate::Error;

impl BlobStore {
    /// Stores the blobs of `bundle` that are missing, then its manifest.
    pub async fn ingest(&self, bundle: &LocalBundle) -> Result<BundleRef, Error> {
        let digests: Vec<_> = bundle.manifest.files.iter().map(|f| f.sha256).collect();
        let missing: std::collections::HashSet<_> =
            self.missing(&digests).await?.into_iter().collect();
        let mut stored = std::collections::HashSet::new();
        for file in &bundle.manifest.files {
            if !missing.contains(&file.sha256) || !stored.insert(file.sha256) {
                continue;
            }
            let path = bundle.source_of(file);
            let reader = tokio::fs::File::open(&path)
                .await
                .map_err(|source| Error::TaskFile {
                    path: file.path.clone(),
                    source,
                })?;
            self.put(file.sha256, file.size, ReaderStream::new(reader))
                .await?;
        }
        let digest = self.put_manifest(&bundle.manifest).await?;
        Ok(BundleRef {
            digest,
            files: bundle.manifest.files.len() as u64,
            bytes: bundle.manifest.total_bytes(),
        })
    }
}
