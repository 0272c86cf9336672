//! Task bundles (ARCHITECTURE §9): a [`Manifest`] lists a directory's files — relative path,
//! size, sha256 and executable bit — so a task can cross the system as content-addressed
//! blobs instead of a host path. [`Manifest::of_dir`] builds one from a directory with the
//! checks untrusted input needs: symlinks are followed only while they stay inside the
//! directory, anything but regular files and directories is refused with its path, and
//! the file count and sizes are bounded ([`Limits`]). Files are hashed as streams, so memory
//! stays bounded whatever their size.

mod check;
mod digest;
mod local;
mod walk;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub use check::ManifestError;
pub use digest::Sha256Digest;
pub use local::LocalBundle;
pub use walk::Refusal;

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// Relative to the bundle's root, `/`-separated, never `..`, never absolute.
    pub path: String,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub executable: bool,
}

/// The files of a bundle, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: Vec<BundleFile>,
}

/// Bounds on a bundle built from a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for Limits {
    /// 50,000 files, 16 GiB per file, 64 GiB in all.
    fn default() -> Self {
        Self {
            max_files: 50_000,
            max_file_bytes: 16 << 30,
            max_total_bytes: 64 << 30,
        }
    }
}

impl Manifest {
    /// The manifest of every file under `dir` (see the module docs for what is refused); a
    /// regular file instead of a directory gives a one-file manifest named by its file name.
    pub fn of_dir(dir: &std::path::Path, limits: &Limits) -> crate::Result<Self> {
        walk::manifest_of(dir, limits)
    }

    /// The manifest's own digest, which names the bundle: the sha256 of one line per file,
    /// `<path>\t<size>\t<sha256>\t<x or ->\n`, in path order. Paths cannot hold a tab or a
    /// newline (the walk refuses them), so the encoding is unambiguous.
    pub fn digest(&self) -> Sha256Digest {
        let mut hasher = Sha256::new();
        for file in &self.files {
            let mode = if file.executable { "x" } else { "-" };
            let line = format!("{}\t{}\t{}\t{mode}\n", file.path, file.size, file.sha256);
            hasher.update(line.as_bytes());
        }
        Sha256Digest(hasher.finalize().into())
    }

    /// The bytes of all files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

#[cfg(test)]
mod tests;
