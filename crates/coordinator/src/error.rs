//! The one error type of aide-coordinator.

use aide_core::bundle::Sha256Digest;

/// Everything the coordinator can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store refused or failed (lease lost, stale attempt, database error).
    #[error(transparent)]
    Store(#[from] aide_store::Error),
    /// Writing a run's output files failed.
    #[error("cannot write {path}: {source}")]
    Output {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The run loop could not load or finish its run.
    #[error("the run loop failed: {0}")]
    Run(#[source] Box<crate::engine::Failure>),
    /// A task of the run loop panicked or was lost.
    #[error("{what} failed: {source}")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// Grading a sweep's cell could not finish (a runner or the blob store failed); the
    /// cell is graded again later.
    #[error("grading: {0}")]
    Grading(String),
    /// The configuration is unusable (a bad flag, a missing database URL).
    #[error("configuration: {0}")]
    Config(String),
    /// The configuration file, a listener or the gRPC server failed (the service shell).
    #[error(transparent)]
    Service(#[from] aide_service::Error),
    /// The bootstrap admin token's file could not be written.
    #[error("cannot write the bootstrap admin token to {path}: {source}")]
    Bootstrap {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file of a task on this host could not be read while storing it.
    #[error("cannot read the task's file {path}: {source}")]
    TaskFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The blob store holds no blob with this digest.
    #[error("blob {digest} not found")]
    BlobNotFound { digest: Sha256Digest },
    /// The blob store holds no manifest with this digest.
    #[error("manifest {digest} not found")]
    ManifestNotFound { digest: Sha256Digest },
    /// The bytes of an upload do not hash to its digest or do not match its declared size.
    #[error(
        "blob {digest}: received {received} bytes hashing to {actual}, expected {size} bytes \
         hashing to the digest; nothing was stored"
    )]
    BlobMismatch {
        digest: Sha256Digest,
        size: u64,
        received: u64,
        actual: Sha256Digest,
    },
    /// An upload sent more bytes than it declared.
    #[error("blob {digest}: more than the declared {size} bytes; nothing was stored")]
    BlobOverrun { digest: Sha256Digest, size: u64 },
    /// An upload's byte stream failed before its end.
    #[error("blob {digest}: the upload was cut off after {received} bytes; nothing was stored")]
    UploadInterrupted {
        digest: Sha256Digest,
        received: u64,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read starts past the end of its blob.
    #[error("blob {digest}: offset {offset} is past its end ({size} bytes)")]
    BlobOffset {
        digest: Sha256Digest,
        offset: u64,
        size: u64,
    },
    /// A manifest lists a blob the store does not hold.
    #[error("manifest file {path:?}: blob {digest} is not stored; upload it first")]
    ManifestBlobMissing { path: String, digest: Sha256Digest },
    /// A stored manifest cannot be decoded (corrupt store).
    #[error("stored manifest {digest} is unreadable: {source}")]
    ManifestCorrupt {
        digest: Sha256Digest,
        #[source]
        source: serde_json::Error,
    },
    /// The object store failed (I/O, network, credentials).
    #[error("the blob store failed: {0}")]
    ObjectStore(#[from] object_store::Error),
}

impl aide_core::HasErrorCode for Error {
    fn code(&self) -> aide_core::ErrorCode {
        match self {
            Self::Store(e) => e.code(),
            Self::Config(_)
            | Self::BlobMismatch { .. }
            | Self::BlobOverrun { .. }
            | Self::BlobOffset { .. } => aide_core::ErrorCode::InvalidArgument,
            Self::BlobNotFound { .. } | Self::ManifestNotFound { .. } => {
                aide_core::ErrorCode::NotFound
            }
            Self::ManifestBlobMissing { .. } => aide_core::ErrorCode::FailedPrecondition,
            Self::UploadInterrupted { .. } => aide_core::ErrorCode::Unavailable,
            _ => aide_core::ErrorCode::Internal,
        }
    }
}
