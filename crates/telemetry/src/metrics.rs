//! A minimal Prometheus text endpoint: [`Metrics`] holds counters (no global registry; each
//! service owns one and shares it by `Arc`) and [`serve_metrics`] answers `GET /metrics` on
//! its own listener ([`scrape`] is its client). [`crate::grpc_metrics`] counts a server's gRPC requests into it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

/// Counters by name and label set, rendered in the Prometheus text format.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<String, Counter>>,
}

#[derive(Debug, Default)]
struct Counter {
    help: String,
    values: BTreeMap<Vec<(String, String)>, u64>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds `by` to counter `name` (with `help`) for `labels`.
    pub fn add(&self, name: &str, help: &str, labels: &[(&str, &str)], by: u64) {
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let counter = counters.entry(name.to_owned()).or_default();
        if counter.help.is_empty() {
            counter.help = help.to_owned();
        }
        let key = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        *counter.values.entry(key).or_default() += by;
    }

    /// The current value of `name` for `labels` (0 when never counted).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let key: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        counters
            .get(name)
            .and_then(|c| c.values.get(&key))
            .copied()
            .unwrap_or(0)
    }

    /// Every counter in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        for (name, counter) in counters.iter() {
            let _ = writeln!(out, "# HELP {name} {}", counter.help);
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, value) in &counter.values {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                    .collect();
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {value}");
                } else {
                    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
                }
            }
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` from `metrics` on `listener` until `shutdown` fires.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Fetches `GET /metrics` from the endpoint at `address` and returns the body: the
/// client side of [`serve_metrics`], for tests and probes.
pub async fn scrape(address: std::net::SocketAddr) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: metrics\r\nconnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_owned()),
        _ => Err(std::io::Error::other(format!(
            "unexpected answer from {address}: {}",
            response.lines().next().unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn counters_render_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.add("aide_things_total", "Things.", &[("kind", "a\"b")], 2);
        metrics.add("aide_things_total", "Things.", &[("kind", "a\"b")], 1);
        metrics.add("aide_plain_total", "Plain.", &[], 5);
        assert_eq!(metrics.get("aide_things_total", &[("kind", "a\"b")]), 3);
        assert_eq!(
            metrics.render(),
            "# HELP aide_plain_total Plain.\n# TYPE aide_plain_total counter\n\
             aide_plain_total 5\n\
             # HELP aide_things_total Things.\n# TYPE aide_things_total counter\n\
             aide_things_total{kind=\"a\\\"b\"} 3\n"
        );
    }
}
