//! Hashing files as streams, and the stamp that stands for a verified blob.
//!
//! The rule against corruption: a blob's sha256 is computed once per process (when it is
//! fetched, or the first time this process uses it after [`crate::BundleCache::open`]); that
//! moment's [`Stamp`] (device, inode, size, mtime) is kept in memory, and every later use
//! compares the bundle's file against it with one `stat`. Rewriting a blob's bytes changes
//! its mtime, so it is caught on the next use; a change that also restores the mtime is caught
//! at the next process start.

use std::fs::{self, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use aide_core::bundle::Sha256Digest;
use sha2::{Digest as _, Sha256};

/// Bytes hashed at a time.
const CHUNK: usize = 1 << 20;

/// What a verified blob looked like when it was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_sec: i64,
    pub mtime_nsec: i64,
}

impl Stamp {
    pub fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_sec: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// The sha256 and length of what `reader` yields, copied to `writer` on the way.
pub(crate) fn copy_hashing(
    reader: &mut impl Read,
    writer: &mut impl Write,
) -> io::Result<(Sha256Digest, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok((Sha256Digest(hasher.finalize().into()), total))
}

/// The sha256 and length of the file at `path`.
pub(crate) fn hash_file(path: &Path) -> io::Result<(Sha256Digest, u64)> {
    copy_hashing(&mut fs::File::open(path)?, &mut io::sink())
}
