//! The real `aide-runner` binary's configuration: `--print-config` shows the layers
//! file < environment < flag (historical variable names included), and a misspelt file
//! key is refused by name and line with exit code 2.

use std::path::Path;
use std::process::Output;

fn print_config(config: &Path, env: &[(&str, &str)], flags: &[&str]) -> Output {
    aide_testkit::binary::print_config(env!("CARGO_BIN_EXE_aide-runner"), config, env, flags)
}

#[test]
fn print_config_layers_file_env_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("runner.toml");
    std::fs::write(
        &path,
        "slots = 3\nbackend = \"process\"\n[limits]\ntimeout_secs = 60\n[docker]\nimage = \"mine:1\"\n",
    )
    .expect("write");
    let file_only = aide_testkit::binary::success_stdout(&print_config(&path, &[], &[]));
    for line in [
        "slots = 3",
        "backend = \"process\"",
        "timeout_secs = 60",
        "image = \"mine:1\"",
        "pids = 256",
    ] {
        assert!(file_only.contains(line), "{line}: {file_only}");
    }
    let env = [
        ("AIDE_RUNNER_SLOTS", "4"),
        ("AIDE_RUNNER_TIMEOUT_SECS", "70"),
        ("AIDE_COORDINATOR_ADDR", "http://coordinator:50051"),
    ];
    let text = aide_testkit::binary::success_stdout(&print_config(&path, &env, &["--slots", "5"]));
    assert!(text.contains("slots = 5"), "flag over env: {text}");
    assert!(text.contains("timeout_secs = 70"), "env over file: {text}");
    assert!(
        text.contains("coordinator = \"http://coordinator:50051\""),
        "{text}"
    );
    assert!(
        text.contains("image = \"mine:1\""),
        "the file stays under: {text}"
    );
}

#[test]
fn a_misspelt_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("runner.toml");
    std::fs::write(&path, "slots = 1\n[limits]\ntimeout = 5\n").expect("write");
    let output = print_config(&path, &[], &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("timeout") && stderr.contains("line 3"),
        "{stderr}"
    );
}
