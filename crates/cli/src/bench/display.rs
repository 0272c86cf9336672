//! Sweeps and cells as text: the one-line summary of a sweep, a finished cell's line, the
//! best score per task, and a sweep as JSON for tools.

use std::collections::BTreeMap;

use aide_core::Direction;
use aide_proto::v1;
use serde_json::{Value, json};

use crate::client::time_text;
use crate::progress::fmt_metric;

pub fn sweep_status(status: i32) -> &'static str {
    match v1::SweepStatus::try_from(status) {
        Ok(v1::SweepStatus::Running) => "running",
        Ok(v1::SweepStatus::Stopped) => "stopped",
        Ok(v1::SweepStatus::Cancelled) => "cancelled",
        Ok(v1::SweepStatus::Completed) => "completed",
        _ => "unknown",
    }
}

pub fn cell_status(status: i32) -> &'static str {
    match v1::CellStatus::try_from(status) {
        Ok(v1::CellStatus::Queued) => "queued",
        Ok(v1::CellStatus::Running) => "running",
        Ok(v1::CellStatus::Grading) => "grading",
        Ok(v1::CellStatus::Graded) => "graded",
        Ok(v1::CellStatus::Failed) => "failed",
        Ok(v1::CellStatus::Cancelled) => "cancelled",
        _ => "unknown",
    }
}

/// Cells done, running, queued and failed, with the spending: the progress line's core.
pub fn counts_text(sweep: &v1::Sweep) -> String {
    let c = sweep.cells.unwrap_or_default();
    let total = c.queued + c.running + c.grading + c.graded + c.failed + c.cancelled;
    let mut text = format!(
        "{}/{total} done · {} running · {} queued · {} failed",
        c.graded + c.failed,
        c.running + c.grading,
        c.queued,
        c.failed
    );
    if c.cancelled > 0 {
        text.push_str(&format!(" · {} cancelled", c.cancelled));
    }
    text.push_str(&format!(" · ${:.2}", sweep.cost_usd));
    text
}

/// A finished cell's line.
pub fn cell_line(cell: &v1::Cell) -> String {
    let place = format!("{} / {} / seed {}", cell.task, cell.arm, cell.seed);
    match (&cell.grade, v1::CellStatus::try_from(cell.status)) {
        (Some(g), Ok(v1::CellStatus::Graded)) => {
            let mut what = match g.score {
                Some(score) if g.valid => format!("score {}", fmt_metric(score)),
                _ => format!("invalid: {}", g.problem),
            };
            if g.above_median == Some(true) {
                what.push_str(", above median");
            }
            if let Some(medal) = medal_name(g.medal) {
                what.push_str(&format!(", {medal} medal"));
            }
            format!(
                "graded  {place}: {what} · ${:.2}{}",
                cell.cost_usd,
                wall(cell)
            )
        }
        _ => format!("{:<7} {place}: {}", cell_status(cell.status), cell.cause),
    }
}

fn wall(cell: &v1::Cell) -> String {
    cell.wall_secs
        .map_or(String::new(), |s| format!(" · {s:.0} s"))
}

pub fn medal_name(medal: i32) -> Option<&'static str> {
    match v1::Medal::try_from(medal) {
        Ok(v1::Medal::Gold) => Some("gold"),
        Ok(v1::Medal::Silver) => Some("silver"),
        Ok(v1::Medal::Bronze) => Some("bronze"),
        _ => None,
    }
}

/// The best valid score of each task so far, in the direction its metric's name implies.
pub fn best_per_task(cells: &v1::ListCellsResponse, tasks: &[String]) -> String {
    let mut best: BTreeMap<&str, f64> = BTreeMap::new();
    for cell in &cells.cells {
        let Some(score) = cell
            .grade
            .as_ref()
            .filter(|g| g.valid)
            .and_then(|g| g.score)
        else {
            continue;
        };
        let index = tasks.iter().position(|t| *t == cell.task);
        let metric = index
            .and_then(|i| cells.metrics.get(i))
            .map_or("", String::as_str);
        let lower = Direction::from_metric_name(metric) == Some(Direction::Minimize);
        best.entry(&cell.task)
            .and_modify(|b| {
                if (lower && score < *b) || (!lower && score > *b) {
                    *b = score;
                }
            })
            .or_insert(score);
    }
    best.iter()
        .map(|(task, score)| format!("{task} {}", fmt_metric(*score)))
        .collect::<Vec<_>>()
        .join(" · ")
}

pub fn sweep_json(sweep: &v1::Sweep) -> Value {
    let c = sweep.cells.unwrap_or_default();
    let budget = sweep.budget.unwrap_or_default();
    json!({
        "id": sweep.id,
        "name": sweep.name,
        "project": sweep.project,
        "status": sweep_status(sweep.status),
        "stop_reason": (!sweep.stop_reason.is_empty()).then_some(&sweep.stop_reason),
        "cells": {
            "queued": c.queued, "running": c.running, "grading": c.grading,
            "graded": c.graded, "failed": c.failed, "cancelled": c.cancelled,
        },
        "cost_usd": sweep.cost_usd,
        "budget": {
            "cost_usd": budget.cost_usd,
            "wall_clock_secs": budget.wall_clock_secs,
            "cells_at_once": budget.cells_at_once,
        },
        "tasks": sweep.tasks,
        "arms": sweep.arms,
        "seeds": sweep.seeds,
        "created_at": time_text(sweep.created_at.as_ref()),
        "finished_at": time_text(sweep.finished_at.as_ref()),
    })
}
