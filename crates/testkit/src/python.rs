//! The Python a test's process-backend runner gives its scripts: `AIDE_TEST_PYTHON` when set;
//! otherwise `python3` from `PATH` when the tests are not root; as root the runner drops
//! scripts to sandbox uids that cannot read a pyenv under `/root`, so a world-readable
//! virtualenv is built once from `/usr/bin/python3` (numpy, pandas, scikit-learn, lightgbm,
//! from the sandbox image's wheel cache when present) under `/var/tmp` and reused by every
//! later test process. [`require_modules`] is the require rule for the host's `python3`
//! and the modules a test runs it with.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

static PYTHON: OnceLock<String> = OnceLock::new();

/// The interpreter for the process backend (see the module docs); built at most once per
/// test process.
pub fn sandbox_python() -> String {
    PYTHON.get_or_init(find_python).clone()
}

fn find_python() -> String {
    if let Ok(p) = std::env::var("AIDE_TEST_PYTHON") {
        return p;
    }
    if !crate::is_root() {
        return "python3".into();
    }
    let venv = PathBuf::from("/var/tmp/aide-coordinator-test-venv");
    let python = venv.join("bin/python3");
    if venv.join(".ready").exists() {
        return python.to_string_lossy().into_owned();
    }
    let building = PathBuf::from(format!("{}.{}", venv.display(), std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    run(Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(&building));
    let mut pip = Command::new(building.join("bin/pip"));
    pip.args(["install", "-q"]);
    let wheels = Path::new("/var/cache/aide-sandbox/wheels/cp311-amd64");
    if wheels.is_dir() {
        pip.arg("--no-index").arg("--find-links").arg(wheels);
    }
    run(pip.args(["numpy", "pandas", "scikit-learn", "lightgbm"]));
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&building));
    std::fs::write(building.join(".ready"), b"ok").expect("marker");
    if std::fs::rename(&building, &venv).is_err() {
        // Another test process won the race; use its venv.
        let _ = std::fs::remove_dir_all(&building);
    }
    python.to_string_lossy().into_owned()
}

/// `Some(())` when the host's `python3` imports `modules` (`"numpy, sklearn"`); otherwise
/// the require rule: a failure under `CI`, a loud skip elsewhere, naming `install` (how to
/// get them).
pub fn require_modules(modules: &str, install: &str) -> Option<()> {
    let found = Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .map_err(|e| e.to_string())
        .and_then(|out| match out.status.success() {
            true => Ok(()),
            false => Err(format!("`import {modules}` failed")),
        });
    crate::require::require(&format!("python3 with {modules} ({install})"), found)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "building the test venv failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
