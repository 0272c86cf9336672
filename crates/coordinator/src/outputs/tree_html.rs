//! `tree.html`: one self-contained page (inline CSS and JS, no network) showing the run's
//! solution tree as nested lists, coloured best / good / buggy / in flight, with a detail
//! panel (plan, code, output, metric, review) for the selected node and a metric chart.
//!
//! Escaping: labels rendered here go through [`escape_html`]; the node data is embedded as
//! JSON in a `<script type="application/json">` block with `<`, `>`, `&` and the JS line
//! separators written as `\u` escapes, so no value can close the block; the script inserts
//! every value as text.

use std::collections::HashMap;
use std::fmt::Write as _;

use aide_core::metric::format_metric;
use aide_core::{Direction, NodeId};
use aide_store::{NodeRecord, RunRecord};
use serde_json::{Value, json};

use super::{NodeState, best_so_far, by_step, good_metric};

const TEMPLATE: &str = include_str!("tree.html.in");
const CSS: &str = include_str!("tree.css");
const JS: &str = include_str!("tree.js");

/// The page for the run's current nodes (reviewed and in flight).
pub fn tree_html(run: &RunRecord, nodes: &[NodeRecord]) -> String {
    let sorted = by_step(nodes);
    let best = super::best_node(run, nodes).map(|n| n.id);
    let trajectory = best_so_far(run, &sorted);

    let present: HashMap<NodeId, &NodeRecord> = sorted.iter().map(|n| (n.id, *n)).collect();
    let mut children: HashMap<NodeId, Vec<&NodeRecord>> = HashMap::new();
    let mut roots = Vec::new();
    for node in &sorted {
        match node.parent.filter(|p| present.contains_key(p)) {
            Some(parent) => children.entry(parent).or_default().push(node),
            None => roots.push(*node),
        }
    }

    let mut tree = String::from("<ul class=\"tree\">");
    for root in roots {
        render_subtree(&mut tree, root, &children, best);
    }
    tree.push_str("</ul>");
    if sorted.is_empty() {
        tree.push_str("<p class=\"hint\">No nodes yet.</p>");
    }

    let data_nodes: Vec<Value> = sorted
        .iter()
        .zip(&trajectory)
        .map(|(node, so_far)| {
            let kids = children
                .get(&node.id)
                .map(|c| c.iter().map(|k| k.id.to_string()).collect::<Vec<_>>())
                .unwrap_or_default();
            node_data(
                node,
                NodeState::of(node, best),
                so_far.map(|(_, m)| m),
                kids,
            )
        })
        .collect();
    let data = json!({
        "run": {
            "id": run.id.to_string(),
            "name": run.name,
            "task": run.task.name,
            "status": run.status.as_str(),
            "direction": run.direction.map(Direction::as_str),
            "metric_name": run.task.metric.name,
        },
        "best": best.map(|b| b.to_string()),
        "nodes": data_nodes,
    });

    let title = format!("aide · {} · solution tree", run.name);
    let heading = format!("{} — solution tree", run.name);
    fill(TEMPLATE, |key| match key {
        "TITLE" => escape_html(&title),
        "HEADING" => escape_html(&heading),
        "SUMMARY" => summary_line(run, &sorted, best),
        "TREE" => tree.clone(),
        "CSS" => CSS.to_string(),
        "JS" => JS.to_string(),
        "DATA" => script_json(&data),
        _ => String::new(),
    })
}

fn render_subtree(
    out: &mut String,
    node: &NodeRecord,
    children: &HashMap<NodeId, Vec<&NodeRecord>>,
    best: Option<NodeId>,
) {
    let state = NodeState::of(node, best);
    let class = match state {
        NodeState::InFlight(_) => "inflight",
        other => other.label(),
    };
    let shown = match (state, good_metric(node)) {
        (NodeState::Best, Some(m)) => format!("★ {}", format_metric(m)),
        (_, Some(m)) => format_metric(m),
        (NodeState::InFlight(_), None) => format!("{}…", state.label()),
        _ => "buggy".into(),
    };
    let _ = write!(
        out,
        "<li><button type=\"button\" class=\"node {class}\" data-id=\"{id}\" title=\"{id}\">\
         <span class=\"step\">#{step}</span> {action}<span class=\"metric\">{shown}</span></button>",
        id = escape_html(&node.id.to_string()),
        step = node.step,
        action = node.action.as_str(),
        shown = escape_html(&shown),
    );
    if let Some(kids) = children.get(&node.id) {
        out.push_str("<ul>");
        for kid in kids {
            render_subtree(out, kid, children, best);
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>");
}

fn node_data(
    node: &NodeRecord,
    state: NodeState,
    best_so_far: Option<f64>,
    children: Vec<String>,
) -> Value {
    let generation = node.generation.as_ref();
    let execution = node.execution.as_ref();
    let review = node.review.as_ref();
    let class = match state {
        NodeState::InFlight(_) => "inflight",
        other => other.label(),
    };
    json!({
        "id": node.id.to_string(),
        "step": node.step,
        "parent": node.parent.map(|p| p.to_string()),
        "partner": node.partner.map(|p| p.to_string()),
        "children": children,
        "action": node.action.as_str(),
        "state": class,
        "state_label": state.label(),
        "stage": node.stage.as_str(),
        "debug_depth": node.debug_depth,
        "metric": good_metric(node),
        "best_so_far": best_so_far,
        "plan": generation.map(|g| g.plan.as_str()),
        "code": generation.and_then(|g| g.code.as_deref()),
        "raw_reply": generation.and_then(|g| g.raw_reply.as_deref()),
        "output": execution.map(|e| e.term_out.as_str()),
        "exec_time": execution.map(|e| e.exec_time_secs),
        "timed_out": execution.is_some_and(|e| e.timed_out),
        "exit_code": execution.and_then(|e| e.exit_code),
        "exc_type": execution.and_then(|e| e.exc_type.as_deref()),
        "summary": review.map(|r| r.summary.as_str()),
        "bug_reasons": review.map(|r| r.bug_reasons.iter().map(ToString::to_string).collect::<Vec<_>>()),
    })
}

fn summary_line(run: &RunRecord, sorted: &[&NodeRecord], best: Option<NodeId>) -> String {
    let count = |wanted: fn(NodeState) -> bool| {
        sorted
            .iter()
            .filter(|n| wanted(NodeState::of(n, best)))
            .count()
    };
    let good = count(|s| matches!(s, NodeState::Good | NodeState::Best));
    let buggy = count(|s| s == NodeState::Buggy);
    let in_flight = count(|s| matches!(s, NodeState::InFlight(_)));
    let metric = run.task.metric.name.as_deref().unwrap_or("metric");
    let direction = run
        .direction
        .map_or("direction not fixed yet", Direction::as_str);
    let best_text = best
        .and_then(|id| sorted.iter().find(|n| n.id == id))
        .and_then(|n| good_metric(n).map(|m| format!("{} at step {}", format_metric(m), n.step)))
        .unwrap_or_else(|| "none yet".into());
    format!(
        "task <b>{task}</b> · status <b>{status}</b> · {metric} ({direction}) · best <b>{best}</b> · \
         {total} nodes: {good} good, {buggy} buggy, {in_flight} in flight",
        task = escape_html(&run.task.name),
        status = run.status.as_str(),
        metric = escape_html(metric),
        best = escape_html(&best_text),
        total = sorted.len(),
    )
}

/// Replaces each `{{KEY}}` of `template` in one pass, so substituted text is never scanned.
fn fill(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&value(&rest[start + 2..start + 2 + len]));
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Text safe in HTML element content and quoted attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON safe inside a `<script>` element: these characters only occur inside JSON strings,
/// where their `\u` escapes mean the same.
fn script_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script_and_still_parses() {
        let value = json!({"code": "</script><b>x</b> & \u{2028}"});
        let text = script_json(&value);
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        assert_eq!(serde_json::from_str::<Value>(&text).expect("parses"), value);
    }

    #[test]
    fn fill_does_not_rescan_substituted_text() {
        let out = fill("a{{X}}b{{Y}}c", |k| match k {
            "X" => "{{Y}}".into(),
            _ => "y".into(),
        });
        assert_eq!(out, "a{{Y}}byc");
    }
}
