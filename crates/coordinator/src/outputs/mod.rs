//! A run's outputs on disk: best solution, best submission, journal, tree, config and report.
//!
//! [`RunOutputs::refresh`] is called after every reviewed node and rewrites, each file
//! atomically (temp file in the same directory, then rename):
//!
//! | file | content |
//! |---|---|
//! | `best_solution.py` | the code of the [`best_node`]; absent while no node is good |
//! | `best_<submission file>` | the best node's submission, when the caller knows its bytes |
//! | `best.json` | which node the two files above come from (id, step, metric, file names) |
//! | `journal.json` | the reviewed nodes in the reference implementation's schema ([`journal_json`]) |
//! | `tree.html` | a self-contained, offline viewer of the whole tree ([`tree_html`]) |
//! | `config.json` | the resolved task, settings, direction and seed of the run |
//!
//! [`RunOutputs::write_report`] writes `report.md` ([`report_md`]) when the run ends, with
//! the prompt size per step by purpose from the run's LLM calls. The run loop refreshes
//! through an [`OutputsWriter`], which writes in the background.
//! Every function here is deterministic: the same run and nodes give the same bytes.

mod files;
mod journal;
mod prompt_size;
mod report;
mod tree_html;
mod writer;

use std::path::{Path, PathBuf};

use aide_core::{Direction, MetricValue, NodeId, NodeStage};
use aide_store::{LlmCallRecord, NodeRecord, RunRecord, Usage};
use serde_json::json;

pub use journal::journal_json;
pub use report::report_md;
pub use tree_html::tree_html;
pub use writer::OutputsWriter;

/// File names inside the outputs directory.
pub const BEST_SOLUTION_FILE: &str = "best_solution.py";
pub const BEST_MARKER_FILE: &str = "best.json";
pub const JOURNAL_FILE: &str = "journal.json";
pub const TREE_FILE: &str = "tree.html";
pub const CONFIG_FILE: &str = "config.json";
pub const REPORT_FILE: &str = "report.md";

/// The outputs directory of one run.
#[derive(Debug, Clone)]
pub struct RunOutputs {
    dir: PathBuf,
}

impl RunOutputs {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rewrites every output but the report, so the directory reflects `nodes` now.
    ///
    /// `best_submission` is the file name and bytes of the [`best_node`]'s submission when
    /// the caller knows them; it is written as `best_<file name>`. With `None`, a submission
    /// file written earlier for the same best node is kept, and one written for another node
    /// is removed, so the directory never shows a submission of a node that is not the best.
    /// While no node is good, none of the best-node files exist.
    pub fn refresh(
        &self,
        run: &RunRecord,
        nodes: &[NodeRecord],
        best_submission: Option<(&str, &[u8])>,
    ) -> Result<(), crate::Error> {
        files::create_dir(&self.dir)?;
        files::remove_stale_temps(&self.dir);
        let best = best_node(run, nodes);
        self.refresh_best(run, best, best_submission)?;
        let journal = files::pretty_json(&journal_json(run, nodes));
        files::write_atomic(&self.dir.join(JOURNAL_FILE), journal.as_bytes())?;
        files::write_atomic(&self.dir.join(TREE_FILE), tree_html(run, nodes).as_bytes())?;
        let config = files::pretty_json(&config_json(run));
        files::write_atomic(&self.dir.join(CONFIG_FILE), config.as_bytes())?;
        Ok(())
    }

    /// Writes `report.md` and returns its path.
    pub fn write_report(
        &self,
        run: &RunRecord,
        nodes: &[NodeRecord],
        usage: Option<&Usage>,
        calls: &[LlmCallRecord],
        llm_report: Option<&str>,
    ) -> Result<PathBuf, crate::Error> {
        files::create_dir(&self.dir)?;
        let path = self.dir.join(REPORT_FILE);
        let text = report_md(run, nodes, usage, calls, llm_report);
        files::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    fn refresh_best(
        &self,
        run: &RunRecord,
        best: Option<&NodeRecord>,
        submission: Option<(&str, &[u8])>,
    ) -> Result<(), crate::Error> {
        let previous = files::read_marker(&self.dir.join(BEST_MARKER_FILE));
        let Some(best) = best else {
            // No good node (yet): nothing to write, and nothing earlier can be current.
            return Ok(());
        };
        let code = best
            .generation
            .as_ref()
            .and_then(|g| g.code.as_deref())
            .unwrap_or_default();
        files::write_atomic(&self.dir.join(BEST_SOLUTION_FILE), code.as_bytes())?;

        let same_node = previous.as_ref().is_some_and(|p| p.node_id == best.id);
        let submission_file = match submission {
            Some((name, bytes)) => {
                let file = files::best_submission_name(name);
                files::write_atomic(&self.dir.join(&file), bytes)?;
                Some(file)
            }
            None if same_node => previous.as_ref().and_then(|p| p.submission_file.clone()),
            None => None,
        };
        // A submission file of an earlier best that is not the one kept now is stale.
        if let Some(old) = previous.as_ref().and_then(|p| p.submission_file.as_deref())
            && submission_file.as_deref() != Some(old)
            && files::is_plain_file_name(old)
        {
            files::remove_if_exists(&self.dir.join(old))?;
        }
        let marker = json!({
            "node_id": best.id.to_string(),
            "step": best.step,
            "metric": good_metric(best),
            "direction": run.direction.map(Direction::as_str),
            "solution_file": BEST_SOLUTION_FILE,
            "submission_file": submission_file,
        });
        files::write_atomic(
            &self.dir.join(BEST_MARKER_FILE),
            files::pretty_json(&marker).as_bytes(),
        )
    }
}

/// The best node under the run's direction ([`crate::tree::best_node`]: the rule the
/// engine and the API use too).
pub fn best_node<'a>(run: &RunRecord, nodes: &'a [NodeRecord]) -> Option<&'a NodeRecord> {
    crate::tree::best_node(run.direction, nodes)
}

/// The resolved configuration of a run, as `config.json` holds it.
pub fn config_json(run: &RunRecord) -> serde_json::Value {
    json!({
        "run_id": run.id.to_string(),
        "name": run.name,
        "seed": run.seed,
        "direction": run.direction.map(Direction::as_str),
        "task": run.task,
        "settings": run.settings,
    })
}

// ---- helpers shared by the writers ----

/// The metric of a good node: reviewed, not buggy, finite metric.
pub(crate) fn good_metric(node: &NodeRecord) -> Option<f64> {
    if node.stage != NodeStage::Reviewed {
        return None;
    }
    let review = node.review.as_ref()?;
    if review.is_buggy {
        return None;
    }
    review.metric.filter(|m| m.is_finite())
}

/// Nodes in step order (ties by id, so the order is total).
pub(crate) fn by_step(nodes: &[NodeRecord]) -> Vec<&NodeRecord> {
    let mut sorted: Vec<&NodeRecord> = nodes.iter().collect();
    sorted.sort_by_key(|n| (n.step, n.id));
    sorted
}

/// For each node in step order, the best good node reached up to and including it (the
/// same comparison as [`best_node`]: strictly better replaces, the earliest wins ties).
pub(crate) fn best_so_far<'a>(
    run: &RunRecord,
    sorted: &[&'a NodeRecord],
) -> Vec<Option<(&'a NodeRecord, f64)>> {
    let mut best: Option<(&NodeRecord, f64)> = None;
    sorted
        .iter()
        .map(|node| {
            if let Some(metric) = good_metric(node) {
                let replace = match best {
                    None => true,
                    Some((_, incumbent)) => run.direction.is_some_and(|d| {
                        match (MetricValue::new(metric), MetricValue::new(incumbent)) {
                            (Some(m), Some(i)) => m.is_better_than(i, d),
                            _ => false,
                        }
                    }),
                };
                if replace {
                    best = Some((node, metric));
                }
            }
            best
        })
        .collect()
}

/// What a node is, for colouring and counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeState {
    InFlight(NodeStage),
    Buggy,
    Good,
    Best,
}

impl NodeState {
    pub(crate) fn of(node: &NodeRecord, best: Option<NodeId>) -> Self {
        if node.stage != NodeStage::Reviewed {
            return Self::InFlight(node.stage);
        }
        if best == Some(node.id) {
            return Self::Best;
        }
        match good_metric(node) {
            Some(_) => Self::Good,
            None => Self::Buggy,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::InFlight(NodeStage::Pending) => "pending",
            Self::InFlight(NodeStage::Generated) => "generated",
            Self::InFlight(_) => "executed",
            Self::Buggy => "buggy",
            Self::Good => "good",
            Self::Best => "best",
        }
    }
}
