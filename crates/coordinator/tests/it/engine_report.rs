//! The outputs the engine writes, over real components (a real gateway in front of a mock
//! OpenAI provider, a real runner, a SQLite store):
//! - with a real model, `report.md` holds the model's narrative after the deterministic
//!   summary and the call is in the ledger; a refused report call leaves the deterministic
//!   report, a `report_failed` event and a completed run;
//! - when the reviews fix the run's direction, every output follows the run's one state:
//!   the best node's code and submission, `maximize` in the journal, the direction and the
//!   final status in `tree.html` and `config.json`;
//! - a real failing script's traceback reaches `exc_stack`, and a timed-out script is
//!   recorded as a `TimeoutError`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::engine_support::*;
use aide_coordinator::engine::RunEnd;
use aide_core::Task;
use aide_core::task::ReferenceTask;
use aide_store::{RunStatus, RunStore};
use axum::http::StatusCode;
use axum::{Json, Router, routing::post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const NARRATIVE: &str = "### What was tried\nMOCK-NARRATIVE: two linear drafts.";

/// Whether a chat request is the report request (its prompt asks for "Your report").
fn is_report(body: &Value) -> bool {
    body["messages"].as_array().into_iter().flatten().any(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.contains("# Your report"))
    })
}

/// A mock OpenAI Chat Completions provider: code replies print a metric, reviews are
/// `submit_review` tool calls, the report request gets [`NARRATIVE`] (or a 400 when
/// `refuse_report`).
async fn chat(refuse_report: bool, body: Value) -> (StatusCode, Json<Value>) {
    let message = if is_report(&body) {
        // The prompt carries the trajectory and the best program's code.
        let prompt = body["messages"][0]["content"].as_str().unwrap_or_default();
        assert!(prompt.contains("- step 0 draft: 0.5"), "{prompt}");
        assert!(prompt.contains("print('AIDE_METRIC: 0.5')"), "{prompt}");
        if refuse_report {
            let error =
                json!({"error": {"message": "context too long", "type": "invalid_request_error"}});
            return (StatusCode::BAD_REQUEST, Json(error));
        }
        json!({"role": "assistant", "content": NARRATIVE})
    } else if body.get("tools").is_some() {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "submit_review", "arguments": "{\"is_bug\": false, \"summary\": \"ran\", \"metric\": 0.5, \"lower_is_better\": true}"}}]})
    } else {
        json!({"role": "assistant", "content": "A plan.\n```python\nprint('AIDE_METRIC: 0.5')\n```"})
    };
    let answer = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    });
    (StatusCode::OK, Json(answer))
}

/// A gateway whose `mock` provider is [`chat`] on loopback.
async fn mock_gateway(dir: &Path, refuse_report: bool) -> Service {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| chat(refuse_report, body)),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("mock") });
    let prices = dir.join("prices.toml");
    std::fs::write(
        &prices,
        "[mock]\n\"test-model\" = { input = 2.0, output = 10.0 }\n",
    )
    .expect("prices");
    gateway(&format!(
        "prices_file = \"{}\"\n[providers.mock]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n\
         [retry]\nmax_attempts = 2\nbase_delay_ms = 10\n",
        prices.display()
    ))
    .await
}

/// A tiny task without test data, readable by the sandbox users.
fn tiny_task(data: &Path) -> Task {
    std::fs::set_permissions(data, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::fs::write(data.join("train.csv"), "x,y\n1,2\n2,4\n").expect("data");
    Task::from_reference(&ReferenceTask {
        data_dir: Some(data.to_path_buf()),
        goal: Some("Predict y from x.".into()),
        eval: Some("mean absolute error".into()),
        desc_file: None,
    })
    .expect("task")
}

/// Runs two steps with the mock model; returns the run's id, its report and its events.
async fn two_steps(refuse_report: bool, uid_base: u32) -> (aide_core::RunId, String, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let gw = mock_gateway(dir.path(), refuse_report).await;
    let rn = runner(1, uid_base).await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut s = settings(2, 2);
    s.code.model = "mock/test-model".into();
    s.feedback.model = "mock/test-model".into();
    let lease = claimed_run(&store, tiny_task(data.path()), s).await;
    let outputs = dir.path().join("outputs");
    let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], Some(outputs.clone()));
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert_eq!(
        end,
        RunEnd::Completed {
            reason: "steps budget reached (2 nodes)".into()
        }
    );
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, RunStatus::Completed);
    // The ledger, read straight from the database (the store has no listing of it).
    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", dir.path().join("aide.db").display()))
        .await
        .expect("database");
    let calls: Vec<(String, f64, bool)> =
        sqlx::query_as("SELECT purpose, cost_usd, node_id IS NULL FROM llm_calls ORDER BY id")
            .fetch_all(&db)
            .await
            .expect("ledger");
    let reports: Vec<_> = calls.iter().filter(|c| c.0 == "report").collect();
    if refuse_report {
        assert!(reports.is_empty(), "{calls:?}");
    } else {
        assert_eq!(reports.len(), 1, "{calls:?}");
        assert!(reports[0].1 > 0.0 && reports[0].2, "{calls:?}");
        assert_eq!(calls.last().map(|c| c.0.as_str()), Some("report"));
    }
    let report = std::fs::read_to_string(outputs.join(lease.run_id.to_string()).join("report.md"))
        .expect("report.md");
    let events = event_kinds(&store, lease.run_id)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    (lease.run_id, report, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_model_writes_the_narrative_after_the_summary() {
    let (_, report, events) = two_steps(false, 38000).await;
    assert!(report.contains("## Metric trajectory"), "{report}");
    let narrative = report
        .find("## Narrative report")
        .expect("a narrative section");
    assert!(report[narrative..].contains(NARRATIVE), "{report}");
    assert!(!events.iter().any(|k| k == "report_failed"), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_report_call_leaves_the_deterministic_report() {
    let (_, report, events) = two_steps(true, 38100).await;
    assert!(report.contains("## Metric trajectory"), "{report}");
    assert!(!report.contains("## Narrative report"), "{report}");
    assert!(!report.contains("MOCK-NARRATIVE"), "{report}");
    assert_eq!(
        events.iter().filter(|k| *k == "report_failed").count(),
        1,
        "{events:?}"
    );
    assert_eq!(events.last().map(String::as_str), Some("run_finished"));
}

/// A mock provider that answers the n-th code request with `scripts[n]` (the last one
/// repeating) and every review with a good verdict that fixes the direction to maximize,
/// leaving the metric to the script's `AIDE_METRIC` line.
async fn scripted_chat(
    scripts: Arc<Vec<String>>,
    served: Arc<AtomicUsize>,
    body: Value,
) -> Json<Value> {
    let message = if body.get("tools").is_some() {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "submit_review", "arguments": "{\"is_bug\": false, \"summary\": \"ran\", \"metric\": null, \"lower_is_better\": false}"}}]})
    } else {
        let n = served.fetch_add(1, Ordering::SeqCst).min(scripts.len() - 1);
        json!({"role": "assistant", "content": format!("A plan.\n```python\n{}\n```", scripts[n])})
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
}

/// Drives a run of one draft per script with [`scripted_chat`] as both models; returns the
/// run's outputs directory.
async fn scripted_run(
    scripts: &[&str],
    exec_timeout_secs: u64,
    with_test_data: bool,
    uid_base: u32,
    dir: &Path,
) -> std::path::PathBuf {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let steps = u32::try_from(scripts.len()).expect("a few scripts");
    let scripts: Arc<Vec<String>> = Arc::new(scripts.iter().map(|s| s.to_string()).collect());
    let served = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| scripted_chat(scripts.clone(), served.clone(), body)),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.expect("mock") });
    let gw = gateway(&format!(
        "[providers.mock]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n"
    ))
    .await;
    let store = store(dir).await;
    let rn = runner(1, uid_base).await;
    let data = dir.join("data");
    std::fs::create_dir(&data).expect("data dir");
    if with_test_data {
        std::fs::write(data.join("test.csv"), "id\n1\n").expect("test data");
    }
    // No goal names a metric: the direction is unknown until the first review.
    let task = {
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        std::fs::write(data.join("train.csv"), "x,y\n1,2\n2,4\n").expect("data");
        Task::from_reference(&ReferenceTask {
            data_dir: Some(data.clone()),
            goal: Some("Predict y from x.".into()),
            eval: None,
            desc_file: None,
        })
        .expect("task")
    };
    assert!(task.metric.resolved_direction().is_none());
    let mut s = settings(steps, steps);
    s.exec_timeout_secs = exec_timeout_secs;
    s.code.model = "mock/m".into();
    s.feedback.model = "mock/m".into();
    let lease = claimed_run(&store, task, s).await;
    let outputs = dir.join("outputs");
    let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], Some(outputs.clone()));
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    outputs.join(lease.run_id.to_string())
}

/// A script that prints `metric` and writes it as its submission.
fn scoring(metric: f64) -> String {
    format!(
        "import os\nos.makedirs('./working', exist_ok=True)\n\
         open('./working/submission.csv', 'w').write('id,y\\n1,{metric}\\n')\n\
         print('AIDE_METRIC: {metric}')"
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("file")).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outputs_follow_the_direction_the_reviews_fix_and_the_final_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scripts = [scoring(0.3), scoring(0.9), scoring(0.6)];
    let scripts: Vec<&str> = scripts.iter().map(String::as_str).collect();
    let out = scripted_run(&scripts, 60, true, 38200, dir.path()).await;

    let best_code = std::fs::read_to_string(out.join("best_solution.py")).expect("best code");
    assert!(best_code.contains("AIDE_METRIC: 0.9"), "{best_code}");
    let submission =
        std::fs::read_to_string(out.join("best_submission.csv")).expect("best submission");
    assert_eq!(submission, "id,y\n1,0.9\n");
    let best = read_json(&out.join("best.json"));
    assert_eq!(best["metric"], 0.9);
    assert_eq!(best["direction"], "maximize");

    let journal = read_json(&out.join("journal.json"));
    let nodes = journal["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 3);
    for node in nodes {
        assert_eq!(node["metric"]["maximize"], true, "{node}");
        assert_eq!(node["is_buggy"], false, "{node}");
    }
    let config = read_json(&out.join("config.json"));
    assert_eq!(config["direction"], "maximize");

    let tree = std::fs::read_to_string(out.join("tree.html")).expect("tree");
    assert!(
        tree.contains("status <b>completed</b>"),
        "the final status reaches tree.html"
    );
    assert!(
        tree.contains("(maximize)"),
        "the direction reaches tree.html"
    );
    assert!(!tree.contains("status <b>running</b>"));
    let report = std::fs::read_to_string(out.join("report.md")).expect("report");
    assert!(report.contains("0.9"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_script_has_its_stack_and_a_timed_out_one_is_a_timeout_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raising = "import json\n\ndef load():\n    return json.loads('{')\n\nload()";
    let sleeping = "import time\ntime.sleep(30)\nprint('AIDE_METRIC: 1')";
    let out = scripted_run(&[raising, sleeping], 2, false, 38300, dir.path()).await;
    let journal = read_json(&out.join("journal.json"));
    let nodes = journal["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2);

    let failed = &nodes[0];
    assert_eq!(
        failed["exc_type"], "json.decoder.JSONDecodeError",
        "{failed}"
    );
    let stack = failed["exc_stack"].as_array().expect("exc_stack is a list");
    let in_solution: Vec<&Value> = stack
        .iter()
        .filter(|frame| {
            frame[0]
                .as_str()
                .is_some_and(|f| f.ends_with("solution.py"))
        })
        .collect();
    assert_eq!(in_solution.len(), 2, "{stack:?}");
    assert_eq!(in_solution[0][1], 6);
    assert_eq!(in_solution[0][2], "<module>");
    assert_eq!(in_solution[1][1], 4);
    assert_eq!(in_solution[1][2], "load");
    assert_eq!(in_solution[1][3], "return json.loads('{')");
    assert_eq!(failed["exc_info"]["line"], 4, "{failed}");

    let timed_out = &nodes[1];
    assert_eq!(timed_out["exc_type"], "TimeoutError", "{timed_out}");
    assert_eq!(timed_out["is_buggy"], true);
    assert!(
        timed_out["exc_info"]["args"][0]
            .as_str()
            .is_some_and(|m| m.contains("time limit of 2 s")),
        "{timed_out}"
    );
}
