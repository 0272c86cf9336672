//! The one error type of aide-bundle.

use std::path::PathBuf;
use std::sync::Arc;

use aide_core::bundle::Sha256Digest;

use crate::source::SourceError;

/// What can go wrong while opening the cache or materializing a bundle.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifest given does not hash to the bundle digest asked for.
    #[error("bundle {asked}: the manifest given hashes to {actual}")]
    ManifestDigest {
        asked: Sha256Digest,
        actual: Sha256Digest,
    },
    /// A manifest path that is not a clean relative path; nothing was written for it.
    #[error("manifest path {path:?} is not a clean relative path")]
    UnsafePath { path: String },
    /// The cache directory cannot be used; the path names the culprit.
    #[error("cache directory {path}: {reason}")]
    CacheDir { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The source failed for a blob (after retries when the failure was transient).
    #[error("fetching blob {digest}: {source}")]
    Source {
        digest: Sha256Digest,
        #[source]
        source: SourceError,
    },
    /// The bytes a source served are not the blob: nothing was kept.
    #[error(
        "blob {digest}: the source served {got_size} bytes hashing to {got}, not the {expected_size} bytes expected"
    )]
    BlobMismatch {
        digest: Sha256Digest,
        expected_size: u64,
        got_size: u64,
        got: Sha256Digest,
    },
    /// The source served more bytes than the manifest lists: nothing was kept.
    #[error("blob {digest}: the source served more than the {expected_size} bytes expected")]
    BlobTooLong {
        digest: Sha256Digest,
        expected_size: u64,
    },
    /// A directory could not become a bundle (see [`crate::DirBlobSource::import_dir`]).
    #[error(transparent)]
    Manifest(#[from] aide_core::Error),
    /// The failure of a piece of work another caller shared (a coalesced fetch or build).
    #[error(transparent)]
    Shared(#[from] Arc<Error>),
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Error {
    /// The error itself, looking through the [`Error::Shared`] wrappers of coalesced work.
    pub fn original(&self) -> &Error {
        match self {
            Self::Shared(inner) => inner.original(),
            other => other,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches the path to an I/O error.
pub(crate) trait IoAt<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoAt<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }
}
