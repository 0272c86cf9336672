//! Provider clients and structured output against real HTTP mock providers on loopback:
//! the same scenarios for the OpenAI-style and the Anthropic-style wire format, then the
//! details only one of them has.

use std::time::{Duration, Instant};

use crate::support::{Flavor, MockProvider};
use aide_core::{ErrorCode, HasErrorCode};
use aide_gateway::Error;
use aide_gateway::pricing::TokenUsage;
use aide_gateway::provider::{
    Answer, FunctionSpec, Message, ProviderClient, ProviderRequest, ProviderResponse, Role,
};
use aide_gateway::retry::RetryPolicy;
use aide_gateway::structured::complete_structured;
use serde_json::{Value, json};

const KEY: &str = "sk-test-SECRET-0123456789";

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        max_total: Duration::from_secs(10),
        per_request_timeout: Duration::from_secs(5),
    }
}

fn client_with(mock: &MockProvider, key: Option<&str>, policy: RetryPolicy) -> ProviderClient {
    ProviderClient::new(&mock.config(key), policy, reqwest::Client::new()).expect("client")
}

fn client(mock: &MockProvider) -> ProviderClient {
    client_with(mock, Some(KEY), policy())
}

fn review_function() -> FunctionSpec {
    let f = aide_core::prompt::review_function();
    FunctionSpec {
        name: f.name,
        description: f.description,
        parameters: f.parameters,
    }
}

fn request(model: &str, function: Option<FunctionSpec>) -> ProviderRequest {
    ProviderRequest {
        model: model.into(),
        messages: vec![
            Message::new(Role::System, "You review ML solutions."),
            Message::new(Role::User, "The run printed: Validation RMSE: 0.25"),
        ],
        temperature: Some(0.0),
        max_tokens: Some(1000),
        function,
    }
}

fn valid_review() -> Value {
    json!({"is_bug": false, "summary": "RMSE 0.25.", "metric": 0.25, "lower_is_better": true})
}

async fn structured(client: &ProviderClient, max_reasks: u32) -> Result<ProviderResponse, Error> {
    complete_structured(
        client,
        &request("mock-model", Some(review_function())),
        max_reasks,
    )
    .await
}

/// Runs each scenario once against an OpenAI-style and once against an Anthropic-style mock.
macro_rules! both_flavors {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn openai() {
                super::$name(super::Flavor::OpenAi).await;
            }
            #[tokio::test]
            async fn anthropic() {
                super::$name(super::Flavor::Anthropic).await;
            }
        }
    )*};
}

both_flavors!(
    success_with_usage,
    forced_tool_call_returns_arguments,
    text_answer_to_forced_call_is_extracted,
    invalid_arguments_are_reasked_with_the_error,
    failing_every_reask_is_a_structured_output_error,
    rate_limit_waits_for_retry_after,
    server_error_then_success,
    timeouts_are_retried_then_unavailable,
    unauthorized_fails_at_once_without_the_key,
    rejected_request_fails_at_once_with_the_provider_message,
    rate_limits_outlasting_retries_are_resource_exhausted,
);

async fn success_with_usage(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    mock.push(mock.text("print('hello')", 120, 30));
    let response = client(&mock)
        .complete(&request("mock-model", None))
        .await
        .unwrap();
    assert_eq!(response.answer, Answer::Text("print('hello')".into()));
    assert_eq!(
        response.usage,
        TokenUsage {
            prompt: 120,
            completion: 30,
            cached: 0
        }
    );
    assert_eq!(response.attempts, 1);
    assert_eq!(response.model, "mock-model");
    let expected_id = match flavor {
        Flavor::OpenAi => "chatcmpl-1",
        Flavor::Anthropic => "msg_1",
    };
    assert_eq!(response.request_id.as_deref(), Some(expected_id));
    let received = mock.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(sent.body["model"], "mock-model");
    assert_eq!(sent.body["temperature"], 0.0);
    assert_eq!(sent.body["max_tokens"], 1000);
    assert_eq!(sent.body.get("tools"), None);
    assert_eq!(sent.header("x-team").as_deref(), Some("ml"));
    match flavor {
        Flavor::OpenAi => {
            assert_eq!(sent.header("authorization"), Some(format!("Bearer {KEY}")));
            assert_eq!(sent.header("x-api-key"), None);
        }
        Flavor::Anthropic => {
            assert_eq!(sent.header("x-api-key").as_deref(), Some(KEY));
            assert_eq!(
                sent.header("anthropic-version").as_deref(),
                Some("2023-06-01")
            );
            assert_eq!(sent.header("authorization"), None);
        }
    }
}

async fn forced_tool_call_returns_arguments(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    mock.push(mock.tool_call("submit_review", valid_review()));
    let plain = client(&mock)
        .complete(&request("mock-model", Some(review_function())))
        .await
        .unwrap();
    assert_eq!(plain.answer, Answer::FunctionArguments(valid_review()));
    assert_eq!(plain.usage.prompt, 20);
    let sent = &mock.received()[0].body;
    match flavor {
        Flavor::OpenAi => {
            assert_eq!(sent["tools"][0]["type"], "function");
            assert_eq!(sent["tools"][0]["function"]["name"], "submit_review");
            assert_eq!(
                sent["tools"][0]["function"]["parameters"],
                review_function().parameters
            );
            assert_eq!(
                sent["tool_choice"],
                json!({"type": "function", "function": {"name": "submit_review"}})
            );
        }
        Flavor::Anthropic => {
            assert_eq!(sent["tools"][0]["name"], "submit_review");
            assert_eq!(
                sent["tools"][0]["input_schema"],
                review_function().parameters
            );
            assert_eq!(
                sent["tool_choice"],
                json!({"type": "tool", "name": "submit_review"})
            );
        }
    }
    mock.push(mock.tool_call("submit_review", valid_review()));
    let checked = structured(&client(&mock), 2).await.unwrap();
    assert_eq!(checked.answer, Answer::FunctionArguments(valid_review()));
    assert_eq!(checked.attempts, 1);
    assert_eq!(mock.received().len(), 2);
}

async fn text_answer_to_forced_call_is_extracted(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    let prose = format!(
        "The run looks fine.\n```json\n{}\n```\nHope this helps.",
        valid_review()
    );
    mock.push(mock.text(&prose, 50, 40));
    let response = structured(&client(&mock), 2).await.unwrap();
    assert_eq!(response.answer, Answer::FunctionArguments(valid_review()));
    assert_eq!(response.usage.prompt, 50);
    assert_eq!(response.attempts, 1);
    assert_eq!(
        mock.received().len(),
        1,
        "no re-ask when the text holds valid JSON"
    );
}

async fn invalid_arguments_are_reasked_with_the_error(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    // OpenAI sends arguments as a JSON string that can be cut off; Anthropic always sends an
    // object, which can still break the schema.
    let (bad, problem) = match flavor {
        Flavor::OpenAi => (
            json!("{\"is_bug\": false, \"summary\": \"ok\", \"metric\": 0.2"),
            "the arguments are not a valid JSON object",
        ),
        Flavor::Anthropic => (
            json!({"is_bug": false, "summary": "ok", "metric": "high", "lower_is_better": true}),
            "field `metric` must be a number or null, got a string",
        ),
    };
    mock.push(mock.tool_call("submit_review", bad));
    mock.push(mock.tool_call("submit_review", valid_review()));
    let response = structured(&client(&mock), 2).await.unwrap();
    assert_eq!(response.answer, Answer::FunctionArguments(valid_review()));
    assert_eq!(response.attempts, 2);
    assert_eq!(response.usage.prompt, 40, "usage is summed over the re-ask");
    assert_eq!(response.usage.completion, 16);
    let received = mock.received();
    assert_eq!(received.len(), 2);
    let texts = received[1].message_texts();
    let reask = texts.last().unwrap();
    assert!(reask.contains(problem), "re-ask quotes the error: {reask}");
    assert!(reask.contains("submit_review"), "{reask}");
    let roles: Vec<&str> = received[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(&roles[roles.len() - 2..], ["assistant", "user"]);
    // The re-ask keeps forcing the function.
    assert!(received[1].body["tool_choice"].is_object());
}

async fn failing_every_reask_is_a_structured_output_error(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    for _ in 0..3 {
        mock.push(mock.text("I think the run went well, no bugs.", 10, 5));
    }
    let error = structured(&client(&mock), 2).await.unwrap_err();
    assert!(
        matches!(&error, Error::StructuredOutput { provider, .. } if provider.starts_with("mock-")),
        "{error:?}"
    );
    assert_eq!(error.code(), ErrorCode::FailedPrecondition);
    let message = error.to_string();
    assert!(message.contains("3 answer(s)"), "{message}");
    assert!(message.contains("holds no JSON object"), "{message}");
    assert_eq!(mock.received().len(), 3);
}

async fn rate_limit_waits_for_retry_after(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    mock.push(mock.error(429, "slow down").header("retry-after", "1"));
    mock.push(mock.text("ok", 1, 1));
    let started = Instant::now();
    let response = client(&mock)
        .complete(&request("mock-model", None))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.answer, Answer::Text("ok".into()));
    assert_eq!(response.attempts, 2);
    assert_eq!(mock.received().len(), 2);
    assert!(elapsed >= Duration::from_millis(900), "waited {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "waited {elapsed:?}");
}

async fn server_error_then_success(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    mock.push(mock.error(500, "internal"));
    mock.push(mock.text("ok", 3, 4));
    let response = client(&mock)
        .complete(&request("mock-model", None))
        .await
        .unwrap();
    assert_eq!(response.answer, Answer::Text("ok".into()));
    assert_eq!(response.attempts, 2);
    assert_eq!(response.usage.completion, 4);
    assert_eq!(mock.received().len(), 2);
}

async fn timeouts_are_retried_then_unavailable(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    for _ in 0..3 {
        mock.push(mock.text("late", 1, 1).delayed(Duration::from_secs(3)));
    }
    let short = RetryPolicy {
        per_request_timeout: Duration::from_millis(200),
        ..policy()
    };
    let started = Instant::now();
    let error = client_with(&mock, Some(KEY), short)
        .complete(&request("mock-model", None))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.code(), ErrorCode::Unavailable, "{error}");
    assert!(
        error.to_string().contains("gave up after 3 attempt(s)"),
        "{error}"
    );
    assert!(
        error.to_string().contains("no answer within 0.2s"),
        "{error}"
    );
    assert_eq!(mock.received().len(), 3);
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

async fn unauthorized_fails_at_once_without_the_key(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    // Real providers echo (parts of) a wrong key; the gateway must not pass it on.
    mock.push(mock.error(401, &format!("Incorrect API key provided: {KEY}")));
    let client = client(&mock);
    let printed = format!("{client:?}");
    assert!(
        !printed.contains(KEY),
        "Debug of the client shows the key: {printed}"
    );
    let error = client
        .complete(&request("mock-model", None))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::PermissionDenied);
    assert_eq!(mock.received().len(), 1);
    let message = error.to_string();
    let debug = format!("{error:?}");
    assert!(message.contains("mock-"), "names the provider: {message}");
    assert!(
        message.contains("MOCK_API_KEY"),
        "names the variable: {message}"
    );
    assert!(!message.contains(KEY) && !debug.contains(KEY), "{debug}");
    assert!(!message.contains("SECRET"), "{message}");
}

async fn rejected_request_fails_at_once_with_the_provider_message(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    mock.push(mock.error(400, &format!("max_tokens too large (key {KEY})")));
    let error = client(&mock)
        .complete(&request("mock-model", None))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidArgument);
    assert_eq!(mock.received().len(), 1);
    let message = error.to_string();
    assert!(message.contains("max_tokens too large"), "{message}");
    assert!(!message.contains(KEY), "{message}");
    assert!(message.contains("[redacted]"), "{message}");
}

async fn rate_limits_outlasting_retries_are_resource_exhausted(flavor: Flavor) {
    let mock = MockProvider::start(flavor).await;
    for _ in 0..3 {
        mock.push(mock.error(429, "quota").header("retry-after", "0"));
    }
    let error = client(&mock)
        .complete(&request("mock-model", None))
        .await
        .unwrap_err();
    assert_eq!(error.code(), ErrorCode::ResourceExhausted, "{error}");
    assert!(matches!(error, Error::Provider { .. }));
    assert_eq!(mock.received().len(), 3);
}

#[path = "providers/openai_only.rs"]
mod openai_only;

#[path = "providers/anthropic_only.rs"]
mod anthropic_only;
