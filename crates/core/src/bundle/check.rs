//! Checking a manifest that arrived from elsewhere (a client, the coordinator) before anything
//! acts on it: every path must be one a walk of a real directory could have produced.

use std::collections::HashSet;
use std::fmt;

use super::{BundleFile, Limits, Manifest};

/// Why a manifest from the wire is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// A path that is empty, absolute, holds `.`/`..`/empty components, a NUL, a tab, a
    /// newline or a backslash.
    BadPath { path: String },
    /// The same path twice, or a path that is both a file and a directory of another file.
    Clash { path: String },
    /// More files or bytes than the limits allow.
    TooLarge { what: String },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPath { path } => {
                write!(f, "manifest path {path:?} is not a clean relative path")
            }
            Self::Clash { path } => write!(
                f,
                "manifest path {path:?} appears twice or is also a directory"
            ),
            Self::TooLarge { what } => write!(f, "manifest too large: {what}"),
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// A manifest from entries received over the wire: paths checked, sizes bounded by
    /// `limits`, entries sorted by path so the digest does not depend on their order.
    pub fn from_files(mut files: Vec<BundleFile>, limits: &Limits) -> Result<Self, ManifestError> {
        if files.len() > limits.max_files {
            return Err(ManifestError::TooLarge {
                what: format!(
                    "{} files, over the limit of {}",
                    files.len(),
                    limits.max_files
                ),
            });
        }
        let mut total: u64 = 0;
        for file in &files {
            if !is_clean_relative(&file.path) {
                return Err(ManifestError::BadPath {
                    path: file.path.clone(),
                });
            }
            if file.size > limits.max_file_bytes {
                return Err(ManifestError::TooLarge {
                    what: format!(
                        "{} is {} bytes, over the limit of {}",
                        file.path, file.size, limits.max_file_bytes
                    ),
                });
            }
            total = total.saturating_add(file.size);
        }
        if total > limits.max_total_bytes {
            return Err(ManifestError::TooLarge {
                what: format!(
                    "{total} bytes in all, over the limit of {}",
                    limits.max_total_bytes
                ),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        check_no_clash(&files)?;
        Ok(Self { files })
    }
}

/// True for `a/b/c` style paths with no empty, `.` or `..` component and no byte a walk
/// refuses.
pub(super) fn is_clean_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\0', '\t', '\n', '\\'])
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Each path once, and no file path that is also a parent directory of another entry.
fn check_no_clash(sorted: &[BundleFile]) -> Result<(), ManifestError> {
    let paths: HashSet<&str> = sorted.iter().map(|f| f.path.as_str()).collect();
    if paths.len() != sorted.len() {
        let dup = sorted
            .windows(2)
            .find(|w| w[0].path == w[1].path)
            .map(|w| w[0].path.clone());
        return Err(ManifestError::Clash {
            path: dup.unwrap_or_default(),
        });
    }
    for file in sorted {
        let mut prefix = file.path.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if paths.contains(parent) {
                return Err(ManifestError::Clash {
                    path: parent.to_owned(),
                });
            }
            prefix = parent;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Sha256Digest;

    fn file(path: &str) -> BundleFile {
        BundleFile {
            path: path.into(),
            size: 1,
            sha256: Sha256Digest([0; 32]),
            executable: false,
        }
    }

    #[test]
    fn wire_manifests_are_sorted_and_keep_their_digest() {
        let a =
            Manifest::from_files(vec![file("b.csv"), file("a/x.csv")], &Limits::default()).unwrap();
        let b =
            Manifest::from_files(vec![file("a/x.csv"), file("b.csv")], &Limits::default()).unwrap();
        assert_eq!(a.files[0].path, "a/x.csv");
        assert_eq!(a.digest(), b.digest());
    }

    #[test]
    fn unclean_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\tb",
            "a\\b",
            "a\0",
        ] {
            let err = Manifest::from_files(vec![file(bad)], &Limits::default()).unwrap_err();
            assert!(
                matches!(err, ManifestError::BadPath { .. }),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn duplicates_and_file_directory_clashes_are_refused() {
        let dup = Manifest::from_files(vec![file("a"), file("a")], &Limits::default());
        assert_eq!(dup.unwrap_err(), ManifestError::Clash { path: "a".into() });
        let clash = Manifest::from_files(vec![file("a"), file("a/b")], &Limits::default());
        assert_eq!(
            clash.unwrap_err(),
            ManifestError::Clash { path: "a".into() }
        );
    }

    #[test]
    fn limits_bound_count_and_bytes() {
        let tight = Limits {
            max_files: 1,
            max_file_bytes: 1,
            max_total_bytes: 1,
        };
        assert!(matches!(
            Manifest::from_files(vec![file("a"), file("b")], &tight),
            Err(ManifestError::TooLarge { .. })
        ));
        let mut big = file("a");
        big.size = 2;
        assert!(matches!(
            Manifest::from_files(vec![big], &tight),
            Err(ManifestError::TooLarge { .. })
        ));
    }
}
