//! The plaintext operations endpoint: `GET /metrics` and whatever the service adds (its gRPC
//! health), and [`scrape`], its client.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::Metrics;

/// Serves `GET /metrics` from `metrics` on `listener` until `shutdown` fires, beside the
/// routes of `also` (the service's gRPC health, so that a prober needs no TLS): HTTP/1.1
/// and, for gRPC, HTTP/2 without TLS.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    also: axum::Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = also.route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.collect_and_render().await,
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
