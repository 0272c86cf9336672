//! Where the tests find the repository and the data they share, resolved from this crate's
//! `CARGO_MANIFEST_DIR` (crates/testkit), so every suite agrees; shared data is never copied into
//! the repository ([`copy_tree`] makes a test's scratch copy).

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/data/<name>` next to the repository, canonical; panics when it is missing.
pub fn shared_data(name: &str) -> PathBuf {
    canonical(repo_root().join("../shared/data").join(name))
}

/// The shared house-prices data: `AIDE_TEST_HOUSE_PRICES` when set, else
/// `../shared/data/house_prices`.
pub fn house_prices_dir() -> PathBuf {
    match std::env::var_os("AIDE_TEST_HOUSE_PRICES") {
        Some(dir) => canonical(PathBuf::from(dir)),
        None => shared_data("house_prices"),
    }
}

/// The example task `examples/<name>` of the repository, canonical.
pub fn example_dir(name: &str) -> PathBuf {
    canonical(repo_root().join("examples").join(name))
}

/// Copies the tree at `from` to `to` (a test's own scratch copy of a task).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("read the directory") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

fn canonical(dir: PathBuf) -> PathBuf {
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("test data missing at {}: {e}", dir.display()))
}
