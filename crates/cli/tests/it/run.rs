//! `aide run` as a user runs it: the built binary, no provider keys (the offline baseline),
//! the process sandbox, SQLite in the output directory; the example tasks and the shared
//! house-prices data through the reference implementation's overrides.

use crate::support::*;
use aide_store::RunStatus;

#[test]
fn diabetes_in_four_steps_with_the_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        "examples/diabetes",
        "--steps",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("offline baseline author, which is not an LLM"),
        "{err}"
    );
    for file in [
        "aide.db",
        "best_solution.py",
        "best_submission.csv",
        "journal.json",
        "tree.html",
        "report.md",
    ] {
        assert!(
            out.join(file).is_file(),
            "{file} missing in {}",
            out.display()
        );
    }
    let journal = std::fs::read_to_string(out.join("journal.json")).expect("journal");
    serde_json::from_str::<serde_json::Value>(&journal).expect("journal.json parses");
    let submission = std::fs::read_to_string(out.join("best_submission.csv")).expect("sub");
    assert!(submission.starts_with("id,progression"), "{submission:.40}");
    assert!(
        err.contains("held-back answers (answers.csv): rmse "),
        "no score printed: {err}"
    );
    let (run, nodes) = stored(&out);
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(nodes.len(), 4);
}

#[test]
fn reference_overrides_on_house_prices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = house_prices_dir();
    let data_arg = format!("data_dir={}", data.display());
    let log_dir = format!("log_dir={}", dir.path().display());
    let o = run(&[
        "run",
        &data_arg,
        "goal=Predict the sales price for each house",
        "eval=RMSE between the log of the predicted and the observed price",
        "agent.steps=2",
        "agent.search.num_drafts=2",
        "exec.timeout=300",
        &log_dir,
        "exp_name=hp",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let out = dir.path().join("hp");
    let (run, nodes) = stored(&out);
    assert_eq!(nodes.len(), 2);
    assert_eq!(run.settings.search.num_drafts, 2);
    assert_eq!(run.settings.exec_timeout_secs, 300);
    assert_eq!(
        run.task.input,
        aide_core::task::TaskData::local(data),
        "the data is used in place"
    );
    let copied = walk(&out).into_iter().filter(|p| p.ends_with("train.csv"));
    assert_eq!(copied.count(), 0, "the data must never be copied");
    assert!(out.join("best_solution.py").is_file());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_bad_override_key_is_a_usage_error() {
    let o = run(&["run", "examples/diabetes", "agent.stepz=3"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("agent.stepz") && err.contains("agent.steps"),
        "{err}"
    );
    let o = run(&["run", "examples/diabetes", "agent.steps=many"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("agent.steps=many"));
}

#[test]
fn a_malformed_task_is_a_usage_error_with_the_loaders_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let task = dir.path().join("broken");
    std::fs::create_dir_all(task.join("data")).unwrap();
    std::fs::write(task.join("task.toml"), "name = \"broken\"\ngoal = 3\n").unwrap();
    let expected = aide_core::Task::load(&task)
        .expect_err("broken task")
        .to_string();
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        task.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&expected), "expected {expected:?} in {err}");
    assert!(!out.exists(), "nothing is created for a bad task");
}

#[test]
fn help_documents_flags_and_exit_codes() {
    let o = aide().args(["run", "--help"]).output().expect("spawn");
    let help = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0));
    for needle in [
        "--steps",
        "--workers",
        "--seed",
        "--timeout",
        "--sandbox",
        "--model",
        "--feedback-model",
        "--max-cost",
        "--max-time",
        "--quiet",
        "--out",
        "AIDE_STEPS",
        "agent.steps",
        "Exit codes",
        "3  interrupted",
    ] {
        assert!(help.contains(needle), "{needle} not in help:\n{help}");
    }
}

#[test]
fn a_local_server_without_a_model_is_a_usage_error() {
    let o = aide()
        .args(["run", "examples/diabetes", "--steps", "1"])
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .output()
        .expect("spawn");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--model"), "{err}");
}

#[test]
fn an_output_directory_holding_a_run_is_not_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("aide.db"), b"").unwrap();
    let out = dir.path().to_str().unwrap();
    let o = run(&["run", "examples/diabetes", "--out", out]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("aide resume {out}")), "{err}");
}
