//! A stored task searched with a real provider protocol: the gateway's `openai` provider
//! talks to an OpenAI-compatible HTTP stand-in served by this test, which writes a working
//! diabetes solution and reviews executions from the metric they print. The task is uploaded
//! as `aide submit` does, with a table too large to be fetched for the preview; the run goes
//! through a coordinator process, the gateway process and a Docker runner.
//!
//! Checked: the author's prompts carry the data preview of the stored bundle (its files
//! under `input/`, the large one included); the run completes with good nodes; the best
//! node's submission is kept in the blob store and the export streams exactly its bytes.

use std::sync::{Arc, Mutex};

use aide_proto::v1;
use aide_store::{NodeFileBody, NodeStore};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use sha2::Digest;

use crate::distributed_support::Cluster;

/// The stand-in's code: ridge regression, cross-validated RMSE printed, submission written.
const SOLUTION: &str = r#"import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_predict

train = pd.read_csv("./input/train.csv")
test = pd.read_csv("./input/test.csv")
features = [c for c in test.columns if c != "id"]
model = Ridge(alpha=1.0)
predicted = cross_val_predict(model, train[features], train["progression"], cv=3)
rmse = float(np.sqrt(np.mean((predicted - train["progression"]) ** 2)))
print(f"Validation RMSE: {rmse:.4f}")
model.fit(train[features], train["progression"])
submission = pd.DataFrame({"id": test["id"], "progression": model.predict(test[features])})
submission.to_csv("./working/submission.csv", index=False)
"#;

/// Every request body the stand-in received.
type Received = Arc<Mutex<Vec<Value>>>;

/// The text of every message of a chat request, joined.
fn prompt_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| match &m["content"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The RMSE the solution printed, as the review prompt shows its output.
fn printed_rmse(prompt: &str) -> Option<f64> {
    let at = prompt.rfind("Validation RMSE: ")?;
    let rest = &prompt[at + "Validation RMSE: ".len()..];
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse().ok()
}

/// OpenAI Chat Completions: a review (a request with tools) is a `submit_review` call with
/// the printed metric; anything else is a plan and the solution.
async fn chat(State(received): State<Received>, Json(body): Json<Value>) -> Json<Value> {
    received.lock().expect("lock").push(body.clone());
    let message = if body.get("tools").is_some() {
        let rmse = printed_rmse(&prompt_text(&body));
        let review = json!({
            "is_bug": rmse.is_none(),
            "summary": "ridge regression, cross-validated",
            "metric": rmse,
            "lower_is_better": true,
        });
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
            "type": "function", "function": {"name": "submit_review",
            "arguments": review.to_string()}}]})
    } else {
        let reply = format!("Fit a ridge regression on every feature.\n```python\n{SOLUTION}```");
        json!({"role": "assistant", "content": reply})
    };
    Json(json!({
        "id": "chatcmpl-stand-in", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 300, "total_tokens": 1200}
    }))
}

/// Serves the stand-in on a free loopback port; its `/v1` base URL.
async fn stand_in(received: Received) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(received);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("stand-in") });
    url
}

/// The diabetes example with a 20 MB table added to its data.
fn task_with_a_large_table(dir: &std::path::Path) -> std::path::PathBuf {
    let task = dir.join("diabetes");
    aide_testkit::copy_tree(&aide_testkit::example_dir("diabetes"), &task);
    let mut rows = String::from("id,reading,note\n");
    let mut i = 0u64;
    while rows.len() < 20_000_000 {
        rows.push_str(&format!(
            "{i},{:.4},a reading taken at the clinic\n",
            i as f64 / 7.0
        ));
        i += 1;
    }
    std::fs::write(task.join("data/extra_readings.csv"), rows).expect("large table");
    task
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_task_is_searched_through_an_openai_compatible_provider() {
    let received = Received::default();
    let base_url = stand_in(received.clone()).await;
    let Some(mut cluster) = Cluster::start_with_provider(30, Some(&base_url)).await else {
        return;
    };
    let mut api = cluster.start_coordinator(cluster.registry_port).await;
    cluster.start_runner(1).await;
    let task = task_with_a_large_table(cluster.dir.path());
    let settings = v1::RunSettings {
        steps: Some(2),
        code_model: Some("stand-in-model".into()),
        feedback_model: Some("stand-in-model".into()),
        exec_timeout_secs: Some(120),
        ..Default::default()
    };
    let request = cluster.pushed_run("stand-in", &task, settings).await;
    let run = api.create_run(request).await.expect("create").into_inner();
    let run_id = aide_core::RunId(uuid::Uuid::parse_str(&run.id).expect("run id"));
    let record =
        crate::distributed::wait_terminal(&cluster, run_id, crate::distributed::RUN_TIMEOUT).await;
    assert_eq!(
        record.status,
        aide_store::RunStatus::Completed,
        "{:?}\n{}",
        record.stop_reason,
        cluster.logs()
    );

    let bodies = received.lock().expect("lock").clone();
    let drafts: Vec<String> = bodies
        .iter()
        .filter(|b| b.get("tools").is_none())
        .map(prompt_text)
        .collect();
    assert_eq!(drafts.len(), 2, "one code request per node");
    for prompt in &drafts {
        for expected in ["input/", "train.csv", "test.csv", "extra_readings.csv"] {
            assert!(
                prompt.contains(expected),
                "no {expected:?} in the prompt:\n{prompt}"
            );
        }
    }
    let nodes = cluster.store.load_tree(run_id).await.expect("tree");
    assert_eq!(nodes.len(), 2);
    for node in &nodes {
        let review = node.review.as_ref().expect("reviewed");
        assert!(!review.is_buggy, "{review:?}\n{}", cluster.logs());
        assert!(review.metric.is_some_and(|m| m > 0.0), "{review:?}");
    }

    let best = aide_coordinator::tree::best_node(record.direction, &nodes).expect("best");
    let stored = cluster
        .store
        .get_node_file(best.id, "submission.csv")
        .await
        .expect("read")
        .expect("the best node's submission");
    let NodeFileBody::Blob(digest) = stored.body else {
        panic!("the coordinator keeps node files in its blob store: {stored:?}");
    };
    let stream = api
        .export_run(v1::ExportRunRequest {
            run_id: run.id.clone(),
            format: v1::ExportFormat::Submission.into(),
        })
        .await
        .expect("export")
        .into_inner();
    let exported = crate::api_support::collect_export(stream)
        .await
        .expect("the export's stream");
    assert_eq!(exported.file_name, "submission.csv");
    assert_eq!(exported.content.len() as u64, stored.size);
    let exported_digest =
        aide_core::bundle::Sha256Digest(sha2::Sha256::digest(&exported.content).into());
    assert_eq!(exported_digest, digest, "the export is the stored blob");
    let text = String::from_utf8(exported.content).expect("utf-8");
    assert!(text.starts_with("id,progression\n"), "{text}");
    assert_eq!(text.lines().count(), 112, "a prediction per test row");
}
