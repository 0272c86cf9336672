//! Bundle manifests in the blob store: stored (as JSON, under `manifests/<hex>`) only once
//! every blob they list is, so a stored manifest always names a complete bundle.

use aide_core::bundle::{Manifest, Sha256Digest};
use bytes::Bytes;
use object_store::{ObjectStoreExt, PutPayload};

use super::BlobStore;
use crate::Error;

impl BlobStore {
    /// Stores `manifest` and returns its digest ([`Manifest::digest`]).
    /// [`Error::ManifestBlobMissing`] names the first listed file whose blob is not stored.
    pub async fn put_manifest(&self, manifest: &Manifest) -> Result<Sha256Digest, Error> {
        let digests: Vec<Sha256Digest> = manifest.files.iter().map(|f| f.sha256).collect();
        let missing = self.missing(&digests).await?;
        if let Some(first) = missing.first()
            && let Some(file) = manifest.files.iter().find(|f| f.sha256 == *first)
        {
            return Err(Error::ManifestBlobMissing {
                path: file.path.clone(),
                digest: file.sha256,
            });
        }
        let digest = manifest.digest();
        let json = serde_json::to_vec(manifest).expect("a manifest serializes");
        let payload = PutPayload::from(Bytes::from(json));
        self.store.put(&self.manifest_key(&digest), payload).await?;
        Ok(digest)
    }

    /// The manifest stored under `digest`; [`Error::ManifestNotFound`] when there is none.
    pub async fn get_manifest(&self, digest: &Sha256Digest) -> Result<Manifest, Error> {
        let got = match self.store.get(&self.manifest_key(digest)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(Error::ManifestNotFound { digest: *digest });
            }
            Err(e) => return Err(e.into()),
        };
        let json = got.bytes().await?;
        serde_json::from_slice(&json).map_err(|source| Error::ManifestCorrupt {
            digest: *digest,
            source,
        })
    }
}
