//! The gateway end to end over real gRPC on loopback: the baseline author, a provider
//! behind a real HTTP mock speaking OpenAI Chat Completions, the Redis response cache,
//! cost from a price file, error codes (counted on /metrics), deadlines, health and a
//! graceful shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aide_gateway::config::GatewayConfig;
use aide_gateway::server::serve_in;
use aide_gateway::service::Gateway;
use aide_proto::v1::{
    self, ActionKind, AideContext, CompleteRequest, FunctionSpec, TaskFacts, WorkContext,
    complete_response::Answer, llm_gateway_client::LlmGatewayClient,
};
use aide_service::Shell;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A mock OpenAI-compatible provider: counts calls, answers text or a tool call, can be
/// told to be slow or to refuse the key.
#[derive(Clone, Default)]
struct Mock {
    calls: Arc<AtomicUsize>,
    delay: Duration,
    unauthorized: bool,
}

async fn chat(State(mock): State<Mock>, Json(body): Json<Value>) -> Response {
    mock.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(mock.delay).await;
    if mock.unauthorized {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "bad key"}})),
        )
            .into_response();
    }
    let message = if body.get("tools").is_some() {
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "submit_review", "arguments": "{\"is_bug\": false, \"summary\": \"ran\", \"metric\": 0.5, \"lower_is_better\": true}"}}]})
    } else {
        json!({"role": "assistant", "content": "A plan.\n```python\nprint('AIDE_METRIC: 0.5')\n```"})
    };
    Json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    }))
    .into_response()
}

async fn start_mock(mock: Mock) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
    let address = listener.local_addr().expect("address");
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .with_state(mock);
    tokio::spawn(async move { axum::serve(listener, app).await.expect("mock") });
    format!("http://{address}/v1")
}

use aide_testkit::redis::url as redis_url;

struct Running {
    client: LlmGatewayClient<Channel>,
    channel: Channel,
    shutdown: CancellationToken,
    served: tokio::task::JoinHandle<Result<(), aide_gateway::Error>>,
    redis_healthy: bool,
    metrics: std::net::SocketAddr,
}

/// Starts a gateway with `config_text`, with no provider keys in its environment.
async fn start_gateway(config_text: &str) -> Running {
    start_gateway_with_env(config_text, &[]).await
}

/// Starts a gateway with `config_text` and exactly the environment variables `env`.
async fn start_gateway_with_env(config_text: &str, env: &[(&str, &str)]) -> Running {
    let config = GatewayConfig::from_toml(config_text).expect("config");
    let vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let metrics_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let metrics = metrics_listener.local_addr().expect("address");
    let shell = Shell::default().metrics_listener(metrics_listener);
    let gateway = Gateway::new(&config, &lookup, shell.metrics().clone())
        .await
        .expect("gateway");
    let redis_healthy = gateway.redis_healthy();
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(serve_in(shell, gateway, listener, shutdown.clone()));
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    Running {
        client: LlmGatewayClient::new(channel.clone()),
        channel,
        shutdown,
        served,
        redis_healthy,
        metrics,
    }
}

fn provider_config(base_url: &str, prices: Option<&std::path::Path>) -> String {
    let mut text = format!("redis_url = \"{}\"\n", redis_url());
    if let Some(prices) = prices {
        text.push_str(&format!("prices_file = \"{}\"\n", prices.display()));
    }
    text.push_str(&format!(
        "[providers.mock]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n[retry]\nmax_attempts = 2\nbase_delay_ms = 10\n"
    ));
    text
}

fn user(content: &str) -> v1::ChatMessage {
    v1::ChatMessage {
        role: v1::Role::User.into(),
        content: content.into(),
    }
}

fn review_function() -> FunctionSpec {
    let spec = aide_core::review_function();
    FunctionSpec {
        name: spec.name,
        description: spec.description,
        parameters_json: spec.parameters.to_string(),
    }
}

fn house_prices_context(action: ActionKind, last_output: &str) -> AideContext {
    AideContext {
        action: action.into(),
        task: Some(TaskFacts {
            goal: "Predict the sales price for each house".into(),
            eval: "RMSE between the logarithm of the predicted value and the logarithm of the observed sales price".into(),
            input_files: vec!["train.csv".into(), "test.csv".into(), "sample_submission.csv".into()],
            submission_file: "submission.csv".into(),
            sample_submission: "sample_submission.csv".into(),
            k_fold: 5,
            exec_timeout_secs: 600,
            ..Default::default()
        }),
        last_output: last_output.into(),
        ..Default::default()
    }
}

/// Fails under CI, skips loudly otherwise, when Redis is not there.
fn require_redis(running: &Running) -> bool {
    if running.redis_healthy {
        return true;
    }
    aide_testkit::unavailable::<()>(
        &format!("Redis at {}", redis_url()),
        "the gateway finds it unhealthy",
    );
    false
}

#[tokio::test]
async fn baseline_author_answers_drafts_and_reviews_over_grpc() {
    let mut gw = start_gateway("").await;
    let draft = gw
        .client
        .complete(CompleteRequest {
            model: "baseline".into(),
            messages: vec![user("draft a solution")],
            aide: Some(house_prices_context(ActionKind::Draft, "")),
            ..Default::default()
        })
        .await
        .expect("draft")
        .into_inner();
    let Some(Answer::Text(text)) = draft.answer else {
        panic!("a draft is text: {:?}", draft.answer)
    };
    assert!(
        text.contains("```python") && text.contains("AIDE_METRIC"),
        "{text}"
    );
    assert_eq!((draft.provider.as_str(), draft.cost_usd), ("baseline", 0.0));
    assert!(draft.model.contains("baseline"));

    let review = gw
        .client
        .complete(CompleteRequest {
            model: "baseline".into(),
            messages: vec![user("review")],
            function: Some(review_function()),
            aide: Some(house_prices_context(
                ActionKind::Review,
                "Validation RMSE 0.131\nAIDE_METRIC: 0.131\n",
            )),
            ..Default::default()
        })
        .await
        .expect("review")
        .into_inner();
    let Some(Answer::FunctionArgumentsJson(args)) = review.answer else {
        panic!("a review is a function call")
    };
    let args: Value = serde_json::from_str(&args).expect("json");
    assert_eq!(args["metric"], json!(0.131));
    assert_eq!(args["is_bug"], json!(false));

    let missing = gw
        .client
        .complete(CompleteRequest {
            model: "baseline".into(),
            messages: vec![user("x")],
            ..Default::default()
        })
        .await
        .expect_err("no AIDE context");
    assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    assert!(missing.message().contains("AIDE context"));
    let metrics = aide_telemetry::scrape(gw.metrics).await.expect("scrape");
    for counted in [
        "{method=\"/aide.v1.LlmGateway/Complete\",code=\"OK\"} 2",
        "{method=\"/aide.v1.LlmGateway/Complete\",code=\"InvalidArgument\"} 1",
    ] {
        assert!(metrics.contains(counted), "{counted} in {metrics}");
    }
    gw.shutdown.cancel();
}

#[tokio::test]
async fn provider_answers_are_priced_and_cached() {
    let mock = Mock::default();
    let base_url = start_mock(mock.clone()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let prices = dir.path().join("prices.toml");
    std::fs::write(
        &prices,
        "[mock]\n\"test-model\" = { input = 2.0, output = 10.0 }\n",
    )
    .expect("prices");
    let mut gw = start_gateway(&provider_config(&base_url, Some(&prices))).await;
    if !require_redis(&gw) {
        return;
    }
    // A prompt unique to this test run, so an earlier run's cache entry cannot answer.
    let prompt = format!("write code {:?}", SystemTime::now());
    let request = CompleteRequest {
        model: "mock/test-model".into(),
        messages: vec![user(&prompt)],
        temperature: Some(0.0),
        ..Default::default()
    };
    let first = gw
        .client
        .complete(request.clone())
        .await
        .expect("first")
        .into_inner();
    assert!(!first.cache_hit);
    assert_eq!(
        first
            .usage
            .as_ref()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((1000, 500))
    );
    // 1000 × $2/M + 500 × $10/M
    assert!(
        (first.cost_usd - 0.007).abs() < 1e-12,
        "cost {}",
        first.cost_usd
    );
    assert_eq!(first.provider, "mock");
    let second = gw
        .client
        .complete(request.clone())
        .await
        .expect("second")
        .into_inner();
    assert!(second.cache_hit, "temperature 0 caches by default");
    assert_eq!(second.cost_usd, 0.0);
    assert_eq!(second.answer, first.answer);
    assert_eq!(
        mock.calls.load(Ordering::SeqCst),
        1,
        "the hit never reached the provider"
    );

    let uncached = CompleteRequest {
        cache: Some(false),
        ..request
    };
    let third = gw
        .client
        .complete(uncached)
        .await
        .expect("third")
        .into_inner();
    assert!(!third.cache_hit);
    assert_eq!(mock.calls.load(Ordering::SeqCst), 2);

    // Requests by provider, model and outcome; a hit and a miss; two provider calls'
    // tokens and cost (the hit is free).
    let text = aide_telemetry::scrape(gw.metrics).await.expect("scrape");
    let model = &first.model;
    for line in [
        format!(
            "aide_gateway_requests_total{{provider=\"mock\",model=\"{model}\",outcome=\"ok\"}} 3"
        ),
        "aide_gateway_cache_lookups_total{result=\"hit\"} 1".to_owned(),
        "aide_gateway_cache_lookups_total{result=\"miss\"} 1".to_owned(),
        format!(
            "aide_gateway_tokens_total{{provider=\"mock\",model=\"{model}\",kind=\"prompt\"}} 2000"
        ),
        format!("aide_gateway_cost_usd_total{{provider=\"mock\",model=\"{model}\"}} 0.014"),
        "aide_gateway_request_duration_seconds_count{provider=\"mock\"} 3".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in {text}");
    }
    gw.shutdown.cancel();
}

#[tokio::test]
async fn forced_review_comes_back_as_validated_arguments() {
    let base_url = start_mock(Mock::default()).await;
    let mut gw = start_gateway(&provider_config(&base_url, None)).await;
    let answer = gw
        .client
        .complete(CompleteRequest {
            model: "mock/reviewer".into(),
            messages: vec![user("review this run")],
            function: Some(review_function()),
            temperature: Some(0.5),
            ..Default::default()
        })
        .await
        .expect("review")
        .into_inner();
    let Some(Answer::FunctionArgumentsJson(args)) = answer.answer else {
        panic!("function arguments expected")
    };
    let args: Value = serde_json::from_str(&args).expect("json");
    assert_eq!(args["metric"], json!(0.5));
    assert_eq!(answer.cost_usd, 0.0, "a model with no price costs 0");
    gw.shutdown.cancel();
}

#[tokio::test]
async fn errors_map_to_grpc_codes() {
    let mock = Mock {
        unauthorized: true,
        ..Mock::default()
    };
    let base_url = start_mock(mock.clone()).await;
    let mut gw = start_gateway(&provider_config(&base_url, None)).await;
    let ask = |model: &str| CompleteRequest {
        model: model.into(),
        messages: vec![user("hi")],
        ..Default::default()
    };

    let denied = gw.client.complete(ask("mock/any")).await.expect_err("401");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    assert_eq!(mock.calls.load(Ordering::SeqCst), 1, "401 is not retried");

    let no_key = gw
        .client
        .complete(ask("gpt-4o"))
        .await
        .expect_err("no OpenAI key");
    assert!(no_key.message().contains("OPENAI_API_KEY"), "{no_key:?}");

    let empty = gw.client.complete(ask("")).await.expect_err("no model");
    assert_eq!(empty.code(), tonic::Code::InvalidArgument);

    let bad_schema = CompleteRequest {
        function: Some(FunctionSpec {
            name: "f".into(),
            description: String::new(),
            parameters_json: "{oops".into(),
        }),
        ..ask("mock/any")
    };
    let err = gw
        .client
        .complete(bad_schema)
        .await
        .expect_err("bad schema");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("parameters_json"));

    let past = SystemTime::now() - Duration::from_secs(5);
    let since = past.duration_since(SystemTime::UNIX_EPOCH).expect("epoch");
    let late = CompleteRequest {
        work: Some(WorkContext {
            deadline: Some(prost_types::Timestamp {
                seconds: since.as_secs() as i64,
                nanos: 0,
            }),
            ..Default::default()
        }),
        ..ask("mock/any")
    };
    let err = gw.client.complete(late).await.expect_err("deadline passed");
    assert_eq!(err.code(), tonic::Code::DeadlineExceeded);

    // Failures count under the provider they were routed to, never the caller's model.
    let text = aide_telemetry::scrape(gw.metrics).await.expect("scrape");
    for line in [
        "aide_gateway_requests_total{provider=\"mock\",model=\"none\",outcome=\"permission_denied\"} 1",
        "aide_gateway_requests_total{provider=\"mock\",model=\"none\",outcome=\"deadline_exceeded\"} 1",
        "aide_gateway_requests_total{provider=\"none\",model=\"none\",outcome=\"invalid_argument\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in {text}");
    }
    assert!(
        text.contains("aide_build_info{service=\"gateway\""),
        "{text}"
    );
    gw.shutdown.cancel();
}

#[tokio::test]
async fn health_serves_and_shutdown_lets_in_flight_calls_finish() {
    let mock = Mock {
        delay: Duration::from_millis(600),
        ..Mock::default()
    };
    let base_url = start_mock(mock.clone()).await;
    let gw = start_gateway(&provider_config(&base_url, None)).await;

    let mut health = tonic_health::pb::health_client::HealthClient::new(gw.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "aide.v1.LlmGateway".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut client = gw.client.clone();
    let in_flight = tokio::spawn(async move {
        client
            .complete(CompleteRequest {
                model: "mock/slow".into(),
                messages: vec![user("hi")],
                ..Default::default()
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    gw.shutdown.cancel();
    let answer = in_flight
        .await
        .expect("join")
        .expect("the in-flight call finishes");
    assert!(matches!(answer.into_inner().answer, Some(Answer::Text(_))));
    tokio::time::timeout(Duration::from_secs(5), gw.served)
        .await
        .expect("serve returns")
        .expect("join")
        .expect("clean stop");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn openai_base_url_sends_bare_model_names_to_a_local_server() {
    // What a user writes to reach Ollama or vLLM: OPENAI_BASE_URL and a bare model name,
    // or a vendor-qualified one as vLLM serves them; no key.
    let mock = Mock::default();
    let base_url = start_mock(mock.clone()).await;
    let mut gw = start_gateway_with_env("", &[("OPENAI_BASE_URL", &base_url)]).await;
    for model in ["llama3.1", "meta-llama/Llama-3.1-8B-Instruct"] {
        let answer = gw
            .client
            .complete(CompleteRequest {
                model: model.into(),
                messages: vec![user("hi")],
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{model}: {e:?}"))
            .into_inner();
        assert_eq!(answer.provider, "openai", "{model}");
        assert_eq!(
            answer.model, model,
            "the server saw the model name unchanged"
        );
    }
    assert_eq!(mock.calls.load(Ordering::SeqCst), 2);
    gw.shutdown.cancel();
}

#[tokio::test]
async fn a_named_local_provider_from_the_configuration_file() {
    let mock = Mock::default();
    let base_url = start_mock(mock.clone()).await;
    let mut gw = start_gateway(&format!(
        "[providers.ollama]\nkind = \"openai\"\nbase_url = \"{base_url}\"\n"
    ))
    .await;
    let answer = gw
        .client
        .complete(CompleteRequest {
            model: "ollama/llama3.1".into(),
            messages: vec![user("hi")],
            ..Default::default()
        })
        .await
        .expect("ollama")
        .into_inner();
    assert_eq!(
        (answer.provider.as_str(), answer.model.as_str()),
        ("ollama", "llama3.1")
    );
    assert_eq!(mock.calls.load(Ordering::SeqCst), 1);
    gw.shutdown.cancel();
}
