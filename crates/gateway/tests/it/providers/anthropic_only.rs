//! Anthropic-format details: system placement, the default `max_tokens`, cache usage and
//! the `request-id` header.

use aide_gateway::pricing::TokenUsage;
use aide_gateway::provider::{Message, Role};
use serde_json::json;

use super::{client, request};
use crate::support::{Canned, Flavor, MockProvider};

#[tokio::test]
async fn system_messages_go_to_the_system_field_and_max_tokens_defaults() {
    let mock = MockProvider::start(Flavor::Anthropic).await;
    mock.push(mock.text("ok", 1, 1));
    let mut request = request("claude-sonnet-4-5", None);
    request.messages = vec![
        Message::new(Role::System, "You are a Kaggle grandmaster."),
        Message::new(Role::User, "Write a script."),
        Message::new(Role::Assistant, "Which data?"),
        Message::new(Role::System, "Reply in one code block."),
        Message::new(Role::User, "House prices."),
    ];
    request.max_tokens = None;
    client(&mock).complete(&request).await.unwrap();
    let sent = &mock.received()[0].body;
    assert_eq!(
        sent["system"],
        "You are a Kaggle grandmaster.\n\nReply in one code block."
    );
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": "Write a script."},
               {"role": "assistant", "content": "Which data?"},
               {"role": "user", "content": "House prices."}])
    );
    assert_eq!(sent["max_tokens"], 16_384);
}

#[tokio::test]
async fn cache_reads_and_writes_count_as_prompt_tokens() {
    let mock = MockProvider::start(Flavor::Anthropic).await;
    mock.push(
        Canned::json(
            200,
            json!({"id": "msg_body", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": "done"}],
                "usage": {"input_tokens": 50, "output_tokens": 700,
                    "cache_read_input_tokens": 3000, "cache_creation_input_tokens": 400}}),
        )
        .header("request-id", "req_011"),
    );
    let response = client(&mock)
        .complete(&request("claude-sonnet-4-5", None))
        .await
        .unwrap();
    assert_eq!(
        response.usage,
        TokenUsage {
            prompt: 3450,
            completion: 700,
            cached: 3000
        }
    );
    assert_eq!(response.request_id.as_deref(), Some("req_011"));
    assert_eq!(response.model, "claude-sonnet-4-5-20250929");
}
