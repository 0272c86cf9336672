//! `journal.json` in the schema of the reference implementation's saved journal, so tools
//! written for it can read ours.
//!
//! The document is `{"nodes": [...], "node2parent": {child id: parent id}, "__version": "2"}`.
//! Each node carries the reference's fields: `code`, `plan`, `step`, `id`, `ctime` (Unix
//! seconds), `parent` (always `null`; the tree is in `node2parent`), `children` (always
//! `[]`), `_term_out` (the output as a list of lines that concatenate to it), `exec_time`,
//! `exc_type`, `exc_info`, `exc_stack`, `analysis`, `metric` (`{"value", "maximize"}`) and
//! `is_buggy`. Ids are our node ids in their canonical hyphenated form.
//!
//! Differences from the reference, all additive or forced by our model:
//! - only *reviewed* nodes are listed: the reference has no state for a node still being
//!   generated or executed (in-flight nodes appear in `tree.html`), and `node2parent` only
//!   names listed nodes;
//! - a buggy node's metric is `{"value": null, "maximize": null}` (the reference's worst
//!   value); a good node's `maximize` is `null` while the run's direction is not fixed;
//! - a node whose reply held no code never ran: `code` is `""`, `_term_out` is `[]`,
//!   `exec_time` is `0.0`;
//! - `exc_info` is `{"args": [message], "line": line in solution.py}` (the reference keeps
//!   the exception's `args` and a few attributes); `exc_stack` holds the traceback's frames
//!   as the reference's `[file, line, function, code]` tuples;
//! - a timed-out script has `exc_type` `TimeoutError`, as in the reference;
//! - extra per-node keys the reference ignores: `action`, `debug_depth`, `bug_reasons`, and
//!   `partner` (a merge's second parent, else `null`).

use aide_core::{Direction, NodeStage};
use aide_store::{NodeRecord, RunRecord};
use serde_json::{Map, Value, json};

/// The journal of the run's reviewed nodes, in step order.
pub fn journal_json(run: &RunRecord, nodes: &[NodeRecord]) -> Value {
    let reviewed: Vec<&NodeRecord> = super::by_step(nodes)
        .into_iter()
        .filter(|n| n.stage == NodeStage::Reviewed)
        .collect();
    let listed = |id| reviewed.iter().any(|n| n.id == id);
    let mut node2parent = Map::new();
    for node in &reviewed {
        if let Some(parent) = node.parent.filter(|p| listed(*p)) {
            node2parent.insert(node.id.to_string(), Value::String(parent.to_string()));
        }
    }
    let entries: Vec<Value> = reviewed
        .iter()
        .map(|node| journal_node(run.direction, node))
        .collect();
    json!({
        "nodes": entries,
        "node2parent": node2parent,
        "__version": "2",
    })
}

fn journal_node(direction: Option<Direction>, node: &NodeRecord) -> Value {
    let generation = node.generation.as_ref();
    let execution = node.execution.as_ref();
    let review = node.review.as_ref();
    let is_buggy = review.is_none_or(|r| r.is_buggy);
    let metric = match super::good_metric(node) {
        Some(value) => json!({
            "value": value,
            "maximize": direction.map(|d| d == Direction::Maximize),
        }),
        None => json!({ "value": null, "maximize": null }),
    };
    let term_out: Vec<&str> = execution
        .map(|e| e.term_out.split_inclusive('\n').collect())
        .unwrap_or_default();
    let exception = execution.and_then(|e| e.exc_info.as_ref());
    let exc_info = exception.map(|e| json!({"args": [e.message], "line": e.line}));
    let exc_stack = exception.map(|e| {
        e.stack()
            .into_iter()
            .map(|f| json!([f.file, f.line, f.function, f.code]))
            .collect::<Vec<_>>()
    });
    json!({
        "code": generation.and_then(|g| g.code.as_deref()).unwrap_or_default(),
        "plan": generation.map(|g| g.plan.as_str()).unwrap_or_default(),
        "step": node.step,
        "id": node.id.to_string(),
        "ctime": unix_seconds(node),
        "parent": null,
        "children": [],
        "_term_out": term_out,
        "exec_time": execution.map_or(0.0, |e| e.exec_time_secs),
        "exc_type": execution.and_then(|e| e.exc_type.clone()),
        "exc_info": exc_info,
        "exc_stack": exc_stack,
        "analysis": review.map(|r| r.summary.as_str()),
        "metric": metric,
        "is_buggy": is_buggy,
        "action": node.action.as_str(),
        "debug_depth": node.debug_depth,
        "partner": node.partner.map(|p| p.to_string()),
        "bug_reasons": review.map(|r| r.bug_reasons.iter().map(ToString::to_string).collect::<Vec<_>>()),
    })
}

/// The node's creation time as fractional Unix seconds, the reference's `ctime`.
fn unix_seconds(node: &NodeRecord) -> f64 {
    let t = node.created_at;
    t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6
}
