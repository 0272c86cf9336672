//! A service binary's `--print-config` run the way a user runs it: a clean environment
//! with only the given variables, a `--config` file and extra flags.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `program --config <config> <flags…> --print-config` with only `env` set.
pub fn print_config(program: &str, config: &Path, env: &[(&str, &str)], flags: &[&str]) -> Output {
    Command::new(program)
        .env_clear()
        .envs(env.iter().copied())
        .arg("--config")
        .arg(config)
        .args(flags)
        .arg("--print-config")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// The standard output of a run that must have succeeded.
pub fn success_stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
