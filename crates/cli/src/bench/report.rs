//! `aide bench report`: the sweep's report (per task and per arm, as `aide_core::sweep::
//! report` computes it) printed as Markdown, CSV or JSON, and written with every format and
//! one score-by-step SVG per task into the report directory.

use std::path::{Path, PathBuf};

use aide_core::grade::Medal;
use aide_core::grade::cell::CellGrade;
use aide_core::sweep::plot::{Series, score_by_step};
use aide_core::sweep::report::{CellResult, Report};
use aide_proto::v1;

use crate::error::CliError;

/// The report's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Csv,
    Json,
}

/// The report of `cells`, and writes the report directory `out`.
pub fn write(
    sweep: &v1::Sweep,
    cells: &v1::ListCellsResponse,
    format: Format,
    out: &Path,
) -> Result<String, CliError> {
    let results: Vec<CellResult> = cells.cells.iter().map(result_of).collect();
    let report = Report::of(&results);
    std::fs::create_dir_all(out).map_err(CliError::io(out))?;
    let header = format!(
        "Sweep {} ({}, {}): {} tasks × {} seeds × {} arms\n\n",
        sweep.name,
        sweep.id,
        super::display::sweep_status(sweep.status),
        sweep.tasks.len(),
        sweep.seeds.len(),
        sweep.arms.len()
    );
    let markdown = format!("{header}{}", report.markdown());
    for (name, text) in [
        ("report.md", markdown.as_str()),
        ("report.csv", &report.csv()),
        ("report.json", &report.json()),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(CliError::io(&path))?;
    }
    for (task, svg) in plots(sweep, cells) {
        let path = out.join(plot_name(&task));
        std::fs::write(&path, svg).map_err(CliError::io(&path))?;
    }
    Ok(match format {
        Format::Md => markdown,
        Format::Csv => report.csv(),
        Format::Json => report.json(),
    })
}

/// The report directory's default: `sweep-<first 8 of the id>` here.
pub fn default_dir(sweep: &v1::Sweep) -> PathBuf {
    PathBuf::from(format!(
        "sweep-{}",
        sweep.id.chars().take(8).collect::<String>()
    ))
}

/// A task's plot file name, from characters that are safe in a file name.
fn plot_name(task: &str) -> String {
    let safe: String = task
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                true => c,
                false => '_',
            },
        )
        .collect();
    format!("score-by-step-{safe}.svg")
}

/// One SVG per task: every cell's best metric after each step.
fn plots(sweep: &v1::Sweep, cells: &v1::ListCellsResponse) -> Vec<(String, String)> {
    sweep
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let series: Vec<Series> = cells
                .cells
                .iter()
                .filter(|c| c.task == *task && !c.curve.is_empty())
                .map(|c| Series {
                    label: format!("{} seed {}", c.arm, c.seed),
                    points: c
                        .curve
                        .iter()
                        .enumerate()
                        .map(|(step, v)| (u32::try_from(step).unwrap_or(u32::MAX), *v))
                        .collect(),
                })
                .collect();
            let metric = cells.metrics.get(i).map_or("metric", String::as_str);
            let title = format!("{task}: best validation {metric} by step");
            (task.clone(), score_by_step(&title, metric, &series))
        })
        .collect()
}

fn result_of(cell: &v1::Cell) -> CellResult {
    CellResult {
        task: cell.task.clone(),
        seed: cell.seed,
        arm: cell.arm.clone(),
        grade: match v1::CellStatus::try_from(cell.status) {
            Ok(v1::CellStatus::Graded) => cell.grade.as_ref().map(grade_of),
            _ => None,
        },
        cost_usd: cell.cost_usd,
        wall_secs: cell.wall_secs,
    }
}

fn grade_of(grade: &v1::CellGrade) -> CellGrade {
    CellGrade {
        submitted: grade.submitted,
        valid: grade.valid,
        problem: (!grade.problem.is_empty()).then(|| grade.problem.clone()),
        score: grade.score,
        above_median: grade.above_median,
        medal: match v1::Medal::try_from(grade.medal) {
            Ok(v1::Medal::Gold) => Some(Medal::Gold),
            Ok(v1::Medal::Silver) => Some(Medal::Silver),
            Ok(v1::Medal::Bronze) => Some(Medal::Bronze),
            _ => None,
        },
    }
}
