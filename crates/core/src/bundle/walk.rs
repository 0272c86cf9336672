//! Walking a directory into a [`Manifest`]: depth first in name order, each entry checked
//! before it is read, each regular file hashed as a stream.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{BundleFile, Limits, Manifest, Sha256Digest};
use crate::{Error, Result};

/// Why a path cannot be part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A symbolic link whose target lies outside the bundle's directory.
    EscapingSymlink {
        target: PathBuf,
    },
    /// Not a regular file or a directory (a FIFO, a socket, a device).
    NotRegular {
        kind: &'static str,
    },
    /// A name that is not UTF-8 or holds a tab or a newline.
    UnusableName,
    TooManyFiles {
        limit: usize,
    },
    FileTooLarge {
        size: u64,
        limit: u64,
    },
    TotalTooLarge {
        limit: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EscapingSymlink { target } => write!(
                f,
                "a symbolic link to {}, outside the task directory",
                target.display()
            ),
            Self::NotRegular { kind } => write!(f, "a {kind}, not a regular file"),
            Self::UnusableName => {
                f.write_str("a name that is not UTF-8 text without tabs or newlines")
            }
            Self::TooManyFiles { limit } => write!(f, "more than {limit} files"),
            Self::FileTooLarge { size, limit } => {
                write!(f, "{size} bytes, over the limit of {limit} per file")
            }
            Self::TotalTooLarge { limit } => write!(f, "the files pass {limit} bytes in all"),
        }
    }
}

/// Read in pieces of this size, so memory stays bounded.
const CHUNK: usize = 64 * 1024;

struct Walk<'a> {
    root: PathBuf,
    limits: &'a Limits,
    files: Vec<BundleFile>,
    total: u64,
    /// Directories entered, canonical, so a link back up cannot loop.
    entered: HashSet<PathBuf>,
}

pub(super) fn manifest_of(dir: &Path, limits: &Limits) -> Result<Manifest> {
    let root = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let mut walk = Walk {
        root: root.clone(),
        limits,
        files: Vec::new(),
        total: 0,
        entered: HashSet::new(),
    };
    let meta = fs::metadata(&root).map_err(|e| Error::io(dir, e))?;
    if meta.is_file() {
        let name = root
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.contains(['\t', '\n']))
            .ok_or_else(|| refused(dir, Refusal::UnusableName))?
            .to_owned();
        walk.file(&root, &name, &meta)?;
    } else {
        walk.directory(&root, "")?;
    }
    walk.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Manifest { files: walk.files })
}

impl Walk<'_> {
    fn directory(&mut self, dir: &Path, prefix: &str) -> Result<()> {
        let canonical = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        if !self.entered.insert(canonical) {
            return Ok(());
        }
        let mut entries: Vec<_> = fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry
                .file_name()
                .to_str()
                .filter(|n| !n.contains(['\t', '\n']))
                .map(str::to_owned)
                .ok_or_else(|| refused(&path, Refusal::UnusableName))?;
            let relative = format!("{prefix}{name}");
            self.entry(&path, &relative)?;
        }
        Ok(())
    }

    fn entry(&mut self, path: &Path, relative: &str) -> Result<()> {
        let own = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        let meta = if own.file_type().is_symlink() {
            self.link_target(path)?
        } else {
            own
        };
        if meta.is_dir() {
            return self.directory(path, &format!("{relative}/"));
        }
        if !meta.is_file() {
            return Err(refused(
                path,
                Refusal::NotRegular {
                    kind: kind_of(&meta),
                },
            ));
        }
        self.file(path, relative, &meta)
    }

    /// The metadata of what the link at `path` points to, when that stays under the root.
    fn link_target(&self, path: &Path) -> Result<Metadata> {
        let target = fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        if !target.starts_with(&self.root) {
            return Err(refused(path, Refusal::EscapingSymlink { target }));
        }
        fs::metadata(&target).map_err(|e| Error::io(path, e))
    }

    fn file(&mut self, path: &Path, relative: &str, meta: &Metadata) -> Result<()> {
        let limits = self.limits;
        if self.files.len() >= limits.max_files {
            let limit = limits.max_files;
            return Err(refused(path, Refusal::TooManyFiles { limit }));
        }
        if meta.len() > limits.max_file_bytes {
            let (size, limit) = (meta.len(), limits.max_file_bytes);
            return Err(refused(path, Refusal::FileTooLarge { size, limit }));
        }
        let (sha256, size) = hash_file(path)?;
        self.total = self.total.saturating_add(size);
        if self.total > limits.max_total_bytes {
            let limit = limits.max_total_bytes;
            return Err(refused(path, Refusal::TotalTooLarge { limit }));
        }
        self.files.push(BundleFile {
            path: relative.to_owned(),
            size,
            sha256,
            executable: meta.permissions().mode() & 0o111 != 0,
        });
        Ok(())
    }
}

/// The sha256 and length of the file at `path`, read in [`CHUNK`]s.
fn hash_file(path: &Path) -> Result<(Sha256Digest, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).map_err(|e| Error::io(path, e))?;
        if read == 0 {
            return Ok((Sha256Digest(hasher.finalize().into()), size));
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
}

fn kind_of(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

fn refused(path: &Path, refusal: Refusal) -> Error {
    Error::InvalidBundle {
        path: path.to_owned(),
        refusal,
    }
}
