//! The `aide.v1.LlmGateway` gRPC service: validates a request, routes its model, answers
//! from the offline baseline author or a provider (through the response cache and the
//! shared rate limiter, with structured output forced for function requests), prices the
//! usage and returns it with the answer.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aide_proto::v1::{
    self, CompleteRequest, CompleteResponse, complete_response, llm_gateway_server::LlmGateway,
};
use aide_telemetry::Metrics;
use serde::{Deserialize, Serialize};
use tonic::{Request, Response, Status};
use tracing::{Instrument, info, info_span, warn};

use crate::Error;
use crate::baseline::{self, BaselineAnswer};
use crate::config::GatewayConfig;
use crate::metrics;
use crate::pricing::{PriceTable, TokenUsage};
use crate::provider::{
    Answer, FunctionSpec, Message, ProviderClient, ProviderRequest, ProviderResponse, Role,
};
use crate::routing::{ProviderKind, Providers, accepts_temperature};
use crate::secrets::Env;
use crate::shared::{SharedState, cache_enabled, cache_key};

/// Completion tokens assumed for rate limiting when a request sets no `max_tokens`.
const ASSUMED_COMPLETION_TOKENS: u64 = 2_048;

/// The gateway: cheap to clone, shared by every request.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    providers: Providers,
    clients: BTreeMap<String, ProviderClient>,
    prices: PriceTable,
    shared: SharedState,
    max_reasks: u32,
    /// Models already warned about for having no price, so the log says it once.
    unpriced: Mutex<HashSet<String>>,
    metrics: Arc<Metrics>,
}

/// What the cache stores for one answer.
#[derive(Debug, Serialize, Deserialize)]
struct CachedAnswer {
    text: Option<String>,
    arguments: Option<serde_json::Value>,
    prompt_tokens: u64,
    completion_tokens: u64,
    cached_tokens: u64,
    model: String,
    request_id: Option<String>,
}

impl Gateway {
    /// Builds the gateway: providers from the configuration and `env` (the process
    /// environment in the binary, a map in tests), the price table, Redis state; it counts
    /// into `metrics`.
    pub async fn new(
        config: &GatewayConfig,
        env: Env<'_>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, Error> {
        let providers = Providers::load(&config.providers, env)?;
        let prices = match &config.prices_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::PriceTable {
                    origin: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                PriceTable::with_overrides(&text, &path.display().to_string())?
            }
            None => PriceTable::shipped(),
        };
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| Error::ProviderConfig(format!("cannot build the HTTP client: {e}")))?;
        let mut clients = BTreeMap::new();
        for name in providers.names() {
            let Some(provider) = providers.get(name) else {
                continue;
            };
            if provider.kind != ProviderKind::Baseline {
                clients.insert(
                    name.to_owned(),
                    ProviderClient::new(provider, config.retry, http.clone())?,
                );
            }
        }
        let shared = SharedState::new(config.shared.clone()).await;
        Ok(Self {
            inner: Arc::new(Inner {
                providers,
                clients,
                prices,
                shared,
                max_reasks: config.max_reasks,
                unpriced: Mutex::new(HashSet::new()),
                metrics: {
                    aide_telemetry::build_info(&metrics, "gateway");
                    metrics
                },
            }),
        })
    }

    /// Whether Redis (cache, shared limits) is reachable right now.
    pub fn redis_healthy(&self) -> bool {
        self.inner.shared.redis_healthy()
    }

    /// Answers one request; the whole of the RPC without the transport.
    pub async fn complete(&self, request: CompleteRequest) -> Result<CompleteResponse, Status> {
        let started = Instant::now();
        let work = request.work.clone().unwrap_or_default();
        let span = info_span!(
            "complete",
            run_id = %work.run_id,
            node_id = %work.node_id,
            attempt = work.attempt,
            model = %request.model,
            purpose = %request.purpose,
        );
        // For the metrics of a failed request: the configured provider it was routed to.
        let routed = self.inner.providers.route(&request.model).ok();
        let routed = routed.map(|route| route.provider.name.clone());
        let answered = async {
            let deadline = remaining_until(work.deadline.as_ref())?;
            let call = self.answer(request, started).instrument(span);
            match deadline {
                Some(left) => tokio::time::timeout(left, call)
                    .await
                    .map_err(|_| Status::deadline_exceeded("the request's deadline passed"))?,
                None => call.await,
            }
        }
        .await;
        let seconds = started.elapsed().as_secs_f64();
        metrics::count_request(&self.inner.metrics, &answered, routed.as_deref(), seconds);
        answered
    }

    async fn answer(
        &self,
        request: CompleteRequest,
        started: Instant,
    ) -> Result<CompleteResponse, Status> {
        if request.model.trim().is_empty() {
            return Err(Status::invalid_argument("model is required"));
        }
        let inner = &self.inner;
        let route = inner
            .providers
            .route(&request.model)
            .map_err(|e| aide_proto::status_of(&e, "gateway"))?;
        let provider = route.provider.name.clone();
        if route.provider.kind == ProviderKind::Baseline {
            return answer_from_baseline(&request, started);
        }
        let client = inner
            .clients
            .get(&provider)
            .ok_or_else(|| Status::internal(format!("no client for provider {provider}")))?;
        let provider_request = provider_request(&request, &route.model)?;

        let caching = cache_enabled(request.cache, provider_request.temperature);
        let key = caching.then(|| cache_key_of(&provider, &provider_request));
        let hit = self.cached(key.as_ref()).await;
        if key.is_some() {
            let result = if hit.is_some() { "hit" } else { "miss" };
            let lookups = &metrics::CACHE_LOOKUPS;
            inner.metrics.inc(lookups, &[("result", result)]);
        }
        if let Some(hit) = hit {
            info!(cache_hit = true, "answered from the cache");
            return Ok(response_from_cache(hit, &provider, started));
        }
        let answer = self
            .call_provider(client, &provider, &route.model, &provider_request)
            .await
            .map_err(|e| aide_proto::status_of(&e, "gateway"))?;
        let cost = self.cost(&provider, &route.model, answer.usage);
        if let Some(key) = &key {
            match serde_json::to_vec(&cached_answer(&answer)) {
                Ok(bytes) => inner.shared.cache_put(key, &bytes).await,
                Err(e) => warn!(error = %e, "cannot encode an answer for the cache"),
            }
        }
        let latency_ms = started.elapsed().as_millis() as u64;
        info!(
            prompt_tokens = answer.usage.prompt,
            completion_tokens = answer.usage.completion,
            cost_usd = cost,
            latency_ms,
            attempts = answer.attempts,
            "answered"
        );
        Ok(CompleteResponse {
            answer: Some(proto_answer(answer.answer)?),
            usage: Some(proto_usage(answer.usage)),
            cost_usd: cost,
            latency_ms,
            provider_request_id: answer.request_id.unwrap_or_default(),
            provider,
            model: answer.model,
            cache_hit: false,
            attempts: answer.attempts,
        })
    }

    /// The cached answer under `key`, when caching is on and there is a readable one.
    async fn cached(&self, key: Option<&crate::shared::CacheKey>) -> Option<CachedAnswer> {
        let bytes = self.inner.shared.cache_get(key?).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| warn!(error = %e, "ignoring an unreadable cache entry"))
            .ok()
    }

    /// One provider call under the shared limits (a forced function call is validated and
    /// re-asked); the limiter is settled with the tokens really used.
    async fn call_provider(
        &self,
        client: &ProviderClient,
        provider: &str,
        model: &str,
        request: &ProviderRequest,
    ) -> Result<ProviderResponse, Error> {
        let inner = &self.inner;
        let estimate = estimated_tokens(request);
        let asked = Instant::now();
        let permit = inner.shared.acquire(provider, model, estimate).await;
        let waited = asked.elapsed().as_secs_f64();
        if waited >= metrics::WAIT_THRESHOLD_SECS {
            let labels = [("provider", provider)];
            inner.metrics.inc(&metrics::RATE_LIMIT_WAITS, &labels);
            inner
                .metrics
                .add(&metrics::RATE_LIMIT_WAIT_SECONDS, &labels, waited);
        }
        let answer = match &request.function {
            Some(_) => {
                crate::structured::complete_structured(client, request, inner.max_reasks).await
            }
            None => client.complete(request).await,
        };
        match &answer {
            Ok(answer) => permit.settle(answer.usage.prompt + answer.usage.completion),
            Err(e) => {
                permit.settle(estimate);
                warn!(error = %e, "provider call failed");
            }
        }
        answer
    }

    /// The price of a call; 0 with a warning (once per model) when the table has no price.
    fn cost(&self, provider: &str, model: &str, usage: TokenUsage) -> f64 {
        if let Some(cost) = self.inner.prices.cost(provider, model, usage) {
            return cost;
        }
        let name = format!("{provider}/{model}");
        let first = self
            .inner
            .unpriced
            .lock()
            .map(|mut seen| seen.insert(name.clone()))
            .unwrap_or(false);
        if first {
            warn!(model = %name, "no price for this model: its calls are recorded at cost 0");
        }
        0.0
    }
}

#[tonic::async_trait]
impl LlmGateway for Gateway {
    async fn complete(
        &self,
        request: Request<CompleteRequest>,
    ) -> Result<Response<CompleteResponse>, Status> {
        Gateway::complete(self, request.into_inner())
            .await
            .map(Response::new)
    }
}

/// Time left before the request's deadline; an error when it already passed.
fn remaining_until(deadline: Option<&prost_types::Timestamp>) -> Result<Option<Duration>, Status> {
    let Some(deadline) = deadline else {
        return Ok(None);
    };
    let at = SystemTime::UNIX_EPOCH
        + Duration::new(deadline.seconds.max(0) as u64, deadline.nanos.max(0) as u32);
    match at.duration_since(SystemTime::now()) {
        Ok(left) => Ok(Some(left)),
        Err(_) => Err(Status::deadline_exceeded(
            "the request's deadline had passed on arrival",
        )),
    }
}

fn answer_from_baseline(
    request: &CompleteRequest,
    started: Instant,
) -> Result<CompleteResponse, Status> {
    let ctx = request.aide.as_ref().ok_or_else(|| {
        Status::invalid_argument(
            "the baseline author needs the request's AIDE context (field `aide`)",
        )
    })?;
    let answer = baseline::answer(ctx).map_err(|e| Status::invalid_argument(e.to_string()))?;
    let answer = match (answer, &request.function) {
        (BaselineAnswer::FunctionArguments(args), Some(_)) => {
            complete_response::Answer::FunctionArgumentsJson(args.to_string())
        }
        (BaselineAnswer::Text(text), None) => complete_response::Answer::Text(text),
        (BaselineAnswer::FunctionArguments(_), None) => {
            return Err(Status::invalid_argument(
                "a review request must force the review function",
            ));
        }
        (BaselineAnswer::Text(_), Some(_)) => {
            return Err(Status::invalid_argument(
                "the baseline author answers a forced function only for reviews",
            ));
        }
    };
    Ok(CompleteResponse {
        answer: Some(answer),
        usage: Some(v1::Usage::default()),
        cost_usd: 0.0,
        latency_ms: started.elapsed().as_millis() as u64,
        provider_request_id: String::new(),
        provider: baseline::PROVIDER.into(),
        model: baseline::MODEL.into(),
        cache_hit: false,
        attempts: 1,
    })
}

/// The provider-side request, with temperature left out for models that reject it.
fn provider_request(request: &CompleteRequest, model: &str) -> Result<ProviderRequest, Status> {
    if request.messages.is_empty() {
        return Err(Status::invalid_argument("messages must not be empty"));
    }
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match v1::Role::try_from(m.role) {
                Ok(v1::Role::System) => Role::System,
                Ok(v1::Role::User) => Role::User,
                Ok(v1::Role::Assistant) => Role::Assistant,
                _ => {
                    return Err(Status::invalid_argument(format!(
                        "messages[{i}].role is unspecified or unknown"
                    )));
                }
            };
            Ok(Message {
                role,
                content: m.content.clone(),
            })
        })
        .collect::<Result<Vec<_>, Status>>()?;
    let function = match &request.function {
        Some(f) if !f.name.is_empty() => {
            let parameters: serde_json::Value =
                serde_json::from_str(&f.parameters_json).map_err(|e| {
                    Status::invalid_argument(format!("function.parameters_json is not JSON: {e}"))
                })?;
            if !parameters.is_object() {
                return Err(Status::invalid_argument(
                    "function.parameters_json must be a JSON Schema object",
                ));
            }
            Some(FunctionSpec {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters,
            })
        }
        Some(_) => {
            return Err(Status::invalid_argument(
                "function.name is required when a function is given",
            ));
        }
        None => None,
    };
    if let Some(t) = request.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(Status::invalid_argument(format!(
            "temperature {t} is outside 0..=2"
        )));
    }
    Ok(ProviderRequest {
        model: model.to_owned(),
        messages,
        temperature: request.temperature.filter(|_| accepts_temperature(model)),
        max_tokens: request.max_tokens,
        function,
    })
}

fn cache_key_of(provider: &str, request: &ProviderRequest) -> crate::shared::CacheKey {
    let messages: Vec<(&str, &str)> = request
        .messages
        .iter()
        .map(|m| {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            (role, m.content.as_str())
        })
        .collect();
    let function = request.function.as_ref().map(|f| {
        serde_json::json!({ "name": f.name, "description": f.description, "parameters": f.parameters })
    });
    cache_key(
        provider,
        &request.model,
        &messages,
        function.as_ref(),
        request.temperature,
        request.max_tokens,
    )
}

/// A rough token count for the limiter before the provider says: four characters a token
/// for the prompt plus the completion cap.
fn estimated_tokens(request: &ProviderRequest) -> u64 {
    let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
    chars as u64 / 4
        + request
            .max_tokens
            .map_or(ASSUMED_COMPLETION_TOKENS, u64::from)
}

fn cached_answer(answer: &ProviderResponse) -> CachedAnswer {
    let (text, arguments) = match &answer.answer {
        Answer::Text(t) => (Some(t.clone()), None),
        Answer::FunctionArguments(v) => (None, Some(v.clone())),
    };
    CachedAnswer {
        text,
        arguments,
        prompt_tokens: answer.usage.prompt,
        completion_tokens: answer.usage.completion,
        cached_tokens: answer.usage.cached,
        model: answer.model.clone(),
        request_id: answer.request_id.clone(),
    }
}

/// A cache hit costs nothing; its usage is reported as it was when first answered.
fn response_from_cache(hit: CachedAnswer, provider: &str, started: Instant) -> CompleteResponse {
    let answer = match (hit.arguments, hit.text) {
        (Some(args), _) => complete_response::Answer::FunctionArgumentsJson(args.to_string()),
        (None, text) => complete_response::Answer::Text(text.unwrap_or_default()),
    };
    CompleteResponse {
        answer: Some(answer),
        usage: Some(v1::Usage {
            prompt_tokens: hit.prompt_tokens,
            completion_tokens: hit.completion_tokens,
            cached_tokens: hit.cached_tokens,
        }),
        cost_usd: 0.0,
        latency_ms: started.elapsed().as_millis() as u64,
        provider_request_id: hit.request_id.unwrap_or_default(),
        provider: provider.to_owned(),
        model: hit.model,
        cache_hit: true,
        attempts: 0,
    }
}

fn proto_answer(answer: Answer) -> Result<complete_response::Answer, Status> {
    Ok(match answer {
        Answer::Text(text) => complete_response::Answer::Text(text),
        Answer::FunctionArguments(args) => {
            complete_response::Answer::FunctionArgumentsJson(args.to_string())
        }
    })
}

fn proto_usage(usage: TokenUsage) -> v1::Usage {
    v1::Usage {
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        cached_tokens: usage.cached,
    }
}
