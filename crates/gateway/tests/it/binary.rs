//! The real `aide-gateway` binary: `--print-config` shows the configuration layered
//! file < environment < flag with keys, header values and the Redis password redacted; a
//! misspelt file key is refused by name and line; `--metrics-listen` serves `/metrics`;
//! the first SIGTERM drains (an in-flight call keeps it up) and a second exits at once.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use aide_proto::v1::{ChatMessage, CompleteRequest, Role, llm_gateway_client::LlmGatewayClient};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const PROGRAM: &str = env!("CARGO_BIN_EXE_aide-gateway");

fn print_config(config: &Path, env: &[(&str, &str)], flags: &[&str]) -> Output {
    aide_testkit::binary::print_config(env!("CARGO_BIN_EXE_aide-gateway"), config, env, flags)
}

const FILE: &str = r#"
listen = "127.0.0.1:6001"
max_reasks = 4
redis_url = "redis://:file-password@cache:6379"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
[providers.local.headers]
X-Token = "header-secret"
"#;

#[test]
fn print_config_layers_file_env_and_flags_and_redacts_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, FILE).expect("write");
    let env = [
        ("AIDE_GATEWAY_MAX_REASKS", "5"),
        ("AIDE_GATEWAY_LISTEN", "127.0.0.1:6002"),
        ("OPENAI_API_KEY", "sk-live-secret"),
    ];

    let file_only = aide_testkit::binary::success_stdout(&print_config(&path, &[], &[]));
    assert!(file_only.contains("max_reasks = 4"), "{file_only}");
    assert!(
        file_only.contains("listen = \"127.0.0.1:6001\""),
        "{file_only}"
    );

    let text = aide_testkit::binary::success_stdout(&print_config(
        &path,
        &env,
        &["--listen", "127.0.0.1:6003"],
    ));
    assert!(text.contains("max_reasks = 5"), "env over file: {text}");
    assert!(
        text.contains("listen = \"127.0.0.1:6003\""),
        "flag over env: {text}"
    );
    for secret in ["sk-live-secret", "file-password", "header-secret"] {
        assert!(!text.contains(secret), "{secret} printed: {text}");
    }
    assert!(
        text.contains("redis_url = \"redis://:[redacted]@cache:6379\""),
        "{text}"
    );
    assert!(text.contains("api_key = \"[redacted]\""), "{text}");
    assert!(text.contains("api_key_from = \"OPENAI_API_KEY\""), "{text}");

    let flagged =
        aide_testkit::binary::success_stdout(&print_config(&path, &env, &["--max-reasks", "6"]));
    assert!(
        flagged.contains("max_reasks = 6"),
        "flag over env: {flagged}"
    );
}

#[test]
fn a_misspelt_key_is_named_with_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, "max_reasks = 1\nlisen = \"x\"\n").expect("write");
    let output = print_config(&path, &[], &[]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lisen") && stderr.contains("line 2"),
        "{stderr}"
    );
}

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").to_string()
}

/// A provider that takes a minute to answer, so a call stays in flight.
async fn slow_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "never"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/v1")
}

fn signal(child: &tokio::process::Child, signal: Signal) {
    let pid = Pid::from_raw(child.id().expect("running") as i32);
    kill(pid, signal).expect("signal");
}

#[tokio::test]
async fn metrics_are_served_and_a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.toml");
    let provider = slow_provider().await;
    let config = format!("[providers.slow]\nkind = \"openai\"\nbase_url = \"{provider}\"\n");
    std::fs::write(&path, config).expect("write");
    let (listen, metrics) = (free_address(), free_address());
    let mut child = tokio::process::Command::new(PROGRAM)
        .env_clear()
        .args(["--config"])
        .arg(&path)
        .args([
            "--plaintext",
            "--listen",
            &listen,
            "--metrics-listen",
            &metrics,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn aide-gateway");
    let channel = tonic::transport::Channel::from_shared(format!("http://{listen}"))
        .expect("url")
        .connect_lazy();
    let mut health = HealthClient::new(channel.clone());
    let started = Instant::now();
    while health.check(HealthCheckRequest::default()).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = aide_telemetry::scrape(metrics.parse().expect("address"))
        .await
        .expect("scrape /metrics");
    assert!(
        text.contains(
            "grpc_server_requests_total{method=\"/grpc.health.v1.Health/Check\",code=\"OK\"}"
        ),
        "{text}"
    );

    let mut client = LlmGatewayClient::new(channel);
    let in_flight = tokio::spawn(async move {
        let message = ChatMessage {
            role: Role::User.into(),
            content: "hi".into(),
        };
        let request = CompleteRequest {
            model: "slow/model".into(),
            messages: vec![message],
            ..Default::default()
        };
        client.complete(request).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the first signal drains: the in-flight call keeps the gateway up"
    );
    signal(&child, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the second signal exits at once")
        .expect("wait");
    assert_eq!(status.code(), Some(130), "{status}");
    in_flight.abort();
}
