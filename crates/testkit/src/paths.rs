//! Where the tests find the repository and the data they share, resolved from this crate's
//! `CARGO_MANIFEST_DIR` (crates/testkit), so every suite agrees. Data is never copied.

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

fn canonical(dir: PathBuf) -> PathBuf {
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("test data missing at {}: {e}", dir.display()))
}
