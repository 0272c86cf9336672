//! The end of a session: links the run's outputs (written by the engine under
//! `<out>/<run id>/`) into the output directory itself, prints the best node, scores the
//! best submission against the task's held-back answers, and lists the output files.

use std::path::Path;

use aide_core::Direction;
use aide_store::{AnyStore, NodeStore, RunRecord};

use crate::error::CliError;
use crate::progress::fmt_metric;
use aide_core::grade::score;

/// The output files and what each is, in the order the summary lists them.
/// The run's database inside an `aide run` output directory.
pub const DB_FILE: &str = "aide.db";

const FILES: &[(&str, &str)] = &[
    ("best_solution.py", "the best solution script"),
    ("report.md", "a summary of the search"),
    ("tree.html", "the search tree (open it in a browser)"),
    (
        "journal.json",
        "every node, in the reference implementation's journal format",
    ),
    ("config.json", "the run's task and settings"),
];

/// Links `<out>/<file>` to `<out>/<run id>/<file>` for every output the run has (with
/// `finished`) or will have (before the run: the fixed names, dangling until written).
/// Links whose target is gone are removed once the run ended.
pub fn link_outputs(out: &Path, run: &RunRecord, finished: bool) {
    let run_dir_name = run.id.to_string();
    let run_dir = out.join(&run_dir_name);
    let mut names: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
    if let Ok(entries) = std::fs::read_dir(&run_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.')
                && name != "best.json"
                && !names.contains(&name)
                && !name.ends_with(".tmp")
            {
                names.push(name);
            }
        }
    }
    for name in names {
        let link = out.join(&name);
        let target = Path::new(&run_dir_name).join(&name);
        let exists = run_dir.join(&name).exists();
        let is_link = link
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink());
        if finished && !exists {
            if is_link {
                let _ = std::fs::remove_file(&link);
            }
            continue;
        }
        if link.symlink_metadata().is_err()
            && let Err(e) = std::os::unix::fs::symlink(&target, &link)
        {
            tracing::warn!(error = %e, link = %link.display(), "cannot link an output");
        }
    }
}

/// The best submission's file name in the run directory (`best_<submission file>`).
fn submission_file(out: &Path, run: &RunRecord) -> Option<String> {
    let dir = out.join(run.id.to_string());
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("best_") && n != "best_solution.py" && !n.ends_with(".tmp"))
}

/// Prints the best node, the held-back score and the outputs.
pub async fn print(store: &AnyStore, run: &RunRecord, out: &Path) -> Result<(), CliError> {
    let nodes = store.load_tree(run.id).await?;
    let verdicts: Vec<bool> = nodes
        .iter()
        .filter_map(|n| n.review.as_ref().map(|r| r.is_buggy))
        .collect();
    let buggy = verdicts.iter().filter(|b| **b).count();
    let unfinished = nodes.len() - verdicts.len();
    // The run's best node by the one rule the engine and the outputs use.
    let best = aide_coordinator::tree::best_node(run.direction, &nodes);
    let metric = run.task.metric.name.as_deref().unwrap_or("metric");
    eprintln!(
        "nodes: {} of {} steps{}, {} good, {buggy} buggy",
        nodes.len(),
        run.settings.steps,
        if unfinished > 0 {
            format!(" ({unfinished} unfinished)")
        } else {
            String::new()
        },
        verdicts.len() - buggy,
    );
    match best.and_then(|n| n.review.as_ref().and_then(|r| r.metric).map(|m| (n, m))) {
        Some((node, m)) => eprintln!(
            "best: step {} ({}), validation {metric} {}",
            node.step,
            node.action.as_str(),
            fmt_metric(m)
        ),
        None => eprintln!("best: no working solution yet"),
    }
    let submission = submission_file(out, run);
    let local_answers = run
        .task
        .answers
        .as_ref()
        .and_then(|a| a.local_answers_file());
    if let (Some(answers), Some(file)) = (&local_answers, &submission) {
        let path = out.join(run.id.to_string()).join(file);
        let answers_name = answers
            .file_name()
            .map_or("answers".into(), |n| n.to_string_lossy());
        match run.task.metric.name.as_deref() {
            Some(name) => match score::score(name, &path, answers) {
                Ok(s) => eprintln!(
                    "score of {file} on the held-back answers ({answers_name}): {} {} over {} \
                     rows{}",
                    s.metric,
                    fmt_metric(s.value),
                    s.rows,
                    match run.direction {
                        Some(Direction::Minimize) => " (lower is better)",
                        Some(Direction::Maximize) => " (higher is better)",
                        None => "",
                    }
                ),
                Err(why) => eprintln!("not scored against {answers_name}: {why}"),
            },
            None => eprintln!("not scored against {answers_name}: the task names no metric"),
        }
    }
    eprintln!("outputs in {}:", out.display());
    let mut listed: Vec<(String, &str)> = Vec::new();
    if best.is_some() {
        listed.push(("best_solution.py".into(), FILES[0].1));
    }
    if let Some(file) = submission {
        listed.push((file, "the best solution's submission"));
    }
    for (name, what) in &FILES[1..] {
        listed.push(((*name).into(), what));
    }
    listed.push((DB_FILE.into(), "the whole search (`aide resume` reads it)"));
    for (name, what) in listed {
        if out.join(&name).exists() {
            eprintln!("  {name:<22} {what}");
        }
    }
    Ok(())
}
