//! OpenAI-format details: reasoning models, keyless local servers, usage variants, request
//! ids, unreachable servers, and the per-call overhead against the mock.

use std::time::{Duration, Instant};

use aide_core::{ErrorCode, HasErrorCode};
use aide_gateway::pricing::TokenUsage;
use aide_gateway::provider::{Answer, ProviderClient};
use aide_gateway::routing::ProviderKind;
use serde_json::json;

use super::{client, client_with, policy, request};
use crate::support::{Canned, Flavor, MockProvider};

#[tokio::test]
async fn reasoning_models_get_no_temperature_and_max_completion_tokens() {
    let mock = MockProvider::start(Flavor::OpenAi).await;
    mock.push(mock.text("ok", 1, 1));
    mock.push(mock.text("ok", 1, 1));
    let client = client(&mock);
    client.complete(&request("o3-mini", None)).await.unwrap();
    client.complete(&request("gpt-4o", None)).await.unwrap();
    let received = mock.received();
    let o3 = &received[0].body;
    assert_eq!(o3["model"], "o3-mini");
    assert_eq!(o3.get("temperature"), None, "{o3}");
    assert_eq!(o3.get("max_tokens"), None, "{o3}");
    assert_eq!(o3["max_completion_tokens"], 1000);
    let gpt4 = &received[1].body;
    assert_eq!(gpt4["temperature"], 0.0);
    assert_eq!(gpt4["max_tokens"], 1000);
    assert_eq!(gpt4.get("max_completion_tokens"), None);
}

#[tokio::test]
async fn a_local_server_gets_no_authorization_and_may_omit_usage() {
    let mock = MockProvider::start(Flavor::OpenAi).await;
    mock.push(Canned::json(
        200,
        json!({"choices": [{"message": {"role": "assistant", "content": "hi"}}]}),
    ));
    let mut request = request("llama3.1:8b", None);
    request.temperature = None;
    request.max_tokens = None;
    let response = client_with(&mock, None, policy())
        .complete(&request)
        .await
        .unwrap();
    assert_eq!(response.answer, Answer::Text("hi".into()));
    assert_eq!(response.usage, TokenUsage::default());
    assert_eq!(response.request_id, None);
    assert_eq!(
        response.model, "llama3.1:8b",
        "falls back to the requested name"
    );
    let sent = &mock.received()[0];
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.header("x-team").as_deref(), Some("ml"));
    assert_eq!(sent.body.get("temperature"), None);
    assert_eq!(sent.body.get("max_tokens"), None);
    assert_eq!(
        sent.body["messages"],
        json!([{"role": "system", "content": "You review ML solutions."},
               {"role": "user", "content": "The run printed: Validation RMSE: 0.25"}])
    );
}

#[tokio::test]
async fn cached_tokens_and_the_request_id_header_are_read() {
    let mock = MockProvider::start(Flavor::OpenAi).await;
    mock.push(
        Canned::json(
            200,
            json!({"id": "chatcmpl-body", "model": "gpt-4o-2024-08-06",
                "choices": [{"message": {"role": "assistant", "content": "x"}}],
                "usage": {"prompt_tokens": 2000, "completion_tokens": 10,
                    "prompt_tokens_details": {"cached_tokens": 1536}}}),
        )
        .header("x-request-id", "req_header"),
    );
    let response = client(&mock)
        .complete(&request("gpt-4o", None))
        .await
        .unwrap();
    assert_eq!(
        response.usage,
        TokenUsage {
            prompt: 2000,
            completion: 10,
            cached: 1536
        }
    );
    assert_eq!(response.request_id.as_deref(), Some("req_header"));
    assert_eq!(response.model, "gpt-4o-2024-08-06");
}

#[tokio::test]
async fn a_success_body_in_another_format_is_an_unavailable_error() {
    let mock = MockProvider::start(Flavor::OpenAi).await;
    mock.push(Canned::json(200, json!({"object": "list", "data": []})));
    let error = client(&mock)
        .complete(&request("gpt-4o", None))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::Unavailable);
    assert!(error.to_string().contains("no choices"), "{error}");
    assert_eq!(mock.received().len(), 1, "a garbled success is not retried");
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_unavailable() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mock = MockProvider::start(Flavor::OpenAi).await;
    let mut config = mock.config(Some(super::KEY));
    config.base_url = format!("http://{addr}/v1");
    let client = ProviderClient::new(&config, policy(), reqwest::Client::new()).unwrap();
    let error = client.complete(&request("gpt-4o", None)).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::Unavailable, "{error}");
    let message = error.to_string();
    assert!(message.contains("gave up after 3 attempt(s)"), "{message}");
    assert!(message.contains("connection error"), "{message}");
    assert!(!message.contains(super::KEY), "{message}");
}

#[tokio::test]
async fn the_baseline_has_no_http_client() {
    let mock = MockProvider::start(Flavor::OpenAi).await;
    let mut config = mock.config(None);
    config.kind = ProviderKind::Baseline;
    let error = ProviderClient::new(&config, policy(), reqwest::Client::new()).unwrap_err();
    assert_eq!(error.code(), ErrorCode::Internal);
    assert!(error.to_string().contains("baseline"), "{error}");
}

/// Prints the mean wall time of one call against the loopback mock (client overhead plus
/// a trivial server): run with `--nocapture` to see it.
#[tokio::test]
async fn per_call_overhead_against_the_mock() {
    const CALLS: u32 = 200;
    let mock = MockProvider::start(Flavor::OpenAi).await;
    for _ in 0..CALLS {
        mock.push(mock.text("ok", 1, 1));
    }
    let client = client(&mock);
    let request = request("gpt-4o", None);
    let started = Instant::now();
    for _ in 0..CALLS {
        let response = client.complete(&request).await.unwrap();
        assert_eq!(response.attempts, 1);
    }
    let mean = started.elapsed() / CALLS;
    println!("per-call time against the loopback mock: {mean:?} (mean of {CALLS})");
    assert_eq!(mock.received().len(), CALLS as usize);
    assert!(mean < Duration::from_secs(1));
}
