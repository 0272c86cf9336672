//! The report step: the prompt asking the run's code model for the closing narrative of a
//! finished search, rendered from a [`SearchSummary`] the caller collects from its run.
//!
//! Sections: Introduction, Task description, Search (counts, stop reason, the metric
//! trajectory one line per program), Best program (step, metric, plan, review, code), Your
//! report (the headings to answer under).

use super::sections::{fenced, metric_sentence};
use super::{Prompt, Section, title, truncate_middle};
use crate::metric::{Direction, format_metric};
use crate::node::Action;
use crate::task::Task;

/// Bounds on the parts of the prompt, in characters.
const TRAJECTORY_CHARS: usize = 8_000;
const TEXT_CHARS: usize = 2_000;
const CODE_CHARS: usize = 10_000;
/// A failed program's review summary in its trajectory line, in characters.
const FAILURE_CHARS: usize = 160;

/// What the report is written from.
#[derive(Debug, Clone)]
pub struct SearchSummary<'a> {
    pub task: &'a Task,
    pub direction: Option<Direction>,
    pub stop_reason: Option<&'a str>,
    /// Every program, in step order.
    pub steps: Vec<StepOutcome<'a>>,
    pub best: Option<BestProgram<'a>>,
}

/// One program of the search.
#[derive(Debug, Clone)]
pub struct StepOutcome<'a> {
    pub step: u32,
    pub action: Action,
    pub parent_step: Option<u32>,
    pub result: StepResult<'a>,
    /// The best metric reached up to and including this step.
    pub best_so_far: Option<f64>,
}

/// How one program ended.
#[derive(Debug, Clone)]
pub enum StepResult<'a> {
    /// A good program and its validation metric.
    Metric(f64),
    /// A buggy program and its reviewer's summary.
    Failed(&'a str),
    /// Still in flight when the search ended.
    NotReviewed,
}

/// The best program of the search.
#[derive(Debug, Clone)]
pub struct BestProgram<'a> {
    pub step: u32,
    pub metric: f64,
    pub plan: &'a str,
    pub review: &'a str,
    pub code: &'a str,
}

/// The prompt asking for the report of the search `summary` describes.
pub fn report_prompt(summary: &SearchSummary<'_>) -> Prompt {
    let intro = "An automated search for a machine-learning solution has just ended. A \
                 language model drafted candidate programs, improved the good ones and debugged \
                 the broken ones; every program was run and scored. Write the closing report of \
                 this search for the person who started it.";
    Prompt {
        sections: vec![
            Section::new(title::INTRODUCTION, intro),
            task_section(summary),
            search_section(summary),
            best_section(summary),
            Section::new(title::YOUR_REPORT, instructions()),
        ],
    }
}

fn task_section(summary: &SearchSummary<'_>) -> Section {
    let task = summary.task;
    let mut body = task.goal.trim().to_owned();
    if let Some(eval) = task.eval.as_deref() {
        body.push_str(&format!("\n\nEvaluation: {}", eval.trim()));
    }
    let metric = metric_sentence(task.metric.name.as_deref(), summary.direction);
    if !metric.is_empty() {
        body.push_str(&format!("\n\n{metric}"));
    }
    Section::new(title::TASK, body)
}

fn search_section(summary: &SearchSummary<'_>) -> Section {
    let steps = &summary.steps;
    let count = |a: Action| steps.iter().filter(|s| s.action == a).count();
    let good = steps
        .iter()
        .filter(|s| matches!(s.result, StepResult::Metric(_)))
        .count();
    let counts = format!(
        "{} programs ({} drafts, {} improvements, {} debugging attempts); {good} produced a \
         valid metric. Stop reason: {}.",
        steps.len(),
        count(Action::Draft),
        count(Action::Improve),
        count(Action::Debug),
        summary.stop_reason.unwrap_or("the budget was reached"),
    );
    let lines: String = steps.iter().map(trajectory_line).collect();
    let body = format!(
        "{counts}\n\nMetric trajectory (one line per program, in order):\n{}",
        truncate_middle(&lines, TRAJECTORY_CHARS)
    );
    Section::new(title::SEARCH, body)
}

/// `- step 3 improve of step 1: 0.52; best so far 0.5`.
fn trajectory_line(step: &StepOutcome<'_>) -> String {
    let parent = step
        .parent_step
        .map(|p| format!(" of step {p}"))
        .unwrap_or_default();
    let result = match step.result {
        StepResult::Metric(m) => format_metric(m),
        StepResult::Failed(summary) => format!("failed ({})", one_line(summary, FAILURE_CHARS)),
        StepResult::NotReviewed => "not reviewed".into(),
    };
    let so_far = step
        .best_so_far
        .map_or_else(|| "none".into(), format_metric);
    format!(
        "- step {} {}{parent}: {result}; best so far {so_far}\n",
        step.step, step.action
    )
}

fn best_section(summary: &SearchSummary<'_>) -> Section {
    let Some(best) = &summary.best else {
        return Section::new(title::BEST_PROGRAM, "No program produced a valid metric.");
    };
    let metric = summary.task.metric.name.as_deref().unwrap_or("metric");
    let body = format!(
        "Step {}, {metric} = {}.\n\nIts plan:\n{}\n\nIts reviewer's summary:\n{}\n\nIts code:\n{}",
        best.step,
        format_metric(best.metric),
        truncate_middle(best.plan.trim(), TEXT_CHARS),
        truncate_middle(best.review.trim(), TEXT_CHARS),
        fenced("python", &truncate_middle(best.code, CODE_CHARS)),
    );
    Section::new(title::BEST_PROGRAM, body)
}

fn instructions() -> &'static str {
    "Answer with markdown only, at most about 400 words, under these level-3 headings: \
     `### What was tried`, `### What worked`, `### Final solution`, `### Next steps`. Quote \
     metric values only from the data above; do not invent results."
}

/// `text` on one line, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate_middle(&line, max)
}
