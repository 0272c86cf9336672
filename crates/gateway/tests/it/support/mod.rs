//! Mock LLM providers for the provider-client tests: real HTTP servers on 127.0.0.1 (axum)
//! that check requests the way OpenAI Chat Completions or Anthropic Messages would, record
//! every request they receive, and answer from a per-test queue of canned responses; and
//! private `redis-server`s ([`redis_server`]).

#![allow(dead_code)]

pub mod redis_server;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aide_gateway::routing::{ProviderConfig, ProviderKind};
use aide_gateway::secrets::Secret;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which provider a mock imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OpenAI Chat Completions at `{base}/v1/chat/completions` (base URL ends in `/v1`).
    OpenAi,
    /// Anthropic Messages at `{base}/v1/messages`.
    Anthropic,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long the server waits before answering.
    pub delay: Duration,
}

impl Canned {
    /// A JSON answer with this status.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// The same answer with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same answer, sent after `delay`.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Received {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The `content` of every message in the body, in order.
    pub fn message_texts(&self) -> Vec<String> {
        self.body["messages"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Shared {
    flavor: Flavor,
    queue: Mutex<VecDeque<Canned>>,
    received: Mutex<Vec<Received>>,
}

/// A running mock provider; stops when dropped.
#[derive(Debug)]
pub struct MockProvider {
    /// What to put in the provider's `base_url`.
    pub base_url: String,
    pub flavor: Flavor,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl MockProvider {
    /// Starts a mock on a free loopback port.
    pub async fn start(flavor: Flavor) -> Self {
        let shared = Arc::new(Shared {
            flavor,
            queue: Mutex::new(VecDeque::new()),
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("mock server runs");
        });
        let base_url = match flavor {
            Flavor::OpenAi => format!("http://{addr}/v1"),
            Flavor::Anthropic => format!("http://{addr}"),
        };
        Self {
            base_url,
            flavor,
            shared,
            task,
        }
    }

    /// Queues the next answer.
    pub fn push(&self, canned: Canned) {
        self.shared.queue.lock().unwrap().push_back(canned);
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// A provider entry pointing at this mock, named "mock-openai" or "mock-anthropic",
    /// with the key (if any) said to come from `MOCK_API_KEY`.
    pub fn config(&self, key: Option<&str>) -> ProviderConfig {
        let (name, kind) = match self.flavor {
            Flavor::OpenAi => ("mock-openai", ProviderKind::OpenAiCompatible),
            Flavor::Anthropic => ("mock-anthropic", ProviderKind::Anthropic),
        };
        ProviderConfig {
            name: name.into(),
            kind,
            base_url: self.base_url.clone(),
            api_key: key.map(Secret::new),
            api_key_source: Some("MOCK_API_KEY".into()),
            requires_key: key.is_some(),
            headers: BTreeMap::from([("x-team".to_owned(), "ml".to_owned())]),
        }
    }

    /// A text answer in this provider's format.
    pub fn text(&self, text: &str, prompt: u64, completion: u64) -> Canned {
        match self.flavor {
            Flavor::OpenAi => Canned::json(
                200,
                json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "mock-model",
                    "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                        "total_tokens": prompt + completion}}),
            ),
            Flavor::Anthropic => Canned::json(
                200,
                json!({"id": "msg_1", "type": "message", "role": "assistant",
                    "model": "mock-model", "stop_reason": "end_turn",
                    "content": [{"type": "text", "text": text}],
                    "usage": {"input_tokens": prompt, "output_tokens": completion}}),
            ),
        }
    }

    /// A call of `name`: for OpenAI `arguments` is sent as the JSON string the API uses
    /// (a `Value::String` is sent verbatim, so it can be malformed); for Anthropic it is the
    /// `input` object.
    pub fn tool_call(&self, name: &str, arguments: Value) -> Canned {
        match self.flavor {
            Flavor::OpenAi => {
                let text = match arguments {
                    Value::String(raw) => raw,
                    other => other.to_string(),
                };
                Canned::json(
                    200,
                    json!({"id": "chatcmpl-2", "object": "chat.completion", "model": "mock-model",
                        "choices": [{"index": 0, "finish_reason": "tool_calls",
                            "message": {"role": "assistant", "content": null,
                                "tool_calls": [{"id": "call_1", "type": "function",
                                    "function": {"name": name, "arguments": text}}]}}],
                        "usage": {"prompt_tokens": 20, "completion_tokens": 8}}),
                )
            }
            Flavor::Anthropic => Canned::json(
                200,
                json!({"id": "msg_2", "type": "message", "role": "assistant",
                    "model": "mock-model", "stop_reason": "tool_use",
                    "content": [{"type": "tool_use", "id": "toolu_1", "name": name,
                        "input": arguments}],
                    "usage": {"input_tokens": 20, "output_tokens": 8}}),
            ),
        }
    }

    /// An error answer in this provider's format.
    pub fn error(&self, status: u16, message: &str) -> Canned {
        match self.flavor {
            Flavor::OpenAi => Canned::json(
                status,
                json!({"error": {"message": message, "type": "error", "code": null}}),
            ),
            Flavor::Anthropic => Canned::json(
                status,
                json!({"type": "error", "error": {"type": "error", "message": message}}),
            ),
        }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers: headers.clone(),
        body: body.clone(),
    });
    if let Err((status, why)) = check(shared.flavor, &method, uri.path(), &headers, &body) {
        let error = json!({"error": {"message": format!("mock: {why}")}});
        return (status, axum::Json(error)).into_response();
    }
    let next = shared.queue.lock().unwrap().pop_front();
    let Some(canned) = next else {
        let error = json!({"error": {"message": "mock: no canned response left"}});
        return (StatusCode::IM_A_TEAPOT, axum::Json(error)).into_response();
    };
    tokio::time::sleep(canned.delay).await;
    let mut response = Response::builder()
        .status(canned.status)
        .header("content-type", "application/json");
    for (name, value) in &canned.headers {
        response = response.header(name, value);
    }
    response
        .body(axum::body::Body::from(canned.body))
        .expect("canned response")
}

/// What the real API would refuse before doing any work.
fn check(
    flavor: Flavor,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Value,
) -> Result<(), (StatusCode, String)> {
    let bad = |why: &str| Err((StatusCode::BAD_REQUEST, why.to_owned()));
    if method != Method::POST {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "POST only".into()));
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return bad("content-type must be application/json");
    }
    let messages = body["messages"].as_array();
    if body["model"].as_str().is_none_or(str::is_empty) || messages.is_none_or(Vec::is_empty) {
        return bad("model and messages are required");
    }
    match flavor {
        Flavor::OpenAi => {
            if path != "/v1/chat/completions" {
                return Err((StatusCode::NOT_FOUND, format!("no route {path}")));
            }
        }
        Flavor::Anthropic => {
            if path != "/v1/messages" {
                return Err((StatusCode::NOT_FOUND, format!("no route {path}")));
            }
            if headers.get("anthropic-version").is_none() {
                return bad("anthropic-version header is required");
            }
            if body["max_tokens"].as_u64().is_none() {
                return bad("max_tokens: Field required");
            }
            let roles_ok = messages
                .into_iter()
                .flatten()
                .all(|m| matches!(m["role"].as_str(), Some("user" | "assistant")));
            if !roles_ok {
                return bad("messages: roles must be user or assistant");
            }
        }
    }
    Ok(())
}
