//! [`DirBlobSource`]: blobs kept as files named by their digest under a directory
//! (`<root>/<aa>/<hex>`), for tests and for a runner on the same host as the data.

use std::fs;
use std::io::{self, SeekFrom};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use aide_core::bundle::{Limits, Manifest, Sha256Digest};
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use tokio::io::AsyncSeekExt as _;
use tokio_util::io::ReaderStream;

use super::{BlobSource, BlobStream, SourceError};
use crate::error::{Error, IoAt as _, Result};
use crate::verify::copy_hashing;

/// Bytes read from a file at a time.
const READ_CHUNK: usize = 1 << 20;

/// A directory of blobs named by digest.
#[derive(Debug, Clone)]
pub struct DirBlobSource {
    root: PathBuf,
}

impl DirBlobSource {
    /// A source reading blobs under `root` (created by [`Self::insert`] if missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where blob `digest` lives: `<root>/<aa>/<hex>`.
    pub fn path_of(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.to_string();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Stores `data` as a blob and returns its digest.
    pub fn insert(&self, data: &[u8]) -> Result<Sha256Digest> {
        self.store(&mut io::Cursor::new(data), None)
    }

    /// Stores every file of `dir` as a blob and returns the directory's manifest (built by
    /// [`Manifest::of_dir`], with its checks). A file that changes between the walk and the
    /// copy is refused.
    pub fn import_dir(&self, dir: &Path, limits: &Limits) -> Result<Manifest> {
        let manifest = Manifest::of_dir(dir, limits)?;
        for file in &manifest.files {
            let path = dir.join(&file.path);
            let mut reader = fs::File::open(&path).at(&path)?;
            self.store(&mut reader, Some(&file.sha256))?;
        }
        Ok(manifest)
    }

    /// Copies `reader` into a temporary file under the root, then renames it to its digest's
    /// name; refuses bytes that do not hash to `expected` when given.
    fn store(
        &self,
        reader: &mut impl io::Read,
        expected: Option<&Sha256Digest>,
    ) -> Result<Sha256Digest> {
        fs::create_dir_all(&self.root).at(&self.root)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&self.root)
            .at(&self.root)?;
        let (digest, size) = copy_hashing(reader, tmp.as_file_mut()).at(tmp.path())?;
        if let Some(expected) = expected.filter(|e| **e != digest) {
            return Err(Error::BlobMismatch {
                digest: *expected,
                expected_size: size,
                got_size: size,
                got: digest,
            });
        }
        let dest = self.path_of(&digest);
        let parent = dest.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).at(parent)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o444))
            .at(tmp.path())?;
        tmp.persist(&dest).map_err(|e| Error::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(digest)
    }
}

impl BlobSource for DirBlobSource {
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        file_stream(self.path_of(&digest), offset).boxed()
    }
}

/// The bytes of the file at `path` from `offset` on, in chunks of at most 1 MiB.
pub(crate) async fn file_stream(path: PathBuf, offset: u64) -> Result<BlobStream, SourceError> {
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(SourceError::NotFound),
        Err(e) => return Err(SourceError::transient(e)),
    };
    file.seek(SeekFrom::Start(offset))
        .await
        .map_err(SourceError::transient)?;
    Ok(ReaderStream::with_capacity(file, READ_CHUNK)
        .map_err(SourceError::transient)
        .boxed())
}
