//! What the engine sends for one node: the rendered prompt and the structured
//! [`AideContext`] of a code request (draft, improve, debug) and of a review request, and
//! the execution request for a runner.

use std::path::Path;
use std::time::Duration;

use aide_core::prompt::OUTPUT_CAP_CHARS;
use aide_core::{
    Action, BuggySolution, Direction, ExecutedSolution, LlmPurpose, MemoryEntry, MetricValue,
    NodeId, PreviousSolution, PromptContext, RunId, RunSettings, Task, TokenCounter, debug_prompt,
    draft_prompt, improve_prompt, review_function, review_prompt, truncate_middle,
};
use aide_store::NodeRecord;

use super::ports::{AuthorHints, AuthorRequest, CallKind, ScriptRun, TaskFacts};

/// What every request of a run shares: the parts of the run that never change (the
/// direction and status belong to the loop's [`RunState`](super::state::RunState)).
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: RunId,
    pub task: Task,
    pub settings: RunSettings,
    pub seed: u64,
    /// The data overview for draft and debug prompts, when previews are on.
    pub preview: Option<String>,
    /// Files of the task's input directory, relative to it.
    pub input_files: Vec<String>,
    /// What every execution of the run receives as `./input`.
    pub input: super::ScriptInput,
    /// Counts prompt tokens for the memory's budget and the ledger.
    pub tokens: TokenCounter,
}

impl RunInfo {
    /// The submission file name inside `./working`, when the task has test data.
    pub fn submission_file(&self) -> Option<&str> {
        self.task.submission.as_ref().map(|s| s.file_name.as_str())
    }

    fn prompt_context<'a>(
        &'a self,
        memory: &'a [MemoryEntry],
        direction: Option<Direction>,
    ) -> PromptContext<'a> {
        PromptContext::new(&self.task, &self.settings, &self.tokens)
            .with_memory(memory)
            .with_data_preview(self.preview.as_deref())
            .with_direction(direction)
    }

    pub(super) fn facts(&self, direction: Option<Direction>) -> TaskFacts {
        let task = &self.task;
        let submission = task.submission.as_ref();
        TaskFacts {
            goal: task.goal.clone(),
            eval: task.eval.clone(),
            metric_name: task.metric.name.clone(),
            direction,
            input_files: self.input_files.clone(),
            submission_file: submission.map(|s| s.file_name.clone()),
            sample_submission: submission
                .and_then(|s| s.sample.as_ref())
                .map(|p| p.to_string_lossy().into_owned()),
            k_fold: self.settings.k_fold_validation,
            exec_timeout_secs: self.settings.exec_timeout_secs,
        }
    }
}

/// The memory section's entries: every good node, oldest first.
pub fn memory(nodes: &[NodeRecord]) -> Vec<MemoryEntry> {
    nodes
        .iter()
        .filter_map(|n| {
            let review = n.review.as_ref().filter(|r| !r.is_buggy)?;
            Some(MemoryEntry {
                plan: n
                    .generation
                    .as_ref()
                    .map(|g| g.plan.clone())
                    .unwrap_or_default(),
                findings: review.summary.clone(),
                metric: review.metric.and_then(MetricValue::new),
            })
        })
        .collect()
}

/// The code request that generates `node`: prompt and context from its parent (if any)
/// and the run's good nodes. `nodes` holds every node of the run.
pub fn code_request(
    info: &RunInfo,
    nodes: &[NodeRecord],
    node: &NodeRecord,
    direction: Option<Direction>,
) -> AuthorRequest {
    let memory = memory(nodes);
    let ctx = info.prompt_context(&memory, direction);
    let parent = node.parent.and_then(|p| nodes.iter().find(|n| n.id == p));
    let parent_code = parent
        .and_then(|p| p.generation.as_ref())
        .and_then(|g| g.code.clone())
        .unwrap_or_default();
    let parent_output = parent
        .and_then(|p| p.execution.as_ref())
        .map(|e| e.term_out.clone())
        .unwrap_or_else(|| {
            parent
                .and_then(|p| p.review.as_ref())
                .map(|r| r.summary.clone())
                .unwrap_or_default()
        });
    let parent_plan = parent
        .and_then(|p| p.generation.as_ref())
        .map(|g| g.plan.clone())
        .unwrap_or_default();
    let prompt = match (node.action, parent) {
        (Action::Improve, Some(_)) => improve_prompt(
            &ctx,
            &PreviousSolution {
                plan: &parent_plan,
                code: &parent_code,
                output: Some(&parent_output),
            },
        ),
        (Action::Debug, Some(_)) => debug_prompt(
            &ctx,
            &BuggySolution {
                code: &parent_code,
                output: &parent_output,
            },
        ),
        _ => draft_prompt(&ctx),
    };
    let settings = &info.settings;
    let draft_index = nodes
        .iter()
        .filter(|n| n.parent.is_none() && n.step < node.step)
        .count() as u32;
    AuthorRequest {
        purpose: LlmPurpose::Code,
        run_id: info.id,
        node_id: Some(node.id),
        model: settings.code.model.clone(),
        temperature: settings.code.temperature,
        prompt: prompt.render(),
        function: None,
        hints: AuthorHints {
            call: CallKind::from(node.action),
            task: info.facts(direction),
            parent_code,
            last_output: truncate_middle(&parent_output, OUTPUT_CAP_CHARS),
            step: node.step,
            seed: info.seed,
            draft_index,
            parent_metric: parent
                .and_then(|p| p.review.as_ref())
                .and_then(|r| r.metric),
        },
    }
}

/// The review request of an executed node: the forced `submit_review` call.
pub fn review_request(
    info: &RunInfo,
    node: &NodeRecord,
    code: &str,
    output: &str,
    direction: Option<Direction>,
) -> AuthorRequest {
    let ctx = info.prompt_context(&[], direction);
    let prompt = review_prompt(&ctx, &ExecutedSolution { code, output });
    let settings = &info.settings;
    AuthorRequest {
        purpose: LlmPurpose::Feedback,
        run_id: info.id,
        node_id: Some(node.id),
        model: settings.feedback.model.clone(),
        temperature: settings.feedback.temperature,
        prompt: prompt.render(),
        function: Some(review_function()),
        hints: AuthorHints {
            call: CallKind::Review,
            task: info.facts(direction),
            parent_code: code.to_owned(),
            last_output: truncate_middle(output, OUTPUT_CAP_CHARS),
            step: node.step,
            seed: info.seed,
            draft_index: 0,
            parent_metric: None,
        },
    }
}

/// The execution attempt `attempt` of `node`'s `code`.
pub fn script_run(info: &RunInfo, node: NodeId, attempt: u32, code: &str) -> ScriptRun {
    ScriptRun {
        run_id: info.id,
        node_id: node,
        attempt,
        code: code.to_owned(),
        input: info.input.clone(),
        timeout: Duration::from_secs(info.settings.exec_timeout_secs),
        submission_file: info.submission_file().map(str::to_owned),
        grading: None,
    }
}

/// The files of a task's input directory (two levels deep), relative to it, sorted.
pub fn input_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut walk = vec![(dir.to_path_buf(), 0)];
    while let Some((current, depth)) = walk.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if depth < 1 {
                    walk.push((path, depth + 1));
                }
            } else if let Ok(rel) = path.strip_prefix(dir) {
                files.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}
