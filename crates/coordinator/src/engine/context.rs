//! What the engine sends for one node: the rendered prompt and the structured
//! [`AideContext`] of a code request (draft, improve, debug) and of a review request, and
//! the execution request for a runner.

use std::path::Path;
use std::time::Duration;

use aide_core::prompt::OUTPUT_CAP_CHARS;
use aide_core::{
    Action, BuggySolution, Direction, ExecutedSolution, LlmPurpose, MemoryEntry, MemoryScope,
    MetricValue, NodeId, PreviousSolution, PromptContext, RunId, RunSettings, Task, TokenCounter,
    debug_prompt, draft_prompt, improve_prompt, merge_prompt, review_function, review_prompt,
    truncate_middle,
};
use aide_store::NodeRecord;

use super::ports::{AuthorHints, AuthorRequest, CallKind, PartnerHint, ScriptRun, TaskFacts};

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
        notes: &'a [String],
        direction: Option<Direction>,
    ) -> PromptContext<'a> {
        PromptContext::new(&self.task, &self.settings, &self.tokens)
            .with_memory(memory)
            .with_notes(notes)
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

/// The memory section's entries for `node`'s prompt under `scope`, oldest first: every good
/// node, the good nodes sharing its parent, or its reviewed ancestors (buggy ones included).
pub fn memory(nodes: &[NodeRecord], node: &NodeRecord, scope: MemoryScope) -> Vec<MemoryEntry> {
    let good = |n: &&NodeRecord| n.review.as_ref().is_some_and(|r| !r.is_buggy);
    let shown: Vec<&NodeRecord> = match scope {
        MemoryScope::All => nodes.iter().filter(good).collect(),
        MemoryScope::Siblings => nodes
            .iter()
            .filter(|n| n.parent == node.parent && n.id != node.id)
            .filter(good)
            .collect(),
        MemoryScope::Chain => {
            let mut chain = Vec::new();
            let mut at = node.parent;
            while let Some(ancestor) = at.and_then(|id| nodes.iter().find(|n| n.id == id)) {
                chain.push(ancestor);
                at = ancestor.parent;
            }
            chain.reverse();
            chain
        }
    };
    shown.into_iter().filter_map(memory_entry).collect()
}

/// What memory shows of a reviewed node.
fn memory_entry(n: &NodeRecord) -> Option<MemoryEntry> {
    let review = n.review.as_ref()?;
    Some(MemoryEntry {
        plan: n
            .generation
            .as_ref()
            .map(|g| g.plan.clone())
            .unwrap_or_default(),
        findings: review.summary.clone(),
        metric: review
            .metric
            .filter(|_| !review.is_buggy)
            .and_then(MetricValue::new),
    })
}

/// What a prompt shows of a node it starts from: plan, code, and output (or, without an
/// execution, its review's summary).
struct Shown {
    plan: String,
    code: String,
    output: String,
    metric: Option<f64>,
}

impl Shown {
    fn of(node: Option<&NodeRecord>) -> Self {
        let generation = node.and_then(|p| p.generation.as_ref());
        let output = node
            .and_then(|p| p.execution.as_ref())
            .map(|e| e.term_out.clone())
            .or_else(|| {
                node.and_then(|p| p.review.as_ref())
                    .map(|r| r.summary.clone())
            });
        Self {
            plan: generation.map(|g| g.plan.clone()).unwrap_or_default(),
            code: generation.and_then(|g| g.code.clone()).unwrap_or_default(),
            output: output.unwrap_or_default(),
            metric: node.and_then(|p| p.review.as_ref()).and_then(|r| r.metric),
        }
    }

    fn solution(&self) -> PreviousSolution<'_> {
        PreviousSolution {
            plan: &self.plan,
            code: &self.code,
            output: Some(&self.output),
        }
    }
}

/// The code request that generates `node`: prompt and context from its parent (if any),
/// the run's good nodes and the `notes` people added. `nodes` holds every node of the run.
pub fn code_request(
    info: &RunInfo,
    nodes: &[NodeRecord],
    node: &NodeRecord,
    notes: &[String],
    direction: Option<Direction>,
) -> AuthorRequest {
    let memory = memory(nodes, node, info.settings.search.memory);
    let ctx = info.prompt_context(&memory, notes, direction);
    let find = |id: Option<NodeId>| id.and_then(|id| nodes.iter().find(|n| n.id == id));
    let parent = find(node.parent);
    let partner = find(node.partner);
    let shown = Shown::of(parent);
    let prompt = match (node.action, parent, partner) {
        (Action::Improve, Some(_), _) => improve_prompt(&ctx, &shown.solution()),
        (Action::Debug, Some(_), _) => debug_prompt(
            &ctx,
            &BuggySolution {
                code: &shown.code,
                output: &shown.output,
            },
        ),
        (Action::Merge, Some(_), Some(_)) => {
            merge_prompt(&ctx, &shown.solution(), &Shown::of(partner).solution())
        }
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
            last_output: truncate_middle(&shown.output, OUTPUT_CAP_CHARS),
            parent_code: shown.code,
            step: node.step,
            seed: info.seed,
            draft_index,
            parent_metric: shown.metric,
            partner: partner.map(|p| {
                let shown = Shown::of(Some(p));
                PartnerHint {
                    code: shown.code,
                    metric: shown.metric,
                }
            }),
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
    let ctx = info.prompt_context(&[], &[], direction);
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
            partner: None,
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
