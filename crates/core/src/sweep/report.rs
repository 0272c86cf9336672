//! A sweep's report from its cells' results: per task (and arm) the score as mean ± SEM over
//! seeds, valid submissions, above-median and medal counts, cost and wall time; per arm the
//! aggregates MLE-bench reports — valid-submission %, above-median %, any-medal %, gold % —
//! each the mean ± SEM over seeds of that seed's rate across tasks, with the total cost, the
//! cost per medal and cell wall-time percentiles. Rendered as Markdown, CSV or JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::grade::Medal;
use crate::grade::cell::CellGrade;
use crate::grade::stats::{MeanSem, mean_sem, percentile};

/// What one cell came to.
#[derive(Debug, Clone, PartialEq)]
pub struct CellResult {
    pub task: String,
    pub seed: u64,
    pub arm: String,
    /// `None` while the cell has not finished (or when it failed before grading).
    pub grade: Option<CellGrade>,
    pub cost_usd: f64,
    pub wall_secs: Option<f64>,
}

/// A mean ± SEM as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub sem: f64,
    pub n: usize,
}

impl From<MeanSem> for Estimate {
    fn from(m: MeanSem) -> Self {
        Self {
            mean: m.mean,
            sem: m.sem,
            n: m.n,
        }
    }
}

/// One task under one arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    pub task: String,
    pub arm: String,
    pub cells: usize,
    pub graded: usize,
    pub score: Option<Estimate>,
    pub valid: usize,
    pub above_median: usize,
    pub medals: usize,
    pub cost_usd: f64,
    pub wall_p50_secs: Option<f64>,
}

/// One arm across tasks; rates in percent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmRow {
    pub arm: String,
    pub valid_pct: Option<Estimate>,
    pub above_median_pct: Option<Estimate>,
    pub any_medal_pct: Option<Estimate>,
    pub gold_pct: Option<Estimate>,
    pub cost_usd: f64,
    pub cost_per_medal_usd: Option<f64>,
    pub wall_p50_secs: Option<f64>,
    pub wall_p90_secs: Option<f64>,
    pub wall_max_secs: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub tasks: Vec<TaskRow>,
    pub arms: Vec<ArmRow>,
    pub cost_usd: f64,
}

impl Report {
    pub fn of(results: &[CellResult]) -> Self {
        let mut by_task: BTreeMap<(&str, &str), Vec<&CellResult>> = BTreeMap::new();
        let mut by_arm: BTreeMap<&str, Vec<&CellResult>> = BTreeMap::new();
        for r in results {
            by_task.entry((&r.arm, &r.task)).or_default().push(r);
            by_arm.entry(&r.arm).or_default().push(r);
        }
        Self {
            tasks: by_task
                .into_iter()
                .map(|((arm, task), cells)| task_row(task, arm, &cells))
                .collect(),
            arms: by_arm
                .into_iter()
                .map(|(arm, cells)| arm_row(arm, &cells))
                .collect(),
            cost_usd: results.iter().map(|r| r.cost_usd).sum(),
        }
    }

    /// The report for people.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Sweep report\n\n## Arms\n\n");
        out.push_str("| arm | valid % | above median % | any medal % | gold % | cost (USD) | cost per medal | wall p50 / p90 / max (s) |\n|---|---|---|---|---|---|---|---|\n");
        for a in &self.arms {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} | {} | {} / {} / {} |",
                a.arm,
                estimate(a.valid_pct),
                estimate(a.above_median_pct),
                estimate(a.any_medal_pct),
                estimate(a.gold_pct),
                a.cost_usd,
                a.cost_per_medal_usd
                    .map_or("—".into(), |c| format!("{c:.2}")),
                seconds(a.wall_p50_secs),
                seconds(a.wall_p90_secs),
                seconds(a.wall_max_secs),
            );
        }
        out.push_str("\n## Tasks\n\n| task | arm | score (mean ± SEM) | valid | above median | medals | cost (USD) | wall p50 (s) |\n|---|---|---|---|---|---|---|---|\n");
        for t in &self.tasks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {}/{} | {}/{} | {}/{} | {:.2} | {} |",
                t.task,
                t.arm,
                estimate(t.score),
                t.valid,
                t.cells,
                t.above_median,
                t.cells,
                t.medals,
                t.cells,
                t.cost_usd,
                seconds(t.wall_p50_secs),
            );
        }
        let _ = writeln!(out, "\nTotal cost: {:.2} USD", self.cost_usd);
        out
    }

    /// One line per task and arm, for tools.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "task,arm,cells,graded,score_mean,score_sem,valid,above_median,medals,cost_usd,wall_p50_secs\n",
        );
        for t in &self.tasks {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{}",
                csv_field(&t.task),
                csv_field(&t.arm),
                t.cells,
                t.graded,
                t.score.map_or(String::new(), |s| s.mean.to_string()),
                t.score.map_or(String::new(), |s| s.sem.to_string()),
                t.valid,
                t.above_median,
                t.medals,
                t.cost_usd,
                t.wall_p50_secs.map_or(String::new(), |w| w.to_string()),
            );
        }
        out
    }

    /// Everything, for tools.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

fn task_row(task: &str, arm: &str, cells: &[&CellResult]) -> TaskRow {
    let grades: Vec<&CellGrade> = cells.iter().filter_map(|c| c.grade.as_ref()).collect();
    let scores: Vec<f64> = grades.iter().filter_map(|g| g.score).collect();
    let walls: Vec<f64> = cells.iter().filter_map(|c| c.wall_secs).collect();
    TaskRow {
        task: task.to_owned(),
        arm: arm.to_owned(),
        cells: cells.len(),
        graded: grades.len(),
        score: mean_sem(&scores).map(Estimate::from),
        valid: grades.iter().filter(|g| g.valid).count(),
        above_median: grades
            .iter()
            .filter(|g| g.above_median == Some(true))
            .count(),
        medals: grades.iter().filter(|g| g.medal.is_some()).count(),
        cost_usd: cells.iter().map(|c| c.cost_usd).sum(),
        wall_p50_secs: percentile(&walls, 50.0),
    }
}

fn arm_row(arm: &str, cells: &[&CellResult]) -> ArmRow {
    let seeds: BTreeSet<u64> = cells.iter().map(|c| c.seed).collect();
    // Each seed's rate across the tasks, in percent; then mean ± SEM over seeds.
    let rate = |hit: &dyn Fn(&CellGrade) -> bool| {
        let per_seed: Vec<f64> = seeds
            .iter()
            .map(|seed| {
                let of_seed: Vec<&&CellResult> = cells.iter().filter(|c| c.seed == *seed).collect();
                let hits = of_seed
                    .iter()
                    .filter(|c| c.grade.as_ref().is_some_and(hit))
                    .count();
                100.0 * hits as f64 / of_seed.len().max(1) as f64
            })
            .collect();
        mean_sem(&per_seed).map(Estimate::from)
    };
    let walls: Vec<f64> = cells.iter().filter_map(|c| c.wall_secs).collect();
    let cost: f64 = cells.iter().map(|c| c.cost_usd).sum();
    let medals = cells
        .iter()
        .filter(|c| c.grade.as_ref().is_some_and(|g| g.medal.is_some()))
        .count();
    // Without any leaderboard there is no median and no medal to count ("—", not 0 %).
    let ranked = cells
        .iter()
        .any(|c| c.grade.as_ref().is_some_and(|g| g.above_median.is_some()));
    let ranked_rate = |hit: &dyn Fn(&CellGrade) -> bool| rate(hit).filter(|_| ranked);
    ArmRow {
        arm: arm.to_owned(),
        valid_pct: rate(&|g| g.valid),
        above_median_pct: ranked_rate(&|g| g.above_median == Some(true)),
        any_medal_pct: ranked_rate(&|g| g.medal.is_some()),
        gold_pct: ranked_rate(&|g| g.medal == Some(Medal::Gold)),
        cost_usd: cost,
        cost_per_medal_usd: (medals > 0).then(|| cost / medals as f64),
        wall_p50_secs: percentile(&walls, 50.0),
        wall_p90_secs: percentile(&walls, 90.0),
        wall_max_secs: percentile(&walls, 100.0),
    }
}

fn estimate(e: Option<Estimate>) -> String {
    e.map_or("—".into(), |e| format!("{:.3} ± {:.3}", e.mean, e.sem))
}

fn seconds(s: Option<f64>) -> String {
    s.map_or("—".into(), |s| format!("{s:.0}"))
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(task: &str, seed: u64, medal: Option<Medal>, score: f64) -> CellResult {
        CellResult {
            task: task.into(),
            seed,
            arm: "a".into(),
            grade: Some(CellGrade {
                submitted: true,
                valid: true,
                problem: None,
                score: Some(score),
                above_median: Some(medal.is_some()),
                medal,
            }),
            cost_usd: 0.5,
            wall_secs: Some(10.0 * seed as f64 + 10.0),
        }
    }

    #[test]
    fn rates_are_per_seed_then_mean_and_sem_over_seeds() {
        // Seed 0 medals on both tasks, seed 1 on one, seed 2 on none: 100, 50, 0 %.
        let results = vec![
            result("t1", 0, Some(Medal::Gold), 1.0),
            result("t2", 0, Some(Medal::Bronze), 2.0),
            result("t1", 1, Some(Medal::Silver), 3.0),
            result("t2", 1, None, 4.0),
            result("t1", 2, None, 5.0),
            result("t2", 2, None, 6.0),
        ];
        let report = Report::of(&results);
        let arm = &report.arms[0];
        let medal = arm.any_medal_pct.expect("rate");
        assert!((medal.mean - 50.0).abs() < 1e-9 && (medal.sem - 50.0 / 3f64.sqrt()).abs() < 1e-9);
        assert!((arm.gold_pct.expect("gold").mean - 100.0 / 6.0).abs() < 1e-9);
        assert_eq!(arm.cost_per_medal_usd, Some(1.0));
        assert_eq!(arm.wall_max_secs, Some(30.0));
        let t1 = &report.tasks[0];
        assert_eq!((t1.task.as_str(), t1.medals, t1.cells), ("t1", 2, 3));
        assert!((t1.score.expect("score").mean - 3.0).abs() < 1e-9);
        assert!(
            report
                .markdown()
                .contains("| a | 100.000 ± 0.000 | 50.000 ± 28.868")
        );
        assert_eq!(report.csv().lines().count(), 3);
        let json: serde_json::Value = serde_json::from_str(&report.json()).expect("json");
        assert_eq!(json["cost_usd"], 3.0);
    }
}
