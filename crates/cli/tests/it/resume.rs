//! Ctrl-C and `aide resume`: a run interrupted with SIGINT after its first reviewed node
//! exits with code 3 and tells how to continue; `aide resume <out>` then completes it with
//! exactly the planned number of nodes and no duplicate step. After a crash (SIGKILL) the
//! resume waits for the dead session's lease to expire first. The same holds for every
//! search policy, and each writes its outputs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use aide_store::RunStatus;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Starts `aide run --steps 4` with `extra` arguments, sends `signal` once the first node
/// is reviewed, and returns the exit status and everything it printed.
fn run_then(out: &Path, signal: Signal, extra: &[&str]) -> (ExitStatus, String) {
    let mut child = aide()
        .args(["run", "examples/diabetes", "--steps", "4", "--out"])
        .arg(out)
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aide");
    let stderr = child.stderr.take().expect("stderr");
    let started = Instant::now();
    let mut seen = String::new();
    let mut lines = BufReader::new(stderr).lines();
    // stderr is not a terminal: one line per event; "✓ 1/4  step 0 …" is the first review.
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(" 1/4 ") && (line.contains('✓') || line.contains('✗')) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no review in time:\n{seen}"
        );
    }
    kill(Pid::from_raw(child.id() as i32), signal).expect("signal");
    for line in lines {
        seen.push_str(&line.expect("read stderr"));
        seen.push('\n');
    }
    let status = child.wait().expect("wait");
    eprintln!("--- stopped session\n{seen}");
    (status, seen)
}

/// Resumes `out` and checks the run completes with exactly 4 distinct steps.
fn resume_completes(out: &Path) -> String {
    let o = run_resume(out);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let (run, nodes) = stored(out);
    assert_eq!(run.status, RunStatus::Completed);
    let mut steps: Vec<u32> = nodes.iter().map(|n| n.step).collect();
    steps.sort_unstable();
    assert_eq!(
        steps,
        vec![0, 1, 2, 3],
        "exactly 4 nodes, no duplicate step"
    );
    assert!(out.join("best_solution.py").is_file());
    err
}

#[test]
fn an_interrupted_run_resumes_to_exactly_its_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (status, seen) = run_then(&out, Signal::SIGINT, &[]);
    assert_eq!(status.code(), Some(3), "{seen}");
    assert!(
        seen.contains(&format!("continue with: aide resume {}", out.display())),
        "{seen}"
    );
    let (run, nodes) = stored(&out);
    assert_eq!(run.status, RunStatus::Running, "resumable");
    assert!(
        !nodes.is_empty() && nodes.len() < 4,
        "{} nodes",
        nodes.len()
    );
    let err = resume_completes(&out);
    assert!(!err.contains("waiting for the previous session"), "{err}");

    // Nothing left to resume: says so and exits with the run's outcome.
    let o = run_resume(&out);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nothing to resume"));
}

#[test]
fn a_crashed_run_resumes_once_its_lease_expired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (status, seen) = run_then(&out, Signal::SIGKILL, &[]);
    assert_eq!(status.code(), None, "killed: {seen}");
    let err = resume_completes(&out);
    assert!(
        err.contains("waiting for the previous session's lease to expire"),
        "{err}"
    );
}

#[test]
fn every_policy_runs_resumes_and_writes_its_outputs() {
    let policies: [(&str, &[&str]); 2] = [
        (
            "mcts",
            &["agent.search.policy=mcts", "agent.search.num_drafts=2"],
        ),
        (
            "evolutionary",
            &[
                "agent.search.policy=evolutionary",
                "agent.search.num_drafts=2",
                "agent.search.debug_prob=0",
                "agent.search.evolutionary.islands=1",
                "agent.search.evolutionary.merge_prob=1",
            ],
        ),
    ];
    for (policy, overrides) in policies {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let (status, seen) = run_then(&out, Signal::SIGINT, overrides);
        assert_eq!(status.code(), Some(3), "{policy}: {seen}");
        resume_completes(&out);
        let (run, nodes) = stored(&out);
        assert_eq!(run.settings.search.policy.as_str(), policy);
        let config = std::fs::read_to_string(out.join("config.json")).expect("config.json");
        assert!(
            config.contains(&format!("\"policy\": \"{policy}\"")),
            "{config}"
        );
        let journal = std::fs::read_to_string(out.join("journal.json")).expect("journal.json");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&journal).expect("journal")["nodes"]
                .as_array()
                .map(Vec::len),
            Some(4),
            "{policy}: {journal}"
        );
        if policy == "evolutionary" {
            // Two good drafts, then every offspring merges them (or their offspring).
            let merges: Vec<_> = nodes
                .iter()
                .filter(|n| n.action == aide_core::Action::Merge)
                .collect();
            assert!(!merges.is_empty(), "{policy}: no merge in {nodes:?}");
            assert!(
                merges
                    .iter()
                    .all(|n| n.partner.is_some() && n.partner != n.parent)
            );
        }
    }
}

fn run_resume(out: &Path) -> std::process::Output {
    run(&["resume", out.to_str().expect("utf-8 path")])
}
