//! The retry loop of one logical provider call: POST the encoded body, classify what came
//! back (success, HTTP status, timeout, connection error), ask [`RetryPolicy::decide`]
//! whether and when to try again, and turn a final failure into an [`Error::Provider`]
//! whose message names the provider and never the key.
//!
//! [`RetryPolicy::decide`]: crate::retry::RetryPolicy::decide

use std::time::{Instant, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

use super::ProviderClient;
use crate::Error;
use crate::retry::{Attempt, Decision, Failure, GiveUp, GiveUpKind, SplitMix64};

/// A success answer, body unread by the parsers yet.
#[derive(Debug)]
pub(super) struct Reply {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// HTTP calls made, this one included.
    pub attempts: u32,
}

/// One failed call, owned so the loop can borrow it into a [`Failure`].
#[derive(Debug)]
enum Failed {
    Connect(String),
    Timeout,
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Vec<u8>,
    },
}

impl Failed {
    /// A short description for logs.
    fn summary(&self) -> String {
        match self {
            Failed::Connect(cause) => format!("connection error ({cause})"),
            Failed::Timeout => "timeout".into(),
            Failed::Status { status, .. } => format!("HTTP {status}"),
        }
    }

    fn as_failure(&self) -> Failure<'_> {
        match self {
            Failed::Connect(_) => Failure::Connect,
            Failed::Timeout => Failure::Timeout,
            Failed::Status {
                status,
                retry_after,
                ..
            } => Failure::Status {
                status: *status,
                retry_after: retry_after.as_deref(),
            },
        }
    }
}

/// Sends `body` until it succeeds or the policy gives up. `seed` seeds the jitter.
pub(super) async fn send_with_retries(
    client: &ProviderClient,
    body: Vec<u8>,
    seed: u64,
) -> Result<Reply, Error> {
    let inner = &*client.inner;
    let started = Instant::now();
    let mut rng = SplitMix64::new(seed);
    let mut number = 0u32;
    loop {
        number += 1;
        let failed = match send_once(client, &body).await {
            Ok((headers, body)) => {
                return Ok(Reply {
                    headers,
                    body,
                    attempts: number,
                });
            }
            Err(failed) => failed,
        };
        let attempt = Attempt {
            provider: &inner.name,
            number,
            elapsed: started.elapsed(),
            now: SystemTime::now(),
        };
        match inner
            .policy
            .decide(&attempt, &failed.as_failure(), &mut || rng.next_f64())
        {
            Decision::Retry { after } => {
                tracing::warn!(
                    provider = %inner.name,
                    attempt = number,
                    failure = %failed.summary(),
                    wait_ms = after.as_millis() as u64,
                    "provider call failed; retrying"
                );
                tokio::time::sleep(after).await;
            }
            Decision::GiveUp(give_up) => {
                let error = final_error(client, give_up, &failed);
                tracing::warn!(provider = %inner.name, attempts = number, %error, "provider call failed");
                return Err(error);
            }
        }
    }
}

/// One POST with the policy's per-request timeout (connect, headers and body included).
async fn send_once(client: &ProviderClient, body: &[u8]) -> Result<(HeaderMap, Vec<u8>), Failed> {
    let inner = &*client.inner;
    let response = inner
        .http
        .post(&inner.url)
        .headers(inner.headers.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .timeout(inner.policy.per_request_timeout)
        .body(body.to_vec())
        .send()
        .await
        .map_err(classify)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(classify)?.to_vec();
    if status.is_success() {
        return Ok((headers, body));
    }
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Err(Failed::Status {
        status: status.as_u16(),
        retry_after,
        body,
    })
}

fn classify(error: reqwest::Error) -> Failed {
    if error.is_timeout() {
        return Failed::Timeout;
    }
    // The innermost cause says most ("Connection refused", "connection reset").
    let mut text = String::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = cause.to_string();
        source = cause.source();
    }
    if text.is_empty() {
        text = error.without_url().to_string();
    }
    Failed::Connect(text)
}

/// The error after the policy gave up: its message, plus for a bad key where the key comes
/// from, and otherwise what the provider said (scrubbed of the key, shortened).
fn final_error(client: &ProviderClient, give_up: GiveUp, failed: &Failed) -> Error {
    let GiveUp { kind, mut message } = give_up;
    match failed {
        Failed::Connect(cause) => message.push_str(&format!(" ({})", client.scrub(cause))),
        Failed::Timeout => {}
        Failed::Status { body, .. } if kind == GiveUpKind::Unauthorized => {
            // Provider texts for a bad key may echo parts of it: leave them out.
            let _ = body;
            message.push_str(&format!("; {}", client.key_hint()));
        }
        Failed::Status { body, .. } => {
            if let Some(said) = provider_message(body) {
                message.push_str(&format!("; the provider said: {}", client.scrub(&said)));
            }
        }
    }
    Error::Provider {
        provider: client.inner.name.clone(),
        kind,
        message,
    }
}

/// `error.message` of an OpenAI- or Anthropic-style error body, else the body's start.
fn provider_message(body: &[u8]) -> Option<String> {
    const LIMIT: usize = 300;
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            let text = error
                .get("message")
                .and_then(|m| m.as_str())
                .or_else(|| error.as_str())?;
            Some(text.to_owned())
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= LIMIT {
        return Some(text);
    }
    let cut: String = text.chars().take(LIMIT).collect();
    Some(format!("{cut}…"))
}

#[cfg(test)]
mod tests {
    use super::provider_message;

    #[test]
    fn provider_messages_are_read_and_shortened() {
        let openai = br#"{"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}}"#;
        assert_eq!(
            provider_message(openai).as_deref(),
            Some("max_tokens is too large")
        );
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(provider_message(anthropic).as_deref(), Some("Overloaded"));
        assert_eq!(
            provider_message(b"<html>\n bad   gateway</html>").as_deref(),
            Some("<html> bad gateway</html>")
        );
        assert_eq!(provider_message(b"  "), None);
        let long = "x".repeat(1000);
        let cut = provider_message(long.as_bytes()).unwrap();
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
    }
}
