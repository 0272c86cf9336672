//! Returning the files a script produced: the submission first, then `collect_globs`
//! matches under `working/`, regular files only (no symlinks, nothing outside `working/`),
//! each cut at a size limit and all together under a total budget.

use std::{
    fs,
    io::Read,
    path::{Component, Path},
};

use aide_proto::v1::CollectedFile;

use crate::{Error, Result};

/// Most files returned by one execution.
pub const MAX_FILES: usize = 64;

/// Checks that a pattern or file name stays inside `working/`.
pub fn validate_relative(pattern: &str) -> Result<()> {
    let path = Path::new(pattern);
    if pattern.is_empty()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Error::InvalidRequest(format!(
            "{pattern:?} must be a relative path inside working/"
        )));
    }
    glob::Pattern::new(pattern)
        .map(|_| ())
        .map_err(|e| Error::InvalidRequest(format!("bad glob {pattern:?}: {e}")))
}

/// What an execution returns from `working/`: the submission, glob matches, and the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectSpec {
    /// The submission file (relative; empty: none).
    pub submission: String,
    /// Further patterns (relative).
    pub globs: Vec<String>,
    /// Largest file returned, bytes (longer files are cut).
    pub max_file: u64,
    /// All files together, bytes.
    pub max_total: u64,
}

/// Collects `submission` (when non-empty and present) and the files matching `globs`.
pub fn collect(
    working: &Path,
    submission: &str,
    globs: &[String],
    max_file: u64,
    max_total: u64,
) -> Vec<CollectedFile> {
    let Ok(root) = fs::canonicalize(working) else {
        return Vec::new();
    };
    let matches = globs
        .iter()
        .map(|pattern| {
            let full = format!(
                "{}/{pattern}",
                glob::Pattern::escape(&root.to_string_lossy())
            );
            let Ok(paths) = glob::glob(&full) else {
                return Vec::new();
            };
            paths
                .flatten()
                .filter_map(|p| {
                    p.strip_prefix(&root)
                        .ok()
                        .map(|r| r.to_string_lossy().into_owned())
                })
                .collect()
        })
        .collect();
    let mut budget = Budget::new(max_file, max_total);
    let mut files = Vec::new();
    for name in select(submission, matches) {
        if let Some(file) = read_capped(&root, &name, budget.cap()) {
            budget.spend(&file);
            files.push(file);
        }
    }
    files
}

/// The names to read, in order: the submission first, then each pattern's matches sorted,
/// without repeats, at most [`MAX_FILES`]. `matches[i]` holds the names pattern `i` matched
/// (relative to `working/`, any order).
pub fn select(submission: &str, matches: Vec<Vec<String>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    if !submission.is_empty() {
        names.push(submission.to_string());
    }
    for mut matched in matches {
        matched.sort();
        for m in matched {
            if !names.contains(&m) {
                names.push(m);
            }
        }
    }
    names.truncate(MAX_FILES);
    names
}

/// Whether `name` (relative to `working/`) matches `pattern` the way [`collect`]'s
/// directory walk does: `*` and `?` stay inside one path component, `**` crosses them, and
/// a leading dot needs no literal dot.
pub fn matches(pattern: &glob::Pattern, name: &str) -> bool {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    pattern.matches_with(name, options)
}

/// The size limits of one collection: each file is cut at `max_file`, and the files read
/// so far use up `max_total`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    max_file: u64,
    left: u64,
}

impl Budget {
    /// A fresh budget.
    pub fn new(max_file: u64, max_total: u64) -> Self {
        Self {
            max_file,
            left: max_total,
        }
    }

    /// Most bytes the next file may return.
    pub fn cap(&self) -> u64 {
        self.max_file.min(self.left)
    }

    /// Accounts for a file returned.
    pub fn spend(&mut self, file: &CollectedFile) {
        self.left = self.left.saturating_sub(file.content.len() as u64);
    }
}

/// Reads one regular file under `root`, refusing symlinks anywhere on its path.
fn read_capped(root: &Path, name: &str, cap: u64) -> Option<CollectedFile> {
    let path = root.join(name);
    // Every component below root must be a real directory/file, never a symlink.
    let mut cur = root.to_path_buf();
    for comp in Path::new(name).components() {
        cur.push(comp);
        if fs::symlink_metadata(&cur).ok()?.file_type().is_symlink() {
            return None;
        }
    }
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let mut content = Vec::new();
    fs::File::open(&path)
        .ok()?
        .take(cap)
        .read_to_end(&mut content)
        .ok()?;
    let size = meta.len();
    Some(CollectedFile {
        path: name.to_string(),
        truncated: (content.len() as u64) < size,
        content,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_first_globs_sorted_symlinks_refused_caps_applied() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path();
        fs::write(w.join("submission.csv"), "id,y\n1,2\n").unwrap();
        fs::write(w.join("b.txt"), "bbbbbbbbbb").unwrap();
        fs::write(w.join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", w.join("c.txt")).unwrap();
        let globs = vec!["*.txt".to_string(), "submission.csv".to_string()];
        let files = collect(w, "submission.csv", &globs, 4, 100);
        let names: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["submission.csv", "a.txt", "b.txt"]);
        assert!(files[0].truncated && files[0].size == 9 && files[0].content == b"id,y");
        assert!(!files[1].truncated);
    }

    #[test]
    fn listing_matches_follow_the_walk() {
        let p = |s| glob::Pattern::new(s).unwrap();
        assert!(matches(&p("*.csv"), "a.csv") && matches(&p("*.csv"), ".h.csv"));
        assert!(!matches(&p("*.csv"), "d/a.csv"));
        assert!(matches(&p("**/*.csv"), "d/e/a.csv") && matches(&p("out/*"), "out/x"));
        let picked = select("s.csv", vec![vec!["b".into(), "s.csv".into(), "a".into()]]);
        assert_eq!(picked, ["s.csv", "a", "b"]);
    }

    #[test]
    fn patterns_must_stay_inside() {
        assert!(validate_relative("../x").is_err());
        assert!(validate_relative("/etc/*").is_err());
        assert!(validate_relative("out/*.png").is_ok());
    }
}
