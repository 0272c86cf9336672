//! Child processes of the distributed tests: locating (and once building) the other
//! packages' binaries, starting them as [`ChildGuard`]s (killed on drop, output in a log
//! file), and clean-up of the containers a killed runner leaves.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use aide_testkit::ChildGuard;

/// Builds the other packages' binaries once per test process; returns the directory
/// holding the binaries.
pub fn bin_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test executable");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps")
                .to_path_buf();
            let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build
                .args([
                    "build",
                    "-p",
                    "aide-gateway",
                    "-p",
                    "aide-runner",
                    "-p",
                    "aide-cli",
                    "--bins",
                ])
                .arg("--target-dir")
                .arg(&target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            // The variables cargo sets for this test process would look like changes to
            // build scripts that track them (ring tracks CARGO_PKG_NAME, ...) and rebuild
            // half the tree on every alternation between `cargo test` and this build.
            for (name, _) in std::env::vars_os() {
                let name = name.to_string_lossy();
                if name.starts_with("CARGO_PKG_")
                    || name.starts_with("CARGO_BIN_")
                    || name.starts_with("CARGO_MANIFEST_")
                    || [
                        "CARGO_CRATE_NAME",
                        "CARGO_PRIMARY_PACKAGE",
                        "CARGO_TARGET_TMPDIR",
                    ]
                    .contains(&name.as_ref())
                    || name == "OUT_DIR"
                {
                    build.env_remove(name.as_ref());
                }
            }
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("cargo build of gateway and runner");
            assert!(
                status.success(),
                "cargo build -p aide-gateway -p aide-runner -p aide-cli failed"
            );
            profile_dir
        })
        .clone()
}

/// Starts `command` with `RUST_LOG=info`, its output in `<logs>/<name>.log`.
pub(super) fn spawn(name: &str, mut command: Command, logs: &Path) -> ChildGuard {
    ChildGuard::spawn_logged(
        name,
        command
            .env("RUST_LOG", "info")
            .env_remove("AIDE_DATABASE_URL"),
        &logs.join(format!("{name}.log")),
    )
}

/// `program` with `args`.
pub(super) fn command(program: &Path, args: &[String]) -> Command {
    let mut command = Command::new(program);
    command.args(args);
    command
}

/// Removes every container a test runner left (a runner killed with SIGKILL cannot).
pub fn remove_containers(runner_id: &str) {
    let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter"])
        .arg(format!("label=aide.runner={runner_id}"))
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
