//! The merge operator through a model, not the baseline: an evolutionary run whose code and
//! review calls go through a real aide-gateway to a stand-in OpenAI provider, with a real
//! aide-runner. The provider answers a merge prompt (recognised by its guideline) with its
//! own program, so the test sees that the prompt showed both parents' code and that the
//! reply became the merge node's code, executed and reviewed like any other.

use std::sync::{Arc, Mutex};

use crate::engine_support::*;
use aide_coordinator::engine::RunEnd;
use aide_core::task::ReferenceTask;
use aide_core::{Action, PolicyKind, Task};
use aide_store::{NodeRecord, NodeStore};
use axum::extract::State;
use axum::{Json, Router, routing::post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// What the stand-in provider was asked for code, in order.
type Asked = Arc<Mutex<Vec<String>>>;

/// The merge program the stand-in writes.
const MERGED: &str = "print('AIDE_METRIC: 0.05')  # merged";

fn text_of(body: &Value) -> String {
    body["messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter_map(|m| m["content"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Code calls: a merge prompt gets [`MERGED`], any other a program printing a metric that
/// grows with the call's number. Review calls: `submit_review` with the output's metric.
async fn chat(State(asked): State<Asked>, Json(body): Json<Value>) -> Json<Value> {
    let text = text_of(&body);
    let message = if body.get("tools").is_some() {
        let metric = text
            .rsplit("AIDE_METRIC: ")
            .next()
            .and_then(|rest| rest.split(|c: char| c != '.' && !c.is_ascii_digit()).next())
            .and_then(|m| m.parse::<f64>().ok());
        let arguments = json!({"is_bug": metric.is_none(), "summary": "ran",
                               "metric": metric, "lower_is_better": true});
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1",
            "type": "function", "function": {"name": "submit_review",
            "arguments": arguments.to_string()}}]})
    } else {
        let code = {
            let mut asked = asked.lock().expect("asked");
            asked.push(text.clone());
            if text.contains("Merge guideline") {
                MERGED.to_owned()
            } else {
                format!("print('AIDE_METRIC: {}')", 0.5 + asked.len() as f64 / 10.0)
            }
        };
        json!({"role": "assistant", "content": format!("A plan.\n```python\n{code}\n```")})
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    }))
}

fn code_of(node: &NodeRecord) -> &str {
    node.generation
        .as_ref()
        .and_then(|g| g.code.as_deref())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_model_s_merge_reply_becomes_the_merge_node_s_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let asked = Asked::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base_url = format!("http://{}/v1", listener.local_addr().expect("address"));
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(asked.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("stand-in") });
    let gw = gateway(&format!(
        "[providers.standin]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n\
         [retry]\nmax_attempts = 2\nbase_delay_ms = 10\n"
    ))
    .await;
    let rn = runner(1, 36000).await;
    let data = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        data.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::write(data.path().join("train.csv"), "x,y\n1,2\n2,4\n").expect("data");
    let task = Task::from_reference(&ReferenceTask {
        data_dir: Some(data.path().to_path_buf()),
        goal: Some("Predict y from x.".into()),
        eval: Some("mean absolute error".into()),
        desc_file: None,
    })
    .expect("task");
    let mut s = settings(5, 2);
    s.code.model = "standin/model".into();
    s.feedback.model = "standin/model".into();
    s.search.policy = PolicyKind::Evolutionary;
    s.search.evolutionary.islands = 1;
    s.search.evolutionary.population = 2;
    s.search.evolutionary.merge_prob = 1.0;
    let lease = claimed_run(&store, task, s).await;
    let engine = grpc_engine(store.clone(), &gw.url, &[&rn.url], None);
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");

    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    let find = |id| nodes.iter().find(|n| n.id == id).expect("parent");
    let merges: Vec<&NodeRecord> = nodes.iter().filter(|n| n.action == Action::Merge).collect();
    assert!(
        !merges.is_empty(),
        "{:?}",
        nodes.iter().map(|n| n.action).collect::<Vec<_>>()
    );
    let asked = asked.lock().expect("asked").clone();
    for merge in merges {
        let (parent, partner) = (
            merge.parent.expect("parent"),
            merge.partner.expect("partner"),
        );
        assert_ne!(parent, partner);
        assert_eq!(
            code_of(merge),
            MERGED,
            "the model's reply is the merge's code"
        );
        let review = merge.review.as_ref().expect("reviewed");
        assert_eq!((review.is_buggy, review.metric), (false, Some(0.05)));
        let prompt = &asked[merge.step as usize];
        assert!(prompt.contains("Merge guideline"), "{prompt}");
        for shown in [find(parent), find(partner)] {
            assert!(
                prompt.contains(code_of(shown)),
                "the merge prompt shows step {}'s code:\n{prompt}",
                shown.step
            );
        }
    }
}
