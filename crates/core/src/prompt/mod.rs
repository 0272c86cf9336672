//! Prompt building for every model call — the four of a step (draft, improve, debug and
//! review) and the report of a finished run — as markdown assembled from named sections
//! (ARCHITECTURE §4), plus the `submit_review` function the reviewer is forced to call.
//!
//! Which sections each prompt has, in order (`+` marks sections that appear only when there
//! is something to show):
//!
//! | prompt  | sections |
//! |---------|----------|
//! | draft   | Introduction, Task description, Guidance+, Memory+, Instructions (Response format, First-solution guideline, Implementation guideline, Installed packages+), Data overview+ |
//! | improve | Introduction, Task description, Guidance+, Memory+, Instructions (Response format, Improvement guideline, Implementation guideline), Previous solution (Plan+, Code, Output+; plan and output only when Memory does not show the solution) |
//! | debug   | Introduction, Task description, Guidance+, Buggy solution, Execution output, Instructions (Response format, Bug-fix guideline, Implementation guideline), Data overview+ |
//! | review  | Introduction, Task description (goal and evaluation only), Code, Execution output, Instructions |
//! | report  | Introduction, Task description, Search, Best program, Your report |
//!
//! Nothing is said twice in one prompt: the metric's name and direction appear only in the
//! task's evaluation line, an improve prompt leaves out the previous solution's plan and
//! output when Memory shows its plan and findings, and the review's instructions add to the `submit_review` schema (sent
//! with the request) only the run's fixed direction. The data overview and the memory are
//! kept within budgets in tokens ([`crate::tokens`]).
//!
//! All wording is this project's own.

mod builders;
mod memory;
mod report;
mod review;
mod sections;
mod truncate;

use serde::{Deserialize, Serialize};

use crate::metric::{Direction, MetricValue};
use crate::settings::RunSettings;
use crate::task::Task;
use crate::tokens::TokenCounter;

pub use builders::{debug_prompt, draft_prompt, improve_prompt, merge_prompt};
pub use memory::render_memory;
pub use report::{BestProgram, SearchSummary, StepOutcome, StepResult, report_prompt};
pub use review::{FunctionSpec, REVIEW_FUNCTION_NAME, review_function, review_prompt};
pub use sections::humane_duration;
pub use truncate::truncate_middle;

/// Default cap on program output shown in a prompt, in characters (head and tail kept).
pub const OUTPUT_CAP_CHARS: usize = 8_000;

/// Section titles, so callers and tests can look sections up by name.
pub mod title {
    pub const INTRODUCTION: &str = "Introduction";
    pub const TASK: &str = "Task description";
    pub const MEMORY: &str = "Memory";
    pub const GUIDANCE: &str = "Guidance";
    pub const INSTRUCTIONS: &str = "Instructions";
    pub const RESPONSE_FORMAT: &str = "Response format";
    pub const DRAFT_GUIDELINE: &str = "First-solution guideline";
    pub const IMPROVE_GUIDELINE: &str = "Improvement guideline";
    pub const DEBUG_GUIDELINE: &str = "Bug-fix guideline";
    pub const MERGE_GUIDELINE: &str = "Merge guideline";
    pub const IMPLEMENTATION: &str = "Implementation guideline";
    pub const PACKAGES: &str = "Installed packages";
    pub const DATA_OVERVIEW: &str = "Data overview";
    pub const PREVIOUS_SOLUTION: &str = "Previous solution";
    pub const FIRST_SOLUTION: &str = "First solution";
    pub const SECOND_SOLUTION: &str = "Second solution";
    pub const PLAN: &str = "Plan";
    pub const CODE: &str = "Code";
    pub const OUTPUT: &str = "Output";
    pub const BUGGY_SOLUTION: &str = "Buggy solution";
    pub const EXECUTION_OUTPUT: &str = "Execution output";
    pub const SEARCH: &str = "Search";
    pub const BEST_PROGRAM: &str = "Best program";
    pub const YOUR_REPORT: &str = "Your report";
}

/// A prompt: an ordered list of top-level sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub sections: Vec<Section>,
}

/// One titled section with its text and ordered subsections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub body: String,
    pub subsections: Vec<Section>,
}

impl Section {
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            body: body.into(),
            subsections: Vec::new(),
        }
    }

    /// Adds a subsection (builder style).
    pub fn with(mut self, subsection: Section) -> Self {
        self.subsections.push(subsection);
        self
    }

    /// The direct subsection titled `title`.
    pub fn subsection(&self, title: &str) -> Option<&Section> {
        self.subsections.iter().find(|s| s.title == title)
    }

    fn render_into(&self, depth: usize, out: &mut String) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&"#".repeat(depth.clamp(1, 6)));
        out.push(' ');
        out.push_str(&self.title);
        out.push('\n');
        let body = self.body.trim_end();
        if !body.is_empty() {
            out.push('\n');
            out.push_str(body);
            out.push('\n');
        }
        for sub in &self.subsections {
            sub.render_into(depth + 1, out);
        }
    }
}

impl Prompt {
    /// Markdown: `#` for top-level sections, `##` for their subsections, and so on, with a
    /// blank line between a heading and its text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for section in &self.sections {
            section.render_into(1, &mut out);
        }
        out
    }

    /// The top-level section titled `title`.
    pub fn section(&self, title: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.title == title)
    }

    /// Titles of the top-level sections, in order.
    pub fn titles(&self) -> Vec<&str> {
        self.sections.iter().map(|s| s.title.as_str()).collect()
    }
}

/// What the memory section says about one good node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// The node's plan (design summary).
    pub plan: String,
    /// The review's summary of what the run showed.
    pub findings: String,
    pub metric: Option<MetricValue>,
}

/// Everything a prompt needs to know about the run. Build it with [`PromptContext::new`]
/// and set the optional parts (memory, data preview, packages) as the step requires.
#[derive(Debug, Clone)]
pub struct PromptContext<'a> {
    pub task: &'a Task,
    /// Folds to suggest for cross-validation; 1 or less leaves the hint out.
    pub k_fold_validation: u32,
    pub exec_timeout_secs: u64,
    /// Every good node so far, oldest first.
    pub memory: &'a [MemoryEntry],
    /// Token budget of the memory section.
    pub memory_budget_tokens: usize,
    /// Notes people added while steering the run, oldest first.
    pub notes: &'a [String],
    /// Counts tokens for the memory's and the data overview's budgets.
    pub tokens: &'a TokenCounter,
    /// The data overview; `None` when previews are off or not computed.
    pub data_preview: Option<&'a str>,
    /// Python packages installed in the sandbox.
    pub packages: &'a [String],
    /// The run's metric direction, once fixed.
    pub direction: Option<Direction>,
    pub metric_name: Option<&'a str>,
    /// Ask for a reusable, documented `predict()` function (reference option).
    pub expose_prediction: bool,
    /// Cap on program output shown in prompts, in characters.
    pub output_cap_chars: usize,
}

impl<'a> PromptContext<'a> {
    /// A context from the task and the run's settings: direction and metric name from the
    /// task, no memory, no data preview, no package list.
    pub fn new(task: &'a Task, settings: &RunSettings, tokens: &'a TokenCounter) -> Self {
        Self {
            task,
            k_fold_validation: settings.k_fold_validation,
            exec_timeout_secs: settings.exec_timeout_secs,
            memory: &[],
            memory_budget_tokens: settings.memory_budget_tokens,
            notes: &[],
            tokens,
            data_preview: None,
            packages: &[],
            direction: task.metric.resolved_direction(),
            metric_name: task.metric.name.as_deref(),
            expose_prediction: settings.expose_prediction,
            output_cap_chars: OUTPUT_CAP_CHARS,
        }
    }

    pub fn with_memory(mut self, memory: &'a [MemoryEntry]) -> Self {
        self.memory = memory;
        self
    }

    pub fn with_notes(mut self, notes: &'a [String]) -> Self {
        self.notes = notes;
        self
    }

    pub fn with_data_preview(mut self, preview: Option<&'a str>) -> Self {
        self.data_preview = preview;
        self
    }

    pub fn with_packages(mut self, packages: &'a [String]) -> Self {
        self.packages = packages;
        self
    }

    /// Sets the run's fixed direction (it may come from the first review).
    pub fn with_direction(mut self, direction: Option<Direction>) -> Self {
        self.direction = direction;
        self
    }
}

/// The node an improve step starts from.
#[derive(Debug, Clone, Copy)]
pub struct PreviousSolution<'a> {
    pub plan: &'a str,
    pub code: &'a str,
    /// Its execution output, when the caller wants the author to see it.
    pub output: Option<&'a str>,
}

/// The failed node a debug step repairs.
#[derive(Debug, Clone, Copy)]
pub struct BuggySolution<'a> {
    pub code: &'a str,
    pub output: &'a str,
}

/// The executed node a review judges.
#[derive(Debug, Clone, Copy)]
pub struct ExecutedSolution<'a> {
    pub code: &'a str,
    pub output: &'a str,
}

#[cfg(test)]
mod tests;
