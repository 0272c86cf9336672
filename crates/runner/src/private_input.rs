//! Host directories that sandbox users cannot read. The runner inside `aide run` takes the
//! task's own directory as input (nothing copied), but as root the process backend runs each
//! slot as another uid, and a directory only its owner can enter (mode 0700, as `mktemp -d`
//! makes) would be invisible to the script. Such a directory is imported once per runner
//! into a blob directory under the work root and given as a cached bundle, readable by every
//! uid; a directory others can already read is used in place.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aide_bundle::{BundleCache, BundleLease, CacheConfig, DirBlobSource};
use aide_core::bundle::{Limits, Manifest, Sha256Digest};
use tokio::sync::Mutex;

use crate::{Error, Result};

/// Imported copies of private input directories, made under `root` when first needed.
#[derive(Debug)]
pub struct PrivateInputs {
    root: PathBuf,
    store: tokio::sync::OnceCell<(Arc<DirBlobSource>, BundleCache)>,
    imported: Mutex<HashMap<PathBuf, (Sha256Digest, Manifest)>>,
}

impl PrivateInputs {
    /// Copies to be kept under `root` (blobs, and a cache that sandbox users can reach).
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            store: tokio::sync::OnceCell::new(),
            imported: Mutex::default(),
        }
    }

    async fn store(&self) -> Result<&(Arc<DirBlobSource>, BundleCache)> {
        self.store
            .get_or_try_init(|| async {
                let source = Arc::new(DirBlobSource::new(self.root.join("blobs")));
                let config = CacheConfig {
                    dir: self.root.join("cache"),
                    max_bytes: u64::MAX,
                };
                let cache = BundleCache::open(config, source.clone())
                    .await
                    .map_err(Error::Input)?;
                Ok((source, cache))
            })
            .await
    }

    /// A readable copy of `dir` when other users cannot read it; `None` when they can.
    pub async fn readable_copy(&self, dir: &Path) -> Result<Option<BundleLease>> {
        let owned = dir.to_path_buf();
        let private = tokio::task::spawn_blocking(move || !readable_by_others(&owned))
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        if !private {
            return Ok(None);
        }
        let (source, cache) = self.store().await?;
        let mut imported = self.imported.lock().await;
        if !imported.contains_key(dir) {
            tracing::info!(dir = %dir.display(), "the input is private to its owner: copying it for the sandbox users");
            let (source, owned) = (source.clone(), dir.to_path_buf());
            let manifest =
                tokio::task::spawn_blocking(move || source.import_dir(&owned, &Limits::default()))
                    .await
                    .map_err(|e| Error::Io(std::io::Error::other(e)))?
                    .map_err(Error::Input)?;
            imported.insert(dir.to_path_buf(), (manifest.digest(), manifest));
        }
        let (digest, manifest) = imported[dir].clone();
        drop(imported);
        let lease = cache
            .materialize(digest, &manifest)
            .await
            .map_err(Error::Input)?;
        Ok(Some(lease))
    }
}

/// True when every user can reach `dir` (its ancestors searchable) and read all it holds.
fn readable_by_others(dir: &Path) -> bool {
    let searchable =
        |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0);
    let Ok(canonical) = dir.canonicalize() else {
        return false;
    };
    canonical.ancestors().skip(1).all(searchable) && tree_readable(&canonical)
}

fn tree_readable(dir: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(dir) else {
        return false;
    };
    let mode = meta.permissions().mode();
    if meta.is_file() {
        return mode & 0o004 != 0;
    }
    if mode & 0o005 != 0o005 {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| tree_readable(&e.path()))
}
