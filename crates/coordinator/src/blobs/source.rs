//! The blob store as a [`BlobSource`] of the bundle cache, so the coordinator keeps a local,
//! verified copy of a bundle (for the data preview) the same way a runner does.

use aide_bundle::{BlobSource, BlobStream, SourceError};
use aide_core::bundle::Sha256Digest;
use futures::TryStreamExt;
use futures::future::BoxFuture;

use super::BlobStore;
use crate::Error;

impl BlobSource for BlobStore {
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        Box::pin(async move {
            let stream = BlobStore::read(self, &digest, offset)
                .await
                .map_err(source_error)?;
            Ok(Box::pin(stream.map_err(source_error)) as BlobStream)
        })
    }
}

fn source_error(err: Error) -> SourceError {
    match err {
        Error::BlobNotFound { .. } => SourceError::NotFound,
        other => SourceError::transient(other),
    }
}
