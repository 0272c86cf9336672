//! Where the preview reads the files it describes. A directory on this host reads them in
//! place ([`InPlace`]); a listing of files held elsewhere (a stored bundle) hands the preview
//! a local copy of each described file's first bytes only, fetched when the preview asks
//! ([`HeadSource`]), so a preview of a 10 GB dataset moves a few megabytes.

use std::path::{Path, PathBuf};

/// Bytes of a delimited table the preview asks for: its first rows are profiled, and the
/// rest of the rows are estimated from the file's real size.
pub const TABLE_HEAD_BYTES: u64 = 16 << 20;

/// A local copy of (the start of) a described file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub path: PathBuf,
    /// The copy holds the whole file.
    pub complete: bool,
}

/// Gives the preview the files it describes.
pub trait HeadSource {
    /// A local file with at least the first `wanted` bytes of `rel_path` (all of it when it
    /// is shorter); a source may give more.
    fn head(&self, rel_path: &str, wanted: u64) -> std::io::Result<Head>;
}

/// The files of a directory on this host, read in place and whole.
#[derive(Debug, Clone)]
pub struct InPlace<'a>(pub &'a Path);

impl HeadSource for InPlace<'_> {
    fn head(&self, rel_path: &str, _wanted: u64) -> std::io::Result<Head> {
        Ok(Head {
            path: self.0.join(rel_path),
            complete: true,
        })
    }
}
