//! Where a task's files are: [`TaskData`] is either a file or directory on this host (a local
//! `aide run`, a task root on the server) or a bundle in the coordinator's blob store, named
//! by its manifest's digest. [`Answers`] are the held-back answers, kept apart from the data
//! a sandbox sees.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::Sha256Digest;

/// The files behind a task's input or its held-back answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskData {
    /// A directory (or, for answers, a single file) on this host.
    Local { path: PathBuf },
    /// A stored bundle.
    Bundle(BundleRef),
}

/// A stored bundle: its manifest's digest and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    pub digest: Sha256Digest,
    pub files: u64,
    pub bytes: u64,
}

impl TaskData {
    /// Data on this host.
    pub fn local(path: impl Into<PathBuf>) -> Self {
        Self::Local { path: path.into() }
    }

    /// The path on this host, for local data.
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Self::Local { path } => Some(path),
            Self::Bundle(_) => None,
        }
    }

    /// The bundle, for stored data.
    pub fn bundle(&self) -> Option<&BundleRef> {
        match self {
            Self::Bundle(bundle) => Some(bundle),
            Self::Local { .. } => None,
        }
    }
}

/// Held-back answers: the private data and the answers file inside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    /// A directory (the private bundle's root) or, on this host, the answers file itself.
    pub data: TaskData,
    /// The answers file, relative to the private bundle's root.
    pub file: String,
}

impl Answers {
    /// Answers that are one file on this host; the private bundle holds that file alone.
    pub fn local_file(path: PathBuf) -> Self {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "answers.csv".into());
        Self {
            data: TaskData::Local { path },
            file,
        }
    }

    /// The answers file on this host, for local answers: the path itself when it is a file,
    /// else `file` inside it.
    pub fn local_answers_file(&self) -> Option<PathBuf> {
        let path = self.data.local_path()?;
        Some(if path.is_dir() {
            path.join(&self.file)
        } else {
            path.to_path_buf()
        })
    }
}
