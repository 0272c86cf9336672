//! Runs, their trees and their events as the HTTP API shows them.

use std::collections::HashMap;

use aide_core::{NodeId, NodeStage};
use aide_store::{EventRecord, NodeRecord, RunRecord, Usage};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::outputs::{best_node, good_metric};

/// A run with the statistics of its tree and what it cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunSummary {
    pub id: Uuid,
    pub name: String,
    pub project: String,
    /// queued, running, completed, failed or cancelled.
    pub status: String,
    pub stop_reason: Option<String>,
    pub task_name: String,
    /// maximize or minimize, once known.
    pub direction: Option<String>,
    /// Nodes created, reviewed, and reviewed as buggy.
    pub nodes: u32,
    pub reviewed: u32,
    pub buggy: u32,
    /// The step budget.
    pub steps: u32,
    pub best_node_id: Option<Uuid>,
    pub best_metric: Option<f64>,
    pub cost_usd: f64,
    pub max_cost_usd: Option<f64>,
    pub max_run_secs: Option<u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub sweep_id: Option<Uuid>,
    /// The replica searching it, while it runs.
    pub owner: Option<String>,
    /// The node (of another run) whose code this run's first node is, when it is a fork.
    pub fork_of: Option<Uuid>,
}

impl RunSummary {
    pub fn of(run: &RunRecord, nodes: &[NodeRecord], usage: &Usage) -> Self {
        let reviewed: Vec<&NodeRecord> = nodes
            .iter()
            .filter(|n| n.stage == NodeStage::Reviewed)
            .collect();
        let buggy = reviewed
            .iter()
            .filter(|n| n.review.as_ref().is_some_and(|r| r.is_buggy))
            .count();
        let best = best_node(run, nodes);
        let terminal = run.status.is_terminal();
        Self {
            id: run.id.0,
            name: run.name.clone(),
            project: run.project.to_string(),
            status: run.status.to_string(),
            stop_reason: run.stop_reason.clone(),
            task_name: run.task.name.clone(),
            direction: run.direction.map(|d| d.as_str().to_owned()),
            nodes: count(nodes.len()),
            reviewed: count(reviewed.len()),
            buggy: count(buggy),
            steps: run.settings.steps,
            best_node_id: best.map(|b| b.id.0),
            best_metric: best.and_then(good_metric),
            cost_usd: usage.cost_usd,
            max_cost_usd: run.settings.max_cost_usd,
            max_run_secs: run.settings.max_run_secs,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            created_at: run.created_at,
            updated_at: run.updated_at,
            finished_at: run.finished_at,
            cancel_requested: run.cancel_requested && !terminal,
            sweep_id: run.sweep_id.map(|s| s.0),
            owner: if terminal { None } else { run.owner.clone() },
            fork_of: run.fork_of.map(|n| n.0),
        }
    }
}

/// Runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
}

/// One node of a tree, without its texts.
#[derive(Debug, Serialize, ToSchema)]
pub struct TreeNode {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    /// A merge's second parent.
    pub partner_id: Option<Uuid>,
    pub step: u32,
    /// draft, improve, debug or merge.
    pub action: String,
    /// pending, generated, executed or reviewed.
    pub stage: String,
    pub debug_depth: u32,
    /// pending, good or buggy.
    pub outcome: String,
    pub metric: Option<f64>,
    pub exc_type: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TreeNode {
    pub fn of(node: &NodeRecord) -> Self {
        Self {
            id: node.id.0,
            parent_id: node.parent.map(|p| p.0),
            partner_id: node.partner.map(|p| p.0),
            step: node.step,
            action: node.action.as_str().to_owned(),
            stage: node.stage.as_str().to_owned(),
            debug_depth: node.debug_depth,
            outcome: outcome(node).to_owned(),
            metric: node.review.as_ref().and_then(|r| r.metric),
            exc_type: node.execution.as_ref().and_then(|e| e.exc_type.clone()),
            created_at: node.created_at,
        }
    }
}

/// Whether a node is still under way, good or buggy.
pub fn outcome(node: &NodeRecord) -> &'static str {
    match (&node.review, node.stage) {
        (Some(review), NodeStage::Reviewed) if review.is_buggy => "buggy",
        (Some(_), NodeStage::Reviewed) => "good",
        _ => "pending",
    }
}

/// A run's whole tree, with the path from a draft to the best node.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunTree {
    pub run: RunSummary,
    pub nodes: Vec<TreeNode>,
    /// Node ids from the draft to the best node.
    pub best_path: Vec<Uuid>,
}

impl RunTree {
    pub fn of(run: &RunRecord, nodes: &[NodeRecord], usage: &Usage) -> Self {
        let summary = RunSummary::of(run, nodes, usage);
        let best_path = summary
            .best_node_id
            .map(|best| path_to(NodeId(best), nodes))
            .unwrap_or_default();
        Self {
            run: summary,
            nodes: nodes.iter().map(TreeNode::of).collect(),
            best_path,
        }
    }
}

/// The ids from the root of `node`'s branch down to `node`.
fn path_to(node: NodeId, nodes: &[NodeRecord]) -> Vec<Uuid> {
    let parents: HashMap<NodeId, Option<NodeId>> = nodes.iter().map(|n| (n.id, n.parent)).collect();
    let mut path = vec![node.0];
    let mut at = node;
    while let Some(Some(parent)) = parents.get(&at) {
        if path.len() > nodes.len() {
            break; // a cycle would be corrupt data; never loop on it
        }
        path.push(parent.0);
        at = *parent;
    }
    path.reverse();
    path
}

/// One entry of a run's event log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// run_created, run_started, node_created, node_reviewed, best_changed, run_finished, ...
    pub kind: String,
    /// The event's fields, as the journal stores them.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl EventView {
    pub fn of(record: &EventRecord) -> Self {
        Self {
            seq: record.seq,
            at: record.created_at,
            kind: record.event.kind().to_owned(),
            payload: record.event.payload(),
        }
    }
}

/// A page of a run's events, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
}

/// What a server-sent event carries: the event and the run right after it was stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiveEvent {
    #[serde(flatten)]
    pub event: EventView,
    pub run: RunSummary,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
