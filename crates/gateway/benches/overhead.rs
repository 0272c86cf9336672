//! Benchmark (not a test): what the gateway adds to one LLM call over loopback, and how fast
//! a cache hit is. A local mock provider speaking OpenAI Chat Completions answers at once;
//! the same request is timed straight to the mock and through the gateway (gRPC), and the
//! difference per percentile is the gateway's overhead. The same calls then go to a second
//! gateway serving mutual TLS (a throwaway cluster CA; the client shows a coordinator's
//! certificate and the gateway checks it on every call), on one kept connection and on a new
//! connection per call (a full handshake each time).
//!
//! `cargo bench -p aide-gateway --bench overhead` (Redis from `AIDE_TEST_REDIS_URL`, default
//! redis://127.0.0.1:6379; without Redis the cache-hit figures are skipped).

use std::time::{Duration, Instant};

use aide_core::service_identity::{ServiceIdentity, ServiceKind};
use aide_gateway::config::GatewayConfig;
use aide_gateway::server::{serve, serve_in};
use aide_gateway::service::Gateway;
use aide_proto::v1::{self, CompleteRequest, llm_gateway_client::LlmGatewayClient};
use aide_service::Shell;
use aide_service::tls::{ClientAuth, Dialer, ServerTls, TlsConfig, certs};
use axum::{Json, Router, routing::post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const CALLS: usize = 400;
const WARMUP: usize = 20;

async fn mock_completion(Json(body): Json<Value>) -> Json<Value> {
    let model = body["model"].as_str().unwrap_or("mock").to_owned();
    Json(json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "plan\n```python\nprint(1)\n```"}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132}
    }))
}

async fn start_mock() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
    let address = listener.local_addr().expect("mock address");
    let app = Router::new().route("/v1/chat/completions", post(mock_completion));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("mock server") });
    format!("http://{address}/v1")
}

fn request(cache: bool, temperature: f64, nonce: &str) -> CompleteRequest {
    CompleteRequest {
        model: "mock/bench-model".into(),
        messages: vec![v1::ChatMessage {
            role: v1::Role::User.into(),
            content: format!("Write a python script that prints 1.{nonce}"),
        }],
        temperature: Some(temperature),
        max_tokens: Some(64),
        cache: Some(cache),
        purpose: "code".into(),
        ..Default::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn summary(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times `CALLS` sequential uncached calls (after `WARMUP`).
async fn time_calls<S>(client: &mut LlmGatewayClient<S>) -> Vec<Duration>
where
    S: tonic::client::GrpcService<tonic::body::Body> + Clone,
    S::Error: Into<tonic::codegen::StdError>,
    S::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <S::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut times = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let started = Instant::now();
        let answer = client
            .complete(request(false, 0.5, ""))
            .await
            .expect("gateway call")
            .into_inner();
        assert!(!answer.cache_hit);
        if i >= WARMUP {
            times.push(started.elapsed());
        }
    }
    times
}

/// A second gateway serving mutual TLS under a throwaway CA, and the coordinator's
/// certificate to call it with.
struct TlsGateway {
    url: String,
    client_tls: TlsConfig,
    _ca: tempfile::TempDir,
    _shutdown: tokio_util::sync::DropGuard,
}

impl TlsGateway {
    async fn start(config: &GatewayConfig) -> Self {
        let ca = tempfile::tempdir().expect("tempdir");
        certs::make_ca(ca.path(), 1).expect("CA");
        let issue = |kind, name: &str| {
            let identity = ServiceIdentity {
                kind,
                name: name.parse().expect("name"),
            };
            certs::issue(ca.path(), &identity, &[], 1).expect("certificate")
        };
        let (server_tls, client_tls) = (
            issue(ServiceKind::Gateway, "gateway"),
            issue(ServiceKind::Coordinator, "coordinator"),
        );
        let no_env = |_: &str| None;
        let gateway = Gateway::new(config, &no_env, aide_telemetry::Metrics::new())
            .await
            .expect("gateway");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let shell = Shell::default()
            .tls(ServerTls::new(&server_tls, address, ClientAuth::Required).expect("server TLS"));
        let shutdown = CancellationToken::new();
        tokio::spawn(serve_in(shell, gateway, listener, shutdown.clone()));
        Self {
            url: format!("https://{address}"),
            client_tls,
            _ca: ca,
            _shutdown: shutdown.drop_guard(),
        }
    }

    async fn connect(&self) -> tonic::transport::Channel {
        Dialer::new(&self.client_tls)
            .expect("dialer")
            .endpoint(&self.url)
            .expect("endpoint")
            .connect()
            .await
            .expect("TLS connection")
    }
}

#[tokio::main]
async fn main() {
    let base_url = start_mock().await;
    let redis_url =
        std::env::var("AIDE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());

    // Straight to the mock: the floor any gateway call pays.
    let http = reqwest::Client::new();
    let body = json!({"model": "bench-model", "messages": [{"role": "user", "content": "Write a python script that prints 1."}], "temperature": 0.5, "max_tokens": 64});
    let mut direct = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let started = Instant::now();
        let answer = http
            .post(format!("{base_url}/chat/completions"))
            .json(&body)
            .send()
            .await
            .expect("mock call");
        answer.bytes().await.expect("mock body");
        if i >= WARMUP {
            direct.push(started.elapsed());
        }
    }

    let config = GatewayConfig::from_toml(&format!(
        "redis_url = \"{redis_url}\"\n[providers.mock]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n"
    ))
    .expect("gateway config");
    let no_env = |_: &str| None;
    let gateway = Gateway::new(&config, &no_env, aide_telemetry::Metrics::new())
        .await
        .expect("gateway");
    let redis = gateway.redis_healthy();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gateway");
    let address = listener.local_addr().expect("gateway address");
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(gateway, listener, shutdown.clone()));
    let mut client = LlmGatewayClient::connect(format!("http://{address}"))
        .await
        .expect("connect gateway");

    let through = time_calls(&mut client).await;
    let tls = TlsGateway::start(&config).await;
    let mut tls_client = LlmGatewayClient::new(tls.connect().await);
    let through_tls = time_calls(&mut tls_client).await;
    let mut handshakes = Vec::with_capacity(CALLS / 4);
    for _ in 0..CALLS / 4 {
        let started = Instant::now();
        let mut fresh = LlmGatewayClient::new(tls.connect().await);
        fresh
            .complete(request(false, 0.5, ""))
            .await
            .expect("gateway call over TLS");
        handshakes.push(started.elapsed());
    }

    let (direct_p50, direct_p99) = summary(direct);
    let (via_p50, via_p99) = summary(through);
    println!(
        "gateway overhead over loopback, {CALLS} sequential calls, mock OpenAI provider answering at once"
    );
    println!("{:<34} {:>10} {:>10}", "", "p50 (µs)", "p99 (µs)");
    println!(
        "{:<34} {:>10.0} {:>10.0}",
        "straight to the mock (HTTP)",
        micros(direct_p50),
        micros(direct_p99)
    );
    println!(
        "{:<34} {:>10.0} {:>10.0}",
        "through the gateway (gRPC)",
        micros(via_p50),
        micros(via_p99)
    );
    println!(
        "{:<34} {:>10.0} {:>10.0}",
        "gateway overhead",
        micros(via_p50.saturating_sub(direct_p50)),
        micros(via_p99.saturating_sub(direct_p99))
    );
    let (tls_p50, tls_p99) = summary(through_tls);
    println!(
        "{:<34} {:>10.0} {:>10.0}",
        "through the gateway, mutual TLS",
        micros(tls_p50),
        micros(tls_p99)
    );
    println!(
        "{:<34} {:>10.0} {:>10.0}",
        "TLS cost per call (kept conn.)",
        micros(tls_p50.saturating_sub(via_p50)),
        micros(tls_p99.saturating_sub(via_p99))
    );
    let (shake_p50, shake_p99) = summary(handshakes);
    println!(
        "{:<34} {:>10.0} {:>10.0}",
        "new TLS connection + one call",
        micros(shake_p50),
        micros(shake_p99)
    );

    if redis {
        // A fresh prompt per benchmark run, so the first call is a real miss.
        let nonce = format!(" ({:?})", std::time::SystemTime::now());
        let first = client
            .complete(request(true, 0.0, &nonce))
            .await
            .expect("cache fill")
            .into_inner();
        assert!(!first.cache_hit, "the first cached request is a miss");
        let mut hits = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            let answer = client
                .complete(request(true, 0.0, &nonce))
                .await
                .expect("cache hit")
                .into_inner();
            assert!(answer.cache_hit);
            hits.push(started.elapsed());
        }
        let (hit_p50, hit_p99) = summary(hits);
        println!(
            "{:<34} {:>10.0} {:>10.0}",
            "cache hit through the gateway",
            micros(hit_p50),
            micros(hit_p99)
        );
    } else {
        println!("cache hit: skipped, Redis at {redis_url} is not reachable");
    }
    shutdown.cancel();
}
