//! File mechanics of the outputs directory: atomic writes (temp file in the same directory,
//! then rename), the best-node marker, and safe names for the best submission.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

use crate::Error;

/// Prefix of temp files; a reader listing the directory can ignore them.
const TEMP_PREFIX: &str = ".aide-tmp-";

fn output_error(path: &Path, source: std::io::Error) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| output_error(dir, e))
}

/// Writes `bytes` to `path` so a reader sees either the old content or the new, never a
/// part: a temp file next to it is written, flushed to disk, then renamed over `path`.
/// The temp file is removed when anything fails.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        output_error(path, e)
    })
}

/// Removes temp files a crashed writer left behind (older than `STALE_TEMP`); best effort.
pub(super) fn remove_stale_temps(dir: &Path) {
    const STALE_TEMP: std::time::Duration = std::time::Duration::from_secs(600);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_temp = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX);
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if is_temp && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

pub(super) fn remove_if_exists(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(output_error(path, e)),
        _ => Ok(()),
    }
}

/// Pretty JSON with a final newline. Serialising a `Value` cannot fail.
pub(super) fn pretty_json(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    text.push('\n');
    text
}

/// What `best.json` records about the files of the best node.
#[derive(Debug, Deserialize)]
pub(super) struct BestMarker {
    pub node_id: aide_core::NodeId,
    pub submission_file: Option<String>,
}

/// The marker of an earlier refresh; `None` when absent or unreadable.
pub(super) fn read_marker(path: &Path) -> Option<BestMarker> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The name the best submission is written under: `best_` + the final component of the
/// task's submission file name, reduced to characters safe in any file system.
pub(super) fn best_submission_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let clean = clean.trim_start_matches('.');
    if clean.is_empty() {
        "best_submission".into()
    } else {
        format!("best_{clean}")
    }
}

/// A name `best.json` may point at that stays inside the directory.
pub(super) fn is_plain_file_name(name: &str) -> bool {
    name.starts_with("best_") && !name.contains(['/', '\\']) && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_names_stay_inside_the_directory() {
        assert_eq!(
            best_submission_name("submission.csv"),
            "best_submission.csv"
        );
        assert_eq!(
            best_submission_name("../../etc/passwd"),
            "best_passwd".to_string()
        );
        assert_eq!(best_submission_name("a b.csv"), "best_a_b.csv");
        assert_eq!(best_submission_name(".."), "best_submission");
        assert_eq!(best_submission_name(""), "best_submission");
        assert!(is_plain_file_name("best_submission.csv"));
        assert!(!is_plain_file_name("journal.json"));
        assert!(!is_plain_file_name("best_../x"));
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        write_atomic(&path, b"one").expect("write");
        write_atomic(&path, b"two").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.txt")]);
    }

    #[test]
    fn only_old_temp_files_are_cleaned_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join(format!("{TEMP_PREFIX}1-0-journal.json"));
        let fresh = dir.path().join(format!("{TEMP_PREFIX}1-1-tree.html"));
        std::fs::write(&old, "half").expect("write");
        std::fs::write(&fresh, "half").expect("write");
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(an_hour_ago))
            .expect("age the file");
        remove_stale_temps(dir.path());
        assert!(!old.exists());
        assert!(
            fresh.exists(),
            "a concurrent write in progress is left alone"
        );
    }
}
