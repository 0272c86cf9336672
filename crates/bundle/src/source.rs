//! Where blobs come from: the [`BlobSource`] trait, with a gRPC implementation (the
//! coordinator's `Blobs` service) and a directory implementation (tests, a single host).

mod dir;
pub(crate) mod grpc;

use std::error::Error as StdError;

use aide_core::bundle::Sha256Digest;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use dir::DirBlobSource;
pub(crate) use dir::file_stream;
pub use grpc::GrpcBlobSource;

/// A blob's bytes, in order, from the offset asked for. A stream that ends early is treated as
/// a transient failure by the cache and resumed.
pub type BlobStream = BoxStream<'static, Result<Bytes, SourceError>>;

/// Why a source could not serve a blob.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source does not hold the blob; retrying will not help.
    #[error("not found")]
    NotFound,
    /// A failure that may pass (a dropped connection, an unavailable server, a timeout): the
    /// cache retries, resuming from the bytes it already has.
    #[error("transient failure: {0}")]
    Transient(#[source] Box<dyn StdError + Send + Sync>),
    /// A failure retrying will not fix (refused, malformed request).
    #[error("{0}")]
    Permanent(#[source] Box<dyn StdError + Send + Sync>),
}

impl SourceError {
    /// A transient failure from any error or message.
    pub fn transient(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Transient(error.into())
    }

    /// A permanent failure from any error or message.
    pub fn permanent(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Permanent(error.into())
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

/// A store of blobs addressed by sha256. Object safe: the cache holds an
/// `Arc<dyn BlobSource>`.
pub trait BlobSource: Send + Sync {
    /// The bytes of blob `digest` from byte `offset` on. The cache verifies size and sha256,
    /// so a source need not.
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>>;
}
