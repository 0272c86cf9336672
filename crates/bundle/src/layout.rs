//! The cache directory on disk: where blobs, bundle trees and temporary files live, the
//! permissions a sandbox under another uid needs, and the checks made when the cache opens.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use aide_core::bundle::Sha256Digest;

use crate::error::{Error, IoAt as _, Result};

/// Mode of every directory others must traverse.
pub(crate) const DIR_MODE: u32 = 0o755;

/// A blob as stored: its digest and whether this copy is executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BlobKey {
    pub digest: Sha256Digest,
    pub executable: bool,
}

impl BlobKey {
    pub fn mode(self) -> u32 {
        if self.executable { 0o555 } else { 0o444 }
    }

    /// The same bytes with the other executable bit.
    pub fn sibling(self) -> Self {
        Self {
            executable: !self.executable,
            ..self
        }
    }
}

/// The paths of one cache directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn bundles(&self) -> PathBuf {
        self.root.join("bundles")
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `blobs/<aa>/<hex>`, or `blobs/<aa>/<hex>.x` for the executable copy.
    pub fn blob(&self, key: BlobKey) -> PathBuf {
        let hex = key.digest.to_string();
        let name = if key.executable {
            format!("{hex}.x")
        } else {
            hex.clone()
        };
        self.blobs().join(&hex[..2]).join(name)
    }

    pub fn bundle(&self, digest: &Sha256Digest) -> PathBuf {
        self.bundles().join(digest.to_string())
    }

    /// Prepares the directory for this process: created with mode 0755, its ancestors checked
    /// when running as root, the lock taken, `tmp/` emptied, `blobs/` and `bundles/` made.
    /// Returns the held lock file.
    pub fn prepare(&self) -> Result<File> {
        fs::create_dir_all(&self.root).at(&self.root)?;
        set_mode(&self.root, DIR_MODE)?;
        if nix::unistd::geteuid().is_root() {
            check_ancestors_searchable(&self.root)?;
        }
        let lock_path = self.root.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .at(&lock_path)?;
        lock.try_lock().map_err(|e| Error::CacheDir {
            path: self.root.clone(),
            reason: format!("in use by another process ({e})"),
        })?;
        let tmp = self.tmp();
        if tmp.exists() {
            fs::remove_dir_all(&tmp).at(&tmp)?;
        }
        fs::create_dir(&tmp).at(&tmp)?;
        set_mode(&tmp, 0o700)?;
        for dir in [self.blobs(), self.bundles()] {
            make_dir(&dir)?;
        }
        Ok(lock)
    }

    /// The total size of the stored blobs.
    pub fn blob_bytes(&self) -> Result<u64> {
        let mut total = 0;
        for (_, _, meta) in self.scan_blobs()? {
            total += meta.len();
        }
        Ok(total)
    }

    /// Every stored blob: its key, path and metadata. Names that are not blobs are skipped.
    pub fn scan_blobs(&self) -> Result<Vec<(BlobKey, PathBuf, fs::Metadata)>> {
        let mut found = Vec::new();
        let blobs = self.blobs();
        for shard in fs::read_dir(&blobs).at(&blobs)? {
            let shard = shard.at(&blobs)?.path();
            if !shard.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&shard).at(&shard)? {
                let path = entry.at(&shard)?.path();
                let Some(key) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(parse_blob_name)
                else {
                    continue;
                };
                let meta = fs::symlink_metadata(&path).at(&path)?;
                if meta.is_file() {
                    found.push((key, path, meta));
                }
            }
        }
        Ok(found)
    }
}

fn parse_blob_name(name: &str) -> Option<BlobKey> {
    let (hex, executable) = match name.strip_suffix(".x") {
        Some(hex) => (hex, true),
        None => (name, false),
    };
    Some(BlobKey {
        digest: hex.parse().ok()?,
        executable,
    })
}

/// `path` as a relative path of plain components only: the check made before any manifest
/// path is joined to a directory, whatever checked it before.
pub(crate) fn clean_relative(path: &str) -> Result<&Path> {
    let unsafe_path = || Error::UnsafePath {
        path: path.to_owned(),
    };
    let as_path = Path::new(path);
    let plain = as_path
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let parts_ok = path
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..");
    if path.is_empty() || path.contains(['\0', '\\']) || !plain || !parts_ok {
        return Err(unsafe_path());
    }
    Ok(as_path)
}

/// Creates `dir` (one level) with mode 0755 whatever the umask; an existing one is fine.
pub(crate) fn make_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => set_mode(dir, DIR_MODE),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Io {
            path: dir.to_owned(),
            source: e,
        }),
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).at(path)
}

/// As root, sandboxes run as other uids: every ancestor of the cache must let others through.
fn check_ancestors_searchable(root: &Path) -> Result<()> {
    let canonical = fs::canonicalize(root).at(root)?;
    for ancestor in canonical.ancestors().skip(1) {
        let mode = fs::metadata(ancestor).at(ancestor)?.mode();
        if mode & 0o001 == 0 {
            return Err(Error::CacheDir {
                path: ancestor.to_owned(),
                reason: format!(
                    "mode {:04o} does not let other users through, so a sandbox running as \
                     another uid could not read the cached bundles; use a cache directory \
                     whose every parent has o+x",
                    mode & 0o7777
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_pass() {
        for good in ["a", "a/b.csv", "dir/sub/x y.txt"] {
            assert_eq!(clean_relative(good).unwrap(), Path::new(good));
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "a\0",
        ] {
            assert!(
                matches!(clean_relative(bad), Err(Error::UnsafePath { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn blob_names_round_trip() {
        let layout = Layout::new(PathBuf::from("/c"));
        let key = BlobKey {
            digest: Sha256Digest([0xab; 32]),
            executable: true,
        };
        let path = layout.blob(key);
        assert!(path.starts_with("/c/blobs/ab"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_blob_name(name), Some(key));
        assert_eq!(parse_blob_name("nothex"), None);
    }
}
