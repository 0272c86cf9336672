//! [`LocalBundle`]: a bundle whose files are still on this host — a client about to upload a
//! task, or a server ingesting a task root — with the way back from a manifest entry to the
//! file it was read from.

use std::path::{Path, PathBuf};

use super::{BundleFile, Limits, Manifest};

/// A manifest built from a directory (or one file) on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBundle {
    /// The directory the manifest's paths are relative to.
    root: PathBuf,
    pub manifest: Manifest,
}

impl LocalBundle {
    /// The bundle of `path`: every file under a directory, or a single file.
    pub fn of(path: &Path, limits: &Limits) -> crate::Result<Self> {
        let manifest = Manifest::of_dir(path, limits)?;
        let canonical = path.canonicalize().map_err(|e| crate::Error::io(path, e))?;
        let root = if canonical.is_file() {
            canonical
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        } else {
            canonical
        };
        Ok(Self { root, manifest })
    }

    /// The file on this host that `entry` was read from.
    pub fn source_of(&self, entry: &BundleFile) -> PathBuf {
        self.root.join(&entry.path)
    }
}
