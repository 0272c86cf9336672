//! What the engine sends for one node: the rendered prompt and the structured
//! [`AideContext`] of a code request (draft, improve, debug) and of a review request, and
//! the execution request for a runner.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aide_core::prompt::OUTPUT_CAP_CHARS;
use aide_core::{
    Action, BuggySolution, Direction, ExecutedSolution, LlmPurpose, MemoryEntry, MetricValue,
    NodeId, PreviousSolution, PromptContext, RunId, RunSettings, Task, debug_prompt, draft_prompt,
    improve_prompt, review_function, review_prompt, truncate_middle,
};
use aide_proto::v1::{
    self, ActionKind, AideContext, ChatMessage, CompleteRequest, Role, TaskFacts, WorkContext,
};
use aide_store::NodeRecord;

use super::ports::ScriptRun;

/// How long the engine waits for one gateway answer (set as the request's deadline).
pub const AUTHOR_DEADLINE: Duration = Duration::from_secs(600);

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
        PromptContext::new(&self.task, &self.settings)
            .with_memory(memory)
            .with_data_preview(self.preview.as_deref())
            .with_direction(direction)
    }

    pub(super) fn facts(&self, direction: Option<Direction>) -> TaskFacts {
        let task = &self.task;
        let sample = task
            .submission
            .as_ref()
            .and_then(|s| s.sample.as_ref())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        TaskFacts {
            goal: task.goal.clone(),
            eval: task.eval.clone().unwrap_or_default(),
            metric_name: task.metric.name.clone().unwrap_or_default(),
            direction: direction
                .map(v1::MetricDirection::from)
                .unwrap_or(v1::MetricDirection::Unspecified)
                .into(),
            input_files: self.input_files.clone(),
            submission_file: task
                .submission
                .as_ref()
                .map(|s| s.file_name.clone())
                .unwrap_or_default(),
            sample_submission: sample,
            k_fold: self.settings.k_fold_validation,
            exec_timeout_secs: self.settings.exec_timeout_secs,
        }
    }

    fn work(&self, node: NodeId, attempt: u32, within: Duration) -> WorkContext {
        WorkContext {
            run_id: self.id.to_string(),
            node_id: node.to_string(),
            attempt,
            deadline: Some((SystemTime::now() + within).into()),
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
) -> CompleteRequest {
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
    CompleteRequest {
        work: Some(info.work(node.id, 1, AUTHOR_DEADLINE)),
        model: settings.code.model.clone(),
        messages: vec![user(prompt.render())],
        temperature: Some(settings.code.temperature),
        max_tokens: None,
        function: None,
        cache: None,
        aide: Some(AideContext {
            action: ActionKind::from(node.action).into(),
            task: Some(info.facts(direction)),
            parent_code,
            last_output: truncate_middle(&parent_output, OUTPUT_CAP_CHARS),
            step: node.step,
            seed: info.seed,
            draft_index,
            parent_metric: parent
                .and_then(|p| p.review.as_ref())
                .and_then(|r| r.metric),
        }),
        purpose: LlmPurpose::Code.to_string(),
    }
}

/// The review request of an executed node: the forced `submit_review` call.
pub fn review_request(
    info: &RunInfo,
    node: &NodeRecord,
    code: &str,
    output: &str,
    direction: Option<Direction>,
) -> CompleteRequest {
    let ctx = info.prompt_context(&[], direction);
    let prompt = review_prompt(&ctx, &ExecutedSolution { code, output });
    let spec = review_function();
    let settings = &info.settings;
    CompleteRequest {
        work: Some(info.work(node.id, 1, AUTHOR_DEADLINE)),
        model: settings.feedback.model.clone(),
        messages: vec![user(prompt.render())],
        temperature: Some(settings.feedback.temperature),
        max_tokens: None,
        function: Some(v1::FunctionSpec {
            name: spec.name,
            description: spec.description,
            parameters_json: spec.parameters.to_string(),
        }),
        cache: None,
        aide: Some(AideContext {
            action: ActionKind::Review.into(),
            task: Some(info.facts(direction)),
            parent_code: code.to_owned(),
            last_output: truncate_middle(output, OUTPUT_CAP_CHARS),
            step: node.step,
            seed: info.seed,
            draft_index: 0,
            parent_metric: None,
        }),
        purpose: LlmPurpose::Feedback.to_string(),
    }
}

/// The execution attempt `attempt` of `node`'s `code`.
pub fn script_run(info: &RunInfo, node: NodeId, attempt: u32, code: &str) -> ScriptRun {
    ScriptRun {
        run_id: info.id,
        node_id: node,
        attempt,
        code: code.to_owned(),
        input_dir: std::path::absolute(&info.task.data_dir)
            .unwrap_or_else(|_| info.task.data_dir.clone()),
        timeout: Duration::from_secs(info.settings.exec_timeout_secs),
        submission_file: info.submission_file().map(str::to_owned),
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

fn user(content: String) -> ChatMessage {
    ChatMessage {
        role: Role::User.into(),
        content,
    }
}
