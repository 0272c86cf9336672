//! The OpenAI Chat Completions wire format (`POST {base_url}/chat/completions`), as OpenAI,
//! Gemini's compatible endpoint, OpenRouter, vLLM, Ollama, llama.cpp and LiteLLM speak it:
//! request encoding and response decoding. Local servers may leave out `usage` (zeros) or
//! ignore `tool_choice` and answer in text; both are accepted here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Answer, Parsed, ProviderRequest, Role};
use crate::pricing::TokenUsage;
use crate::routing::accepts_temperature;

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
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
    #[serde(rename = "type")]
    kind: &'static str,
    function: ToolFunction<'a>,
}

#[derive(Serialize)]
struct ToolFunction<'a> {
    name: &'a str,
    description: &'a str,
    parameters: &'a Value,
}

#[derive(Serialize)]
struct ToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: ToolName<'a>,
}

#[derive(Serialize)]
struct ToolName<'a> {
    name: &'a str,
}

/// The JSON body of a request. Reasoning models (`o1*`, `o3*`, `o4*`, `gpt-5*`) get no
/// temperature and take the cap as `max_completion_tokens`; others as `max_tokens`.
pub(super) fn request_body(request: &ProviderRequest) -> serde_json::Result<Vec<u8>> {
    let reasoning = !accepts_temperature(&request.model);
    let messages = request
        .messages
        .iter()
        .map(|m| WireMessage {
            role: match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            },
            content: &m.content,
        })
        .collect();
    let (tools, tool_choice) = match &request.function {
        Some(f) => (
            vec![Tool {
                kind: "function",
                function: ToolFunction {
                    name: &f.name,
                    description: &f.description,
                    parameters: &f.parameters,
                },
            }],
            Some(ToolChoice {
                kind: "function",
                function: ToolName { name: &f.name },
            }),
        ),
        None => (Vec::new(), None),
    };
    let body = ChatRequest {
        model: &request.model,
        messages,
        temperature: request.temperature.filter(|_| !reasoning),
        max_tokens: request.max_tokens.filter(|_| !reasoning),
        max_completion_tokens: request.max_tokens.filter(|_| reasoning),
        tools,
        tool_choice,
    };
    serde_json::to_vec(&body)
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Deserialize)]
struct ToolCall {
    function: CalledFunction,
}

#[derive(Deserialize)]
struct CalledFunction {
    /// A JSON string by the spec; some compatible servers send the object itself.
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

/// Reads a success body: the first choice's first tool call, else its text.
pub(super) fn parse_response(body: &[u8]) -> Result<Parsed, String> {
    let response: ChatResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a chat completion ({e})"))?;
    let message = response
        .choices
        .into_iter()
        .next()
        .ok_or("the answer has no choices")?
        .message;
    let call = message
        .tool_calls
        .and_then(|calls| calls.into_iter().next());
    let answer = match call {
        Some(call) => Answer::FunctionArguments(arguments(call.function.arguments)),
        None => match (message.content, message.refusal) {
            (Some(text), _) => Answer::Text(text),
            (None, Some(refusal)) => Answer::Text(refusal),
            (None, None) => Answer::Text(String::new()),
        },
    };
    let usage = response.usage.unwrap_or_default();
    Ok(Parsed {
        answer,
        usage: TokenUsage {
            prompt: usage.prompt_tokens.unwrap_or(0),
            completion: usage.completion_tokens.unwrap_or(0),
            cached: usage
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
        },
        id: response.id,
        model: response.model,
    })
}

/// Arguments as a JSON value: the string parsed when it holds JSON, else the raw string.
fn arguments(raw: Value) -> Value {
    match raw {
        Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Value::Null => Value::String(String::new()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::provider::{FunctionSpec, Message};

    fn body_of(model: &str, temperature: Option<f64>, max_tokens: Option<u32>) -> Value {
        let request = ProviderRequest {
            model: model.into(),
            messages: vec![
                Message::new(Role::System, "s"),
                Message::new(Role::User, "u"),
            ],
            temperature,
            max_tokens,
            function: None,
        };
        serde_json::from_slice(&request_body(&request).unwrap()).unwrap()
    }

    #[test]
    fn reasoning_models_get_no_temperature_and_max_completion_tokens() {
        let body = body_of("o3-mini", Some(0.5), Some(100));
        assert_eq!(body.get("temperature"), None);
        assert_eq!(body.get("max_tokens"), None);
        assert_eq!(body["max_completion_tokens"], 100);
        let body = body_of("gpt-4o", Some(0.5), Some(100));
        assert_eq!(body["temperature"], 0.5);
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body.get("max_completion_tokens"), None);
        let body = body_of("gpt-4o", None, None);
        assert_eq!(body.get("temperature"), None);
        assert_eq!(body.get("tools"), None);
        assert_eq!(body.get("tool_choice"), None);
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "s"})
        );
    }

    #[test]
    fn a_forced_function_is_a_tool_and_a_tool_choice() {
        let request = ProviderRequest {
            model: "gpt-4o".into(),
            messages: vec![Message::new(Role::User, "u")],
            temperature: None,
            max_tokens: None,
            function: Some(FunctionSpec {
                name: "f".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }),
        };
        let body: Value = serde_json::from_slice(&request_body(&request).unwrap()).unwrap();
        assert_eq!(
            body["tools"],
            json!([{"type": "function", "function": {"name": "f", "description": "d",
                "parameters": {"type": "object"}}}])
        );
        assert_eq!(
            body["tool_choice"],
            json!({"type": "function", "function": {"name": "f"}})
        );
    }

    #[test]
    fn arguments_in_every_shape() {
        assert_eq!(arguments(json!("{\"a\": 1}")), json!({"a": 1}));
        assert_eq!(arguments(json!("{\"a\": ")), json!("{\"a\": "));
        assert_eq!(arguments(json!({"a": 1})), json!({"a": 1}));
        assert_eq!(arguments(Value::Null), json!(""));
    }

    #[test]
    fn bodies_without_choices_or_json_are_errors() {
        assert!(
            parse_response(b"{\"choices\": []}")
                .unwrap_err()
                .contains("no choices")
        );
        assert!(
            parse_response(b"<html>")
                .unwrap_err()
                .contains("not a chat completion")
        );
    }
}
