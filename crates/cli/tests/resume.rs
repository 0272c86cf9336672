//! Ctrl-C and `aide resume`: a run interrupted with SIGINT after its first reviewed node
//! exits with code 3 and tells how to continue; `aide resume <out>` then completes it with
//! exactly the planned number of nodes and no duplicate step.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aide_store::RunStatus;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::*;

#[test]
fn an_interrupted_run_resumes_to_exactly_its_steps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut child = aide()
        .args(["run", "examples/diabetes", "--steps", "4", "--out"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aide");
    let stderr = child.stderr.take().expect("stderr");
    let started = Instant::now();
    let mut seen = String::new();
    let mut lines = BufReader::new(stderr).lines();
    // stderr is not a terminal: one line per event; "✓ step 1/4" is the first review.
    for line in lines.by_ref() {
        let line = line.expect("read stderr");
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("step 1/4") && (line.contains('✓') || line.contains('✗')) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no review in time:\n{seen}"
        );
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
    for line in lines {
        seen.push_str(&line.expect("read stderr"));
        seen.push('\n');
    }
    let status = child.wait().expect("wait");
    eprintln!("--- interrupted session\n{seen}");
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

    let o = run_resume(&out);
    let err = support::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let (run, nodes) = stored(&out);
    assert_eq!(run.status, RunStatus::Completed);
    let mut steps: Vec<u32> = nodes.iter().map(|n| n.step).collect();
    steps.sort_unstable();
    assert_eq!(
        steps,
        vec![0, 1, 2, 3],
        "exactly 4 nodes, no duplicate step"
    );
    assert!(out.join("best_solution.py").is_file());

    // Nothing left to resume: says so and exits with the run's outcome.
    let o = run_resume(&out);
    assert_eq!(o.status.code(), Some(0));
    assert!(support::stderr(&o).contains("nothing to resume"));
}

fn run_resume(out: &std::path::Path) -> std::process::Output {
    run(&["resume", out.to_str().expect("utf-8 path")])
}
