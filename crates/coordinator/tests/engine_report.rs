//! The end-of-run report over real components (a real gateway in front of a mock OpenAI
//! provider, a real runner, a SQLite store): with a real model, `report.md` holds the
//! model's narrative after the deterministic summary and the call is in the ledger; a
//! refused report call leaves the deterministic report, a `report_failed` event and a
//! completed run.

mod engine_support;

use std::path::Path;

use aide_coordinator::engine::RunEnd;
use aide_core::Task;
use aide_core::task::ReferenceTask;
use aide_store::{RunStatus, RunStore};
use axum::http::StatusCode;
use axum::{Json, Router, routing::post};
use engine_support::*;
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
