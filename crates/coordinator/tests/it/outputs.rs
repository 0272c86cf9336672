//! The run outputs on disk: every file written by `RunOutputs::refresh` and `write_report`,
//! read back as real files and parsed as real JSON.

#[path = "outputs/fixture.rs"]
mod fixture;

use std::path::Path;

use aide_coordinator::outputs::{RunOutputs, best_node, journal_json, report_md, tree_html};
use aide_core::{Direction, LlmPurpose, NodeStage};
use aide_store::{CallUsage, LlmCallRecord, NodeRecord, PromptSize, RunRecord, Usage};
use fixture::{INJECTION, Tree, run, submission_of};
use serde_json::Value;

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn read_json(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&read(dir, name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn refresh_with_best(outputs: &RunOutputs, run: &RunRecord, tree: &Tree) {
    let best = best_node(run, &tree.nodes).expect("a best node");
    let bytes = submission_of(best);
    outputs
        .refresh(run, &tree.nodes, Some(("submission.csv", &bytes)))
        .expect("refresh");
}

#[test]
fn refresh_writes_every_file_and_the_report_is_separate() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("outputs/run-1");
    let outputs = RunOutputs::new(&out_dir);
    refresh_with_best(&outputs, &run, &tree);
    assert_eq!(
        listing(&out_dir),
        [
            "best.json",
            "best_solution.py",
            "best_submission.csv",
            "config.json",
            "journal.json",
            "tree.html"
        ]
    );
    let config = read_json(&out_dir, "config.json");
    assert_eq!(config["direction"], "minimize");
    assert_eq!(config["seed"], 7);
    assert_eq!(config["task"]["name"], "house-prices");
    assert_eq!(config["task"]["metric"]["name"], "rmse");
    assert_eq!(config["settings"]["steps"], 8);
    assert_eq!(config["settings"]["search"]["num_drafts"], 5);

    let path = outputs
        .write_report(&run, &tree.nodes, None, &[], None)
        .expect("report");
    assert_eq!(path, out_dir.join("report.md"));
    assert!(read(&out_dir, "report.md").starts_with("# Run report:"));
}

#[test]
fn best_solution_follows_the_direction_and_ties_go_to_the_earliest() {
    for (direction, expected_step) in [
        (Some(Direction::Minimize), 3), // 0.20 at steps 3 and 5: the earlier wins
        (Some(Direction::Maximize), 6), // 0.35
        (None, 0),                      // direction not fixed: the earliest good node
    ] {
        let run = run(direction);
        let tree = Tree::new(&run);
        assert_eq!(
            best_node(&run, &tree.nodes).map(|n| n.step),
            Some(expected_step),
            "{direction:?}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let outputs = RunOutputs::new(dir.path());
        refresh_with_best(&outputs, &run, &tree);
        assert_eq!(
            read(dir.path(), "best_solution.py"),
            tree.code(expected_step),
            "{direction:?}"
        );
        let marker = read_json(dir.path(), "best.json");
        assert_eq!(marker["step"], expected_step);
        assert_eq!(
            marker["node_id"],
            tree.at_step(expected_step).id.to_string()
        );
    }
}

#[test]
fn best_submission_is_the_best_nodes_and_a_stale_one_is_removed() {
    let minimize = run(Some(Direction::Minimize));
    let tree = Tree::new(&minimize);
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = RunOutputs::new(dir.path());
    refresh_with_best(&outputs, &minimize, &tree);
    // The last node reviewed is step 6; the best is step 3.
    assert_eq!(
        std::fs::read(dir.path().join("best_submission.csv")).expect("submission"),
        submission_of(tree.at_step(3))
    );
    assert_ne!(
        submission_of(tree.at_step(3)),
        submission_of(tree.at_step(6))
    );

    // Same best, bytes not passed this time: the file of that best node stays.
    outputs
        .refresh(&minimize, &tree.nodes, None)
        .expect("refresh");
    assert_eq!(
        std::fs::read(dir.path().join("best_submission.csv")).expect("kept"),
        submission_of(tree.at_step(3))
    );
    assert_eq!(
        read_json(dir.path(), "best.json")["submission_file"],
        "best_submission.csv"
    );

    // The best changes (same directory, maximize now) and no bytes are known: the file of
    // the old best must not be presented as the new best's.
    let mut maximize = minimize.clone();
    maximize.direction = Some(Direction::Maximize);
    outputs
        .refresh(&maximize, &tree.nodes, None)
        .expect("refresh");
    assert!(!dir.path().join("best_submission.csv").exists());
    assert_eq!(read(dir.path(), "best_solution.py"), tree.code(6));
    assert_eq!(
        read_json(dir.path(), "best.json")["submission_file"],
        Value::Null
    );
}

#[test]
fn without_a_good_node_only_journal_tree_and_config_are_written() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    // Keep the buggy draft (1), the buggy timeout draft (4) and the in-flight node (7).
    let nodes: Vec<NodeRecord> = tree
        .nodes
        .iter()
        .filter(|n| [1, 4, 7].contains(&n.step))
        .cloned()
        .collect();
    assert!(best_node(&run, &nodes).is_none());
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = RunOutputs::new(dir.path());
    outputs
        .refresh(&run, &nodes, Some(("submission.csv", b"ignored")))
        .expect("refresh");
    assert_eq!(
        listing(dir.path()),
        ["config.json", "journal.json", "tree.html"]
    );
    let journal = read_json(dir.path(), "journal.json");
    assert_eq!(journal["nodes"].as_array().expect("nodes").len(), 2);
    assert!(read(dir.path(), "tree.html").contains(&tree.at_step(7).id.to_string()));
}

#[test]
fn journal_has_the_reference_shape() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = RunOutputs::new(dir.path());
    refresh_with_best(&outputs, &run, &tree);
    let journal = read_json(dir.path(), "journal.json");
    assert_eq!(journal, journal_json(&run, &tree.nodes));
    assert_eq!(journal["__version"], "2");

    let nodes = journal["nodes"].as_array().expect("nodes list");
    // Only reviewed nodes, in step order: the in-flight step 7 is left out.
    let steps: Vec<u64> = nodes
        .iter()
        .map(|n| n["step"].as_u64().expect("step"))
        .collect();
    assert_eq!(steps, [0, 1, 2, 3, 4, 5, 6]);
    for node in nodes {
        for field in [
            "code",
            "plan",
            "step",
            "id",
            "ctime",
            "parent",
            "children",
            "_term_out",
            "exec_time",
            "exc_type",
            "exc_info",
            "exc_stack",
            "analysis",
            "metric",
            "is_buggy",
        ] {
            assert!(node.get(field).is_some(), "missing {field} in {node}");
        }
        assert!(node["parent"].is_null(), "the tree lives in node2parent");
        assert_eq!(node["children"], serde_json::json!([]));
        assert!(node["_term_out"].is_array());
        assert!(node["ctime"].is_f64());
        assert!(node["exec_time"].is_f64());
        assert!(node["is_buggy"].is_boolean());
        let metric = node["metric"].as_object().expect("metric object");
        assert_eq!(metric.len(), 2, "{metric:?}");
        if node["is_buggy"] == true {
            assert!(metric["value"].is_null() && metric["maximize"].is_null());
        } else {
            assert!(metric["value"].is_f64());
            assert_eq!(metric["maximize"], false);
        }
    }

    // The parent map matches the records, child id → parent id, drafts absent.
    let map = journal["node2parent"].as_object().expect("node2parent");
    assert_eq!(
        map.len(),
        4,
        "steps 2, 3, 5 and 6; the in-flight 7 is not listed"
    );
    for record in tree.nodes.iter().filter(|n| n.stage == NodeStage::Reviewed) {
        let entry = map.get(&record.id.to_string());
        assert_eq!(
            entry.and_then(Value::as_str),
            record.parent.map(|p| p.to_string()).as_deref(),
            "step {}",
            record.step
        );
    }

    // The buggy node, field by field.
    let buggy = nodes.iter().find(|n| n["step"] == 1).expect("step 1");
    let record = tree.at_step(1);
    assert_eq!(buggy["id"], record.id.to_string());
    assert_eq!(buggy["code"], tree.code(1));
    assert_eq!(
        buggy["plan"],
        "Plan of step 1: gradient boosting variant 1."
    );
    let joined: String = buggy["_term_out"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l.as_str().expect("line"))
        .collect();
    assert_eq!(
        joined,
        record.execution.as_ref().expect("executed").term_out
    );
    assert_eq!(buggy["_term_out"].as_array().map(Vec::len), Some(2));
    assert_eq!(buggy["exc_type"], "KeyError");
    assert_eq!(buggy["exc_info"]["args"][0], "SalePrice");
    assert_eq!(buggy["exc_stack"][0][0], "runfile.py");
    assert_eq!(buggy["analysis"], "Review of step 1.");
    assert_eq!(buggy["is_buggy"], true);
    assert_eq!(buggy["exec_time"], 11.0);
    let ctime = buggy["ctime"].as_f64().expect("ctime");
    assert!((ctime - (1_760_000_060.25)).abs() < 1e-6, "{ctime}");

    let good = nodes.iter().find(|n| n["step"] == 3).expect("step 3");
    assert_eq!(
        good["metric"],
        serde_json::json!({"value": 0.2, "maximize": false})
    );
    assert_eq!(good["is_buggy"], false);

    // Maximize runs say so, and an unfixed direction is null.
    let journal = journal_json(
        &{
            let mut r = run.clone();
            r.direction = Some(Direction::Maximize);
            r
        },
        &tree.nodes,
    );
    assert_eq!(journal["nodes"][0]["metric"]["maximize"], true);
    let journal = journal_json(
        &{
            let mut r = run.clone();
            r.direction = None;
            r
        },
        &tree.nodes,
    );
    assert!(journal["nodes"][0]["metric"]["maximize"].is_null());
    assert_eq!(journal["nodes"][0]["metric"]["value"], 0.3);
}

#[test]
fn tree_html_holds_every_node_escaped_and_offline() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = RunOutputs::new(dir.path());
    refresh_with_best(&outputs, &run, &tree);
    let html = read(dir.path(), "tree.html");
    assert_eq!(html, tree_html(&run, &tree.nodes));
    for node in &tree.nodes {
        assert!(html.contains(&node.id.to_string()), "step {}", node.step);
    }
    // The injected markup never appears as markup, only escaped.
    assert!(!html.contains("<b>pwned"), "unescaped injection");
    assert!(!html.contains(INJECTION));
    assert_eq!(
        html.matches("</script>").count(),
        html.matches("<script").count()
    );
    assert!(html.contains("\\u003c/script\\u003e\\u003cb\\u003epwned"));
    assert!(
        html.contains("house-prices &lt;demo&gt;"),
        "run name escaped"
    );
    // Self-contained: no external resource anywhere.
    let lower = html.to_ascii_lowercase();
    for attr in ["src=", "href=", "@import", "url("] {
        for (i, _) in lower.match_indices(attr) {
            let rest = &lower[i + attr.len()..];
            let rest = rest.trim_start_matches(['"', '\'', ' ']);
            assert!(
                !rest.starts_with("http:")
                    && !rest.starts_with("https:")
                    && !rest.starts_with("//"),
                "external reference at {i}: {}",
                &lower[i..(i + 60).min(lower.len())]
            );
        }
    }
    assert!(!lower.contains("<link"));
    // The data is embedded and parses; states are right.
    let start = html.find("id=\"aide-data\">").expect("data block") + "id=\"aide-data\">".len();
    let end = start + html[start..].find("</script>").expect("end of data");
    let data: Value = serde_json::from_str(&html[start..end]).expect("embedded JSON");
    assert_eq!(data["best"], tree.at_step(3).id.to_string());
    let nodes = data["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 8);
    let state =
        |step: u64| nodes.iter().find(|n| n["step"] == step).expect("node")["state"].clone();
    assert_eq!(state(3), "best");
    assert_eq!(state(0), "good");
    assert_eq!(state(1), "buggy");
    assert_eq!(state(7), "inflight");
    assert_eq!(nodes[1]["code"], tree.code(1));
    // Nested lists: the children of step 3 sit inside its list item.
    let item3 = html
        .find(&format!("data-id=\"{}\"", tree.at_step(3).id))
        .expect("step 3");
    let item7 = html
        .find(&format!("data-id=\"{}\"", tree.at_step(7).id))
        .expect("step 7");
    assert!(item3 < item7);
    assert!(html[item3..item7].contains("<ul>"));
}

#[test]
fn report_lists_every_step_with_the_trajectory_and_the_best() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    let usage = Usage {
        calls: 15,
        prompt_tokens: 42_000,
        completion_tokens: 9_000,
        cached_tokens: 1_000,
        cost_usd: 0.1234,
    };
    let report = report_md(
        &run,
        &tree.nodes,
        Some(&usage),
        &[],
        Some("The boosting family won."),
    );
    let rows: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| step"))
        .collect();
    assert_eq!(rows.len(), 8, "{report}");
    assert_eq!(rows[0], "| 0 | draft | — | 0.3 | 0.3 (#0) |");
    assert!(
        rows[1].starts_with("| 1 | draft | — | buggy: the script raised KeyError"),
        "{}",
        rows[1]
    );
    assert!(rows[1].ends_with("| 0.3 (#0) |"));
    assert_eq!(rows[2], "| 2 | debug | #1 | 0.25 | 0.25 (#2) |");
    assert_eq!(rows[3], "| 3 | improve | #2 | **0.2** (best) | 0.2 (#3) |");
    assert_eq!(rows[5], "| 5 | improve | #3 | 0.2 | 0.2 (#3) |");
    assert_eq!(rows[6], "| 6 | improve | #3 | 0.35 | 0.2 (#3) |");
    assert_eq!(
        rows[7],
        "| 7 | improve | #3 | in flight (generated) | 0.2 (#3) |"
    );
    assert!(report.contains("Step 3 (improve), metric **0.2**"));
    assert!(report.contains("Plan of step 3: gradient boosting variant 3."));
    assert!(report.contains("Review of step 3."));
    assert!(report.contains("- Nodes: 8 (draft 3, improve 4, debug 1)"));
    assert!(report.contains("- Outcomes: 5 good, 2 buggy, 1 not reviewed"));
    assert!(report.contains("42000 prompt (1000 cached), 9000 completion"));
    assert!(report.contains("$0.1234"));
    assert!(report.ends_with("The boosting family won.\n"));

    let plain = report_md(&run, &[], None, &[], None);
    assert!(plain.contains("no best solution"));
    assert!(!plain.contains("LLM usage") && !plain.contains("Narrative"));
}

/// A model call of the ledger, for the report's prompt-size section.
fn call(
    node: Option<&NodeRecord>,
    purpose: LlmPurpose,
    tokens: u64,
    reported: u64,
) -> LlmCallRecord {
    LlmCallRecord {
        id: 0,
        node_id: node.map(|n| n.id),
        purpose,
        usage: CallUsage {
            prompt_tokens: reported,
            ..CallUsage::default()
        },
        prompt: Some(PromptSize {
            chars: tokens * 4,
            tokens,
        }),
        created_at: chrono::Utc::now(),
    }
}

#[test]
fn report_gives_prompt_tokens_per_step_by_purpose() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    // Steps 0 and 1 are drafts, 2 a debug, 3 an improvement; every step is reviewed.
    let mut calls: Vec<LlmCallRecord> = [(0, 1000), (1, 1200), (2, 3000), (3, 2500)]
        .into_iter()
        .map(|(step, tokens)| call(Some(tree.at_step(step)), LlmPurpose::Code, tokens, 0))
        .collect();
    calls.extend((0..8).map(|s| call(Some(tree.at_step(s)), LlmPurpose::Feedback, 700, 810)));
    calls.push(call(None, LlmPurpose::Report, 4000, 0));
    let mut unmeasured = call(None, LlmPurpose::Report, 0, 0);
    unmeasured.prompt = None;
    calls.push(unmeasured);
    let report = report_md(&run, &tree.nodes, None, &calls, None);
    let section = &report[report.find("## Prompt size").expect("section")..];
    let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(
        rows,
        [
            "| purpose | calls | tokens per call | characters per call | tokens per step | provider-reported tokens per call |",
            "| draft | 2 | 1,100 | 4,400 | 275 | — |",
            "| improve | 1 | 2,500 | 10,000 | 313 | — |",
            "| debug | 1 | 3,000 | 12,000 | 375 | — |",
            "| review | 8 | 700 | 2,800 | 700 | 810 |",
            "| report | 2 | 4,000 | 16,000 | 500 | — |",
            "| **all** | 14 | 1,331 | 5,324 | 2,163 | 810 |",
        ],
        "{section}"
    );
    assert!(section.contains("`o200k_base` encoding"), "{section}");
    assert!(
        section.contains("1 of 14 calls were recorded before prompts were measured"),
        "{section}"
    );
}

#[test]
fn refresh_is_idempotent_and_leaves_no_temp_files() {
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    let dir = tempfile::tempdir().expect("tempdir");
    let outputs = RunOutputs::new(dir.path());
    refresh_with_best(&outputs, &run, &tree);
    outputs
        .write_report(&run, &tree.nodes, None, &[], None)
        .expect("report");
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        listing(dir)
            .into_iter()
            .map(|name| {
                let bytes = std::fs::read(dir.join(&name)).expect("read");
                (name, bytes)
            })
            .collect()
    };
    let first = snapshot(dir.path());
    refresh_with_best(&outputs, &run, &tree);
    outputs
        .write_report(&run, &tree.nodes, None, &[], None)
        .expect("report");
    let second = snapshot(dir.path());
    assert_eq!(first, second);
    assert!(
        first.iter().all(|(name, _)| !name.starts_with('.')),
        "{:?}",
        listing(dir.path())
    );
    assert_eq!(first.len(), 7);
}

/// For a look at real files: `AIDE_OUTPUTS_SAMPLE_DIR=/tmp/sample cargo test -p
/// aide-coordinator --test outputs sample_outputs` writes the sample run's outputs and report
/// there (open `tree.html` in a browser; `ids.txt` lists the node ids by step).
#[test]
fn sample_outputs() {
    let Some(dir) = std::env::var_os("AIDE_OUTPUTS_SAMPLE_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let run = run(Some(Direction::Minimize));
    let tree = Tree::new(&run);
    let outputs = RunOutputs::new(dir);
    refresh_with_best(&outputs, &run, &tree);
    let usage = Usage {
        calls: 15,
        prompt_tokens: 42_000,
        completion_tokens: 9_000,
        cached_tokens: 1_000,
        cost_usd: 0.1234,
    };
    outputs
        .write_report(&run, &tree.nodes, Some(&usage), &[], None)
        .expect("report");
    let ids: Vec<String> = (0..8).map(|s| tree.at_step(s).id.to_string()).collect();
    std::fs::write(dir.join("ids.txt"), ids.join("\n")).expect("ids");
}
