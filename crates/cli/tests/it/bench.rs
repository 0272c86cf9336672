//! `aide bench` on this machine: a 3 task × 2 seed × 2 arm sweep with the baseline author
//! (two example tasks and a synthetic MLE-bench competition with a leaderboard) whose client
//! is killed mid-sweep and resumed, every cell graded exactly once; its report and its
//! MLE-bench export; grading commands (a score, a hang); an invalid submission graded
//! "invalid"; and bad input refused before anything starts, naming what is wrong.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use aide_core::sweep::{CellStatus, SweepStatus};
use aide_store::{RunStatus, RunStore, SweepRecord, SweepStore};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

/// The sweep of `<data>/bench.db` (the only one) with its cells.
fn sweep_of(data: &Path) -> Option<(SweepRecord, Vec<aide_store::CellRecord>)> {
    let url = format!("sqlite:{}", data.join("bench.db").display());
    aide_testkit::block_on(async {
        let store = aide_store::connect(&url).await.ok()?;
        let sweep = store.list_sweeps(None, 10).await.ok()?.into_iter().next()?;
        let cells = store.list_cells(sweep.id).await.ok()?;
        Some((sweep, cells))
    })
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

#[test]
fn an_embedded_sweep_survives_a_killed_client_and_grades_every_cell_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = aide_testkit::mlebench::sweep_spec(dir.path(), "2", "{ steps = 3 }", 2);
    let data = dir.path().join("bench");
    let data_arg = data.display().to_string();
    let mut client = aide()
        .args(["bench", "--data-dir", &data_arg, "--slots", "2", "run"])
        .arg(&spec)
        .stderr(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn aide bench");
    // Kill the client (and with it the services it runs) once a few cells are graded.
    let started = Instant::now();
    loop {
        let graded = sweep_of(&data).map_or(0, |(s, _)| s.cells.graded);
        if graded >= 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no cells graded in time"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    kill(Pid::from_raw(client.id() as i32), Signal::SIGKILL).expect("kill");
    client.wait().expect("wait");
    let (sweep, _) = sweep_of(&data).expect("the sweep is stored");
    assert_eq!(sweep.status, SweepStatus::Running);
    assert!(sweep.cells.finished() < 12, "killed mid-sweep");

    let id = sweep.id.to_string();
    let out = run(&[
        "bench",
        "--data-dir",
        &data_arg,
        "--slots",
        "2",
        "resume",
        &id,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("completed"), "{}", stderr(&out));

    let (sweep, cells) = sweep_of(&data).expect("sweep");
    assert_eq!(sweep.status, SweepStatus::Completed);
    assert_eq!(cells.len(), 12);
    for cell in &cells {
        assert_eq!(cell.status, CellStatus::Graded, "{cell:?}");
        assert_eq!(cell.attempts, 1, "each cell ran once: {cell:?}");
        let grade = cell.grade.as_ref().expect("grade");
        assert!(grade.valid && grade.score.is_some(), "{cell:?}");
    }
    // One run per cell, each completed: the killed session's runs were taken over.
    let url = format!("sqlite:{}", data.join("bench.db").display());
    let runs = aide_testkit::block_on(async {
        let store = aide_store::connect(&url).await.expect("store");
        store
            .list_runs(aide_store::RunFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("runs")
    });
    let of_sweep: Vec<_> = runs
        .iter()
        .filter(|r| r.sweep_id == Some(sweep.id))
        .collect();
    assert_eq!(of_sweep.len(), 12);
    assert!(of_sweep.iter().all(|r| r.status == RunStatus::Completed));
    // The competition is placed on its leaderboard.
    let ranked = cells
        .iter()
        .filter(|c| c.grade.as_ref().is_some_and(|g| g.above_median.is_some()))
        .count();
    assert_eq!(ranked, 4, "the competition's 4 cells have a median to beat");

    report_and_export(&data_arg, &id, dir.path());
}

/// The report (every format, a plot per task) and the MLE-bench export, read back.
fn report_and_export(data: &str, id: &str, dir: &Path) {
    let reports = dir.join("report");
    let reports_arg = reports.display().to_string();
    let out = run(&[
        "bench",
        "--data-dir",
        data,
        "report",
        id,
        "--format",
        "json",
        "--out",
        &reports_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json report");
    assert_eq!(report["arms"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["tasks"].as_array().map(Vec::len), Some(6));
    for arm in report["arms"].as_array().expect("arms") {
        assert_eq!(arm["valid_pct"]["mean"].as_f64(), Some(100.0), "{arm}");
    }
    let markdown = std::fs::read_to_string(reports.join("report.md")).expect("report.md");
    assert!(markdown.contains("| synthetic-clf | long |"), "{markdown}");
    for task in ["diabetes", "breast-cancer", "synthetic-clf"] {
        let svg = std::fs::read_to_string(reports.join(format!("score-by-step-{task}.svg")))
            .expect("plot");
        assert!(svg.contains("<polyline"), "{task}: {svg}");
    }
    let export = dir.join("export");
    let export_arg = export.display().to_string();
    let out = run(&[
        "bench",
        "--data-dir",
        data,
        "export",
        id,
        "--mlebench",
        &export_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let jsonl = std::fs::read_to_string(export.join("submissions.jsonl")).expect("jsonl");
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 12);
    for line in &lines {
        let competition = line["competition_id"].as_str().expect("competition_id");
        let path = line["submission_path"].as_str().expect("submission_path");
        assert!(Path::new(path).is_file(), "{competition}: {path} exists");
        assert_eq!(line.as_object().map(|o| o.len()), Some(2), "{line}");
    }
    for arm in ["short", "long"] {
        let per_arm = std::fs::read_to_string(export.join(format!("{arm}.jsonl"))).expect("arm");
        assert_eq!(per_arm.lines().count(), 6);
    }
}

#[test]
fn grading_commands_score_or_time_out_and_a_misshapen_submission_is_invalid() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A task whose sample submission names other ids than test.csv: the baseline's
    // submission follows test.csv, so it does not have the sample's shape.
    let misshapen = dir.path().join("misshapen");
    aide_testkit::copy_tree(&aide_testkit::example_dir("diabetes"), &misshapen);
    let sample = misshapen.join("data/sample_submission.csv");
    let text = std::fs::read_to_string(&sample).expect("sample");
    let shifted: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| match (i, line.split_once(',')) {
            (0, _) | (_, None) => format!("{line}\n"),
            (_, Some((id, rest))) => format!("9{id},{rest}\n"),
        })
        .collect();
    write(&sample, &shifted);
    write(
        &dir.path().join("grade_ok.py"),
        "import json, pandas as pd\n\
         sub = pd.read_csv('input/submission.csv')\n\
         ans = pd.read_csv('input/answers.csv')\n\
         json.dump({'score': float(len(sub)) / len(ans)}, open('working/grade.json', 'w'))\n",
    );
    write(
        &dir.path().join("grade_hang.py"),
        "import time\ntime.sleep(3600)\n",
    );
    let spec = dir.path().join("spec.toml");
    let diabetes = aide_testkit::example_dir("diabetes");
    write(
        &spec,
        &format!(
            r#"seeds = 1
[settings]
steps = 1
[[tasks]]
path = "misshapen"
[[tasks]]
name = "scored-by-command"
path = "{diabetes}"
grader = "grade_ok.py"
[[tasks]]
name = "hanging-grader"
path = "{diabetes}"
grader = "grade_hang.py"
grader_timeout_secs = 12
[budget]
cells_at_once = 3
"#,
            diabetes = diabetes.display()
        ),
    );
    let data = dir.path().join("bench").display().to_string();
    let out = aide()
        .args(["bench", "--data-dir", &data, "--slots", "2", "run"])
        .arg(&spec)
        .output()
        .expect("aide bench");
    let err = stderr(&out);
    eprintln!("{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    let (_, cells) = sweep_of(Path::new(&data)).expect("sweep");
    let by_task = |i: u32| cells.iter().find(|c| c.key.task == i).expect("cell");
    let misshapen = by_task(0);
    assert_eq!(misshapen.status, CellStatus::Graded, "{misshapen:?}");
    let grade = misshapen.grade.as_ref().expect("grade");
    assert!(grade.submitted && !grade.valid, "{grade:?}");
    assert!(
        grade.problem.as_deref().is_some_and(|p| p.contains("id")),
        "{grade:?}"
    );
    let scored = by_task(1);
    assert_eq!(
        scored.grade.as_ref().and_then(|g| g.score),
        Some(1.0),
        "{scored:?}"
    );
    let hanging = by_task(2);
    assert_eq!(hanging.status, CellStatus::Failed);
    assert!(
        hanging
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("timed out after 12 s")),
        "{hanging:?}"
    );
    assert!(
        err.contains("hanging-grader"),
        "the failure is shown: {err}"
    );
}

#[test]
fn bad_specs_are_refused_before_anything_starts_naming_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mle = dir.path().join("mle");
    let comp = aide_testkit::mlebench::competition(&mle, "no-board", 20);
    std::fs::remove_file(comp.join("leaderboard.csv")).expect("remove leaderboard");
    let cases: [(&str, &str); 4] = [
        ("seeds = 1\n[[tasks]]\npath = \"x\"\ncolour = 3\n", "colour"),
        (
            "seeds = 1\n[mlebench]\ndata_dir = \"mle\"\ncompetitions = [\"nope\"]\n",
            "unknown MLE-bench competition \"nope\"",
        ),
        (
            "seeds = 1\n[mlebench]\ndata_dir = \"mle\"\ncompetitions = [\"no-board\"]\nmetrics = { \"no-board\" = \"accuracy\" }\n",
            "no leaderboard.csv",
        ),
        ("seeds = 0\n[[tasks]]\npath = \"x\"\n", "seeds"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let spec = dir.path().join(format!("spec-{i}.toml"));
        write(&spec, text);
        let data = dir.path().join("never").display().to_string();
        let out = aide()
            .args(["bench", "--data-dir", &data, "run"])
            .arg(&spec)
            .output()
            .expect("aide bench");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains(expected),
            "{text}: expected {expected:?} in {err}"
        );
        assert!(!Path::new(&data).exists(), "nothing started for a bad spec");
    }
    // The unknown key is named with its line.
    let out = aide()
        .args(["bench", "run"])
        .arg(dir.path().join("spec-0.toml"))
        .output()
        .expect("aide bench");
    assert!(stderr(&out).contains("line 4"), "{}", stderr(&out));
}
