//! HTTP provider clients: one [`ProviderClient`] per configured provider entry, speaking
//! OpenAI Chat Completions or Anthropic Messages over a shared `reqwest::Client`, with
//! bounded retries (see [`crate::retry`]) around every logical call.
//!
//! The request and response types here are wire-format neutral; `openai` and `anthropic`
//! translate them, `http` runs the retry loop. Structured output (validation and re-asks)
//! lives in [`crate::structured`].

mod anthropic;
mod http;
mod openai;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::Error;
use crate::pricing::TokenUsage;
use crate::retry::RetryPolicy;
use crate::routing::{ProviderConfig, ProviderKind};

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions.
    System,
    /// The asking side.
    User,
    /// The model.
    Assistant,
}

/// One message of the conversation.
#[derive(Debug, Clone)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Markdown text.
    pub content: String,
}

impl Message {
    /// A message from `role`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// A function the model is forced to call.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Function name, e.g. "submit_review".
    pub name: String,
    /// What the function is for, shown to the model.
    pub description: String,
    /// JSON Schema (an object schema) of the arguments.
    pub parameters: serde_json::Value,
}

/// One completion request, already routed.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    /// The model as the provider names it (the part after `provider/`).
    pub model: String,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Sampling temperature; `None` = provider default. Left out for models that reject it.
    pub temperature: Option<f64>,
    /// Cap on generated tokens; `None` = provider default (Anthropic: [`ANTHROPIC_DEFAULT_MAX_TOKENS`]).
    pub max_tokens: Option<u32>,
    /// When set, the model is forced to call this function.
    pub function: Option<FunctionSpec>,
}

/// What the model answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Free text.
    Text(String),
    /// Arguments of a function call. Arguments that are not valid JSON arrive as a JSON
    /// string holding the raw text, for [`crate::structured`] to repair or re-ask.
    FunctionArguments(serde_json::Value),
}

/// The answer to one logical call.
#[derive(Debug, Clone)]
pub struct ProviderResponse {
    /// The model's answer.
    pub answer: Answer,
    /// Tokens used (summed over re-asks for structured calls; failed attempts cost nothing).
    pub usage: TokenUsage,
    /// The provider's request id, for support tickets.
    pub request_id: Option<String>,
    /// The model that answered, as the provider names it.
    pub model: String,
    /// HTTP calls made, retries (and re-asks) included.
    pub attempts: u32,
}

/// `max_tokens` sent to Anthropic when the request has none: the field is required there,
/// and this is large enough for a whole script.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u32 = 16_384;

/// A client for one provider entry. Cheap to clone: the `reqwest::Client` (and its
/// connection pool) and the prepared headers are shared.
#[derive(Debug, Clone)]
pub struct ProviderClient {
    inner: std::sync::Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    kind: ProviderKind,
    url: String,
    /// Authentication and extra headers, marked sensitive where they hold the key.
    headers: HeaderMap,
    /// The key's value, only to scrub it from provider error texts.
    key: Option<crate::secrets::Secret>,
    key_source: Option<String>,
    policy: RetryPolicy,
    http: reqwest::Client,
}

/// A `reqwest::Client` suited to provider calls: a user agent, kept-alive pooled
/// connections, a connect timeout. Per-call timeouts come from the retry policy.
pub fn default_http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .user_agent(concat!("aide-gateway/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::ProviderConfig(format!("cannot build the HTTP client: {e}")))
}

impl ProviderClient {
    /// A client for `config`. Fails for the baseline (it has no HTTP side) and for header
    /// names or values HTTP cannot carry (the message never quotes the key).
    pub fn new(
        config: &ProviderConfig,
        policy: RetryPolicy,
        http: reqwest::Client,
    ) -> Result<Self, Error> {
        let bad = |why: String| Error::ProviderConfig(format!("provider {}: {why}", config.name));
        let url = match config.kind {
            ProviderKind::OpenAiCompatible => format!("{}/chat/completions", config.base_url),
            ProviderKind::Anthropic => format!("{}/v1/messages", config.base_url),
            ProviderKind::Baseline => {
                return Err(bad(
                    "the offline baseline has no HTTP client; answer it with the baseline author"
                        .into(),
                ));
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("header name {name:?} is not valid in HTTP")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| bad(format!("the value of header {name} is not valid in HTTP")))?;
            headers.insert(name, value);
        }
        if let Some(key) = &config.api_key {
            let invalid = || {
                let source = config.api_key_source.as_deref().unwrap_or("the API key");
                bad(format!(
                    "the key from {source} holds characters HTTP headers cannot carry"
                ))
            };
            let (name, text) = match config.kind {
                ProviderKind::Anthropic => ("x-api-key", key.expose().to_owned()),
                _ => ("authorization", format!("Bearer {}", key.expose())),
            };
            let mut value = HeaderValue::from_str(&text).map_err(|_| invalid())?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if config.kind == ProviderKind::Anthropic {
            headers.insert(
                "anthropic-version",
                HeaderValue::from_static(anthropic::API_VERSION),
            );
        }
        Ok(Self {
            inner: std::sync::Arc::new(Inner {
                name: config.name.clone(),
                kind: config.kind,
                url,
                headers,
                key: config.api_key.clone(),
                key_source: config.api_key_source.clone(),
                policy,
                http,
            }),
        })
    }

    /// The provider's configured name, e.g. "openai".
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The wire format it speaks.
    pub fn kind(&self) -> ProviderKind {
        self.inner.kind
    }

    /// The retry policy of its calls.
    pub fn policy(&self) -> &RetryPolicy {
        &self.inner.policy
    }

    /// One logical call: the request in the provider's wire format, retried within the
    /// policy's bounds on connection errors, timeouts, 408, 429 and 5xx.
    pub async fn complete(&self, request: &ProviderRequest) -> Result<ProviderResponse, Error> {
        let inner = &*self.inner;
        let body = match inner.kind {
            ProviderKind::Anthropic => anthropic::request_body(request),
            _ => openai::request_body(request),
        }
        .map_err(|e| Error::InvalidRequest(format!("cannot encode the request: {e}")))?;
        let seed = jitter_seed(request);
        let reply = http::send_with_retries(self, body, seed).await?;
        let parsed = match inner.kind {
            ProviderKind::Anthropic => anthropic::parse_response(&reply.body),
            _ => openai::parse_response(&reply.body),
        }
        .map_err(|reason| Error::ProviderAnswer {
            provider: inner.name.clone(),
            reason,
        })?;
        let header = match inner.kind {
            ProviderKind::Anthropic => "request-id",
            _ => "x-request-id",
        };
        let request_id = reply
            .headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(parsed.id);
        tracing::debug!(
            provider = %inner.name,
            model = %request.model,
            attempts = reply.attempts,
            prompt_tokens = parsed.usage.prompt,
            completion_tokens = parsed.usage.completion,
            "provider call answered"
        );
        Ok(ProviderResponse {
            answer: parsed.answer,
            usage: parsed.usage,
            request_id,
            model: parsed.model.unwrap_or_else(|| request.model.clone()),
            attempts: reply.attempts,
        })
    }

    /// Replaces the key's value, wherever it appears in a provider's text, by `[redacted]`.
    fn scrub(&self, text: &str) -> String {
        match &self.inner.key {
            Some(key) if !key.expose().is_empty() => {
                text.replace(key.expose(), crate::secrets::REDACTED)
            }
            _ => text.to_owned(),
        }
    }

    /// Where to fix a rejected key, for 401/403 messages.
    fn key_hint(&self) -> String {
        match (&self.inner.key, &self.inner.key_source) {
            (Some(_), Some(source)) => format!("the key comes from {}", describe_source(source)),
            (Some(_), None) => "a key is configured; check that it is valid".into(),
            (None, Some(source)) => {
                format!("no key is configured; set {}", describe_source(source))
            }
            (None, None) => {
                "no key is configured; set api_key_env or api_key_file for this provider".into()
            }
        }
    }
}

fn describe_source(source: &str) -> String {
    if source.starts_with("file ") {
        source.to_owned()
    } else {
        format!("environment variable {source}")
    }
}

/// Seeds the jitter of one call from its content and the clock, so concurrent identical
/// requests still spread out and no global RNG is involved.
fn jitter_seed(request: &ProviderRequest) -> u64 {
    let mut hasher = DefaultHasher::new();
    request.model.hash(&mut hasher);
    for message in &request.messages {
        message.role.hash(&mut hasher);
        message.content.hash(&mut hasher);
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    hasher.finish() ^ nanos
}

/// What a provider-specific parser reads from a success body.
#[derive(Debug)]
struct Parsed {
    answer: Answer,
    usage: TokenUsage,
    id: Option<String>,
    model: Option<String>,
}
