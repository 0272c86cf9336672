//! Helpers for the `aide` binary tests: the built binary run with no provider keys in its
//! environment, and a look into the SQLite store of an output directory.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use aide_store::{NodeRecord, NodeStore, RunFilter, RunRecord, RunStore};

/// The built `aide` with a clean environment (PATH and HOME only: no LLM keys).
pub fn aide() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aide"));
    cmd.env_clear().current_dir(aide_testkit::repo_root());
    for var in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd
}

/// Runs `aide` with `args`, echoing its stderr for the test log.
pub fn run(args: &[&str]) -> Output {
    let out = aide().args(args).output().expect("spawn aide");
    eprintln!(
        "$ aide {}\n--- exit {:?}\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A command's standard output, trimmed (a run id, a token).
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub use aide_testkit::house_prices_dir;

/// The run and its nodes stored in `<out>/aide.db`.
pub fn stored(out: &Path) -> (RunRecord, Vec<NodeRecord>) {
    let url = format!("sqlite:{}", out.join("aide.db").display());
    aide_testkit::block_on(async {
        let store = aide_store::connect(&url).await.expect("open the store");
        let runs = store.list_runs(RunFilter::default()).await.expect("runs");
        assert_eq!(runs.len(), 1, "one run per output directory");
        let run = runs.into_iter().next().expect("a run");
        let nodes = store.load_tree(run.id).await.expect("tree");
        (run, nodes)
    })
}
