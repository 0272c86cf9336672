//! The Anthropic Messages wire format (`POST {base_url}/v1/messages`): system messages in
//! the top-level `system` field, a required `max_tokens`, tools with `input_schema`, and
//! usage whose cache reads and writes are added back into the prompt count.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ANTHROPIC_DEFAULT_MAX_TOKENS, Answer, Parsed, ProviderRequest, Role};
use crate::pricing::TokenUsage;

/// The `anthropic-version` header value.
pub(super) const API_VERSION: &str = "2023-06-01";

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct Tool<'a> {
    name: &'a str,
    description: &'a str,
    input_schema: &'a Value,
}

#[derive(Serialize)]
struct ToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
}

/// The JSON body of a request. System messages are joined (blank line between) into
/// `system`; a conversation of system messages only is sent as one user message instead,
/// since Messages needs at least one. Temperature is clamped to Anthropic's range [0, 1].
pub(super) fn request_body(request: &ProviderRequest) -> serde_json::Result<Vec<u8>> {
    let system_parts: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    let mut system = (!system_parts.is_empty()).then(|| system_parts.join("\n\n"));
    let mut messages: Vec<WireMessage<'_>> = request
        .messages
        .iter()
        .filter_map(|m| {
            let role = match m.role {
                Role::System => return None,
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            Some(WireMessage {
                role,
                content: &m.content,
            })
        })
        .collect();
    let only_system;
    if messages.is_empty() {
        only_system = system.take().unwrap_or_default();
        messages.push(WireMessage {
            role: "user",
            content: &only_system,
        });
    }
    let (tools, tool_choice) = match &request.function {
        Some(f) => (
            vec![Tool {
                name: &f.name,
                description: &f.description,
                input_schema: &f.parameters,
            }],
            Some(ToolChoice {
                kind: "tool",
                name: &f.name,
            }),
        ),
        None => (Vec::new(), None),
    };
    let body = MessagesRequest {
        model: &request.model,
        max_tokens: request.max_tokens.unwrap_or(ANTHROPIC_DEFAULT_MAX_TOKENS),
        system,
        messages,
        temperature: request.temperature.map(|t| t.clamp(0.0, 1.0)),
        tools,
        tool_choice,
    };
    serde_json::to_vec(&body)
}

#[derive(Deserialize)]
struct MessagesResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    content: Vec<Block>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Block {
    #[serde(rename = "text")]
    Text { text: String },
    #[serde(rename = "tool_use")]
    ToolUse {
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

/// Reads a success body: the first `tool_use` block's input, else the text blocks joined.
pub(super) fn parse_response(body: &[u8]) -> Result<Parsed, String> {
    let response: MessagesResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a Messages answer ({e})"))?;
    let mut texts = Vec::new();
    let mut input = None;
    for block in response.content {
        match block {
            Block::Text { text } => texts.push(text),
            Block::ToolUse { input: i } if input.is_none() => input = Some(i),
            Block::ToolUse { .. } | Block::Other => {}
        }
    }
    let answer = match input {
        Some(input) => Answer::FunctionArguments(input),
        None => Answer::Text(texts.join("\n")),
    };
    let usage = response.usage.unwrap_or_default();
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let cache_write = usage.cache_creation_input_tokens.unwrap_or(0);
    Ok(Parsed {
        answer,
        usage: TokenUsage {
            prompt: usage
                .input_tokens
                .unwrap_or(0)
                .saturating_add(cache_read)
                .saturating_add(cache_write),
            completion: usage.output_tokens.unwrap_or(0),
            cached: cache_read,
        },
        id: response.id,
        model: response.model,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::Message;

    fn body_of(messages: Vec<Message>) -> Value {
        let request = ProviderRequest {
            model: "claude-x".into(),
            messages,
            temperature: Some(1.7),
            max_tokens: None,
            function: None,
        };
        serde_json::from_slice(&request_body(&request).unwrap()).unwrap()
    }

    #[test]
    fn system_messages_are_joined_into_the_system_field() {
        let body = body_of(vec![
            Message::new(Role::System, "a"),
            Message::new(Role::User, "u"),
            Message::new(Role::System, "b"),
        ]);
        assert_eq!(body["system"], "a\n\nb");
        assert_eq!(body["messages"], json!([{"role": "user", "content": "u"}]));
        assert_eq!(body["max_tokens"], 16_384);
        assert_eq!(body["temperature"], 1.0);
        assert_eq!(body.get("tools"), None);
    }

    #[test]
    fn a_system_only_conversation_becomes_one_user_message() {
        let body = body_of(vec![Message::new(Role::System, "do it")]);
        assert_eq!(body.get("system"), None);
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "do it"}])
        );
    }

    #[test]
    fn tool_use_wins_over_text_and_usage_adds_cache_back() {
        let parsed = parse_response(
            br#"{"id": "msg_1", "model": "claude-x", "content": [
                {"type": "thinking", "thinking": "..."},
                {"type": "text", "text": "Calling."},
                {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}],
              "usage": {"input_tokens": 10, "output_tokens": 5,
                        "cache_read_input_tokens": 100, "cache_creation_input_tokens": 7}}"#,
        )
        .unwrap();
        assert_eq!(parsed.answer, Answer::FunctionArguments(json!({"a": 1})));
        assert_eq!(
            parsed.usage,
            TokenUsage {
                prompt: 117,
                completion: 5,
                cached: 100
            }
        );
        assert_eq!(parsed.id.as_deref(), Some("msg_1"));
    }
}
