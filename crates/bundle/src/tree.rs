//! Bundle trees: `bundles/<hex>/` holds exactly a manifest's files as hard links to their
//! blobs. A tree is built in `tmp/` and renamed into place, so it is whole or absent; a tree
//! found on disk is checked against the blobs' stamps before it is used.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use aide_core::bundle::{Manifest, Sha256Digest};

use crate::cache::{Blob, Inner, blob_key};
use crate::error::{Error, IoAt as _, Result};
use crate::layout::{DIR_MODE, Layout, clean_relative, make_dir, set_mode};
use crate::verify::Stamp;

/// A bundle ready to be linked: its manifest and its blobs, in manifest order.
#[derive(Debug)]
pub(crate) struct Built {
    digest: Sha256Digest,
    manifest: Arc<Manifest>,
    blobs: Vec<Blob>,
}

impl Built {
    pub fn new(digest: Sha256Digest, manifest: Arc<Manifest>, blobs: Vec<Blob>) -> Self {
        Self {
            digest,
            manifest,
            blobs,
        }
    }
}

/// Whether the bundle's tree exists and still links exactly the intact blobs. The first
/// check of a bundle in this process verifies its blobs (see [`crate::verify`]) and counts
/// its files; later ones compare stamps only.
pub(crate) async fn is_intact(
    inner: &Arc<Inner>,
    digest: Sha256Digest,
    manifest: &Manifest,
) -> Result<bool> {
    let dir = inner.layout.bundle(&digest);
    if !tokio::fs::try_exists(&dir).await.at(&dir)? {
        return Ok(false);
    }
    let (first, known) = {
        let state = inner.state();
        let known: Option<Vec<Stamp>> = manifest
            .files
            .iter()
            .map(|f| state.stamps.get(&blob_key(f)).copied())
            .collect();
        (!state.checked.contains(&digest), known)
    };
    let stamps = match known {
        Some(stamps) if !first => stamps,
        _ => {
            let blobs = inner.ensure_blobs(manifest).await?;
            blobs.into_iter().map(|b| b.stamp).collect()
        }
    };
    let files: Vec<_> = manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), blob_key(f).mode()))
        .collect();
    let intact = tokio::task::spawn_blocking(move || -> Result<bool> {
        for ((path, mode), stamp) in files.iter().zip(&stamps) {
            let path = dir.join(clean_relative(path)?);
            let Ok(meta) = fs::symlink_metadata(&path) else {
                return Ok(false);
            };
            if !meta.is_file() || Stamp::of(&meta) != *stamp || meta.mode() & 0o7777 != *mode {
                return Ok(false);
            }
        }
        Ok(!first || count_files(&dir)? == Some(files.len()))
    })
    .await??;
    if intact {
        inner.state().checked.insert(digest);
    } else {
        tracing::warn!(bundle = %digest, "cached bundle tree does not match its blobs; rebuilding it");
    }
    Ok(intact)
}

/// Links the bundle's tree in `tmp/` and renames it into place, replacing a stale one.
pub(crate) fn build(layout: &Layout, built: &Built) -> Result<()> {
    let dest = layout.bundle(&built.digest);
    if dest.exists() {
        remove_tree(layout, &dest)?;
    }
    let tmp_root = layout.tmp();
    let tmp = tempfile::Builder::new()
        .prefix("bundle-")
        .tempdir_in(&tmp_root)
        .at(&tmp_root)?;
    set_mode(tmp.path(), DIR_MODE)?;
    let mut made = HashSet::new();
    for (file, blob) in built.manifest.files.iter().zip(&built.blobs) {
        let rel = clean_relative(&file.path)?;
        if let Some(parent) = rel.parent() {
            let mut dirs: Vec<&Path> = parent
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .collect();
            dirs.reverse();
            for dir in dirs {
                if made.insert(dir.to_owned()) {
                    make_dir(&tmp.path().join(dir))?;
                }
            }
        }
        let source = layout.blob(blob_key(file));
        let link = tmp.path().join(rel);
        fs::hard_link(&source, &link).at(&link)?;
        if Stamp::of(&fs::symlink_metadata(&link).at(&link)?) != blob.stamp {
            return Err(Error::Io {
                path: source,
                source: std::io::Error::other("the blob changed while its bundle was being linked"),
            });
        }
    }
    fs::rename(tmp.path(), &dest).at(&dest)?;
    let _kept = tmp.keep();
    Ok(())
}

/// Records a use of the bundle: its directory's mtime is its place in the eviction order.
pub(crate) fn touch(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.set_modified(SystemTime::now()))
        .at(dir)
}

/// Moves a tree out of `bundles/` at once (a rename), then deletes it.
pub(crate) fn remove_tree(layout: &Layout, dir: &Path) -> Result<()> {
    let aside = detach(layout, dir)?;
    fs::remove_dir_all(&aside).at(&aside)
}

/// Renames a tree into `tmp/`, where a crash before its deletion leaves it for the next open.
pub(crate) fn detach(layout: &Layout, dir: &Path) -> Result<std::path::PathBuf> {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let aside = layout.tmp().join(format!("old-{name}-{nanos}"));
    fs::rename(dir, &aside).at(dir)?;
    Ok(aside)
}

/// The number of regular files under `dir`; `None` when it holds anything but files and
/// directories.
fn count_files(dir: &Path) -> Result<Option<usize>> {
    let mut count = 0;
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let kind = entry.file_type().at(&entry.path())?;
        if kind.is_file() {
            count += 1;
        } else if kind.is_dir() {
            match count_files(&entry.path())? {
                Some(n) => count += n,
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        }
    }
    Ok(Some(count))
}
