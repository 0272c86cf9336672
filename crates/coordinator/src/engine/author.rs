//! The gRPC adapter of the [`Author`] port over `aide.v1.LlmGateway`: an
//! [`AuthorRequest`] becomes a `CompleteRequest` (the prompt as one user message, the hints
//! as the `AideContext`), a `CompleteResponse` an [`AuthorReply`].

use std::time::{Duration, SystemTime};

use aide_proto::bearer::{Authed, Bearer};
use aide_proto::v1::llm_gateway_client::LlmGatewayClient;
use aide_proto::v1::{self, CompleteRequest, CompleteResponse, complete_response};
use aide_service::tls::Dialer;
use aide_store::CallUsage;
use aide_telemetry::{TracedChannel, traced};
use tonic::service::interceptor::InterceptedService;

use super::ports::{
    Answer, Author, AuthorHints, AuthorReply, AuthorRequest, CallKind, PortError, TaskFacts,
};

/// The author behind a gateway reached over gRPC.
#[derive(Debug, Clone)]
pub struct GrpcAuthor {
    client: LlmGatewayClient<Authed<TracedChannel>>,
    /// Client-side bound on one call (the gateway's own retries included).
    timeout: Duration,
}

impl GrpcAuthor {
    pub fn new(client: LlmGatewayClient<Authed<TracedChannel>>) -> Self {
        Self {
            client,
            timeout: Duration::from_secs(600),
        }
    }

    /// A lazily connecting author for `address` (e.g. `http://127.0.0.1:50052`), plaintext.
    pub fn connect_lazy(address: &str) -> Result<Self, PortError> {
        Self::dial(&Dialer::plaintext(), address, Bearer::none())
    }

    /// A lazily connecting author for `address`, dialed as `dialer` says (TLS with the
    /// coordinator's certificate in a deployment), sending `bearer` (the process token of
    /// an in-process gateway).
    pub fn dial(dialer: &Dialer, address: &str, bearer: Bearer) -> Result<Self, PortError> {
        let channel = dialer
            .endpoint(address)
            .map_err(|e| PortError::request(format!("bad gateway address: {e}")))?
            .connect_lazy();
        Ok(Self::new(LlmGatewayClient::new(InterceptedService::new(
            traced(channel),
            bearer,
        ))))
    }

    /// Sets the client-side bound on one call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Author for GrpcAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        let mut client = self.client.clone();
        let deadline = SystemTime::now() + self.timeout;
        let mut request = tonic::Request::new(complete_request(&request, deadline));
        request.set_timeout(self.timeout);
        match tokio::time::timeout(self.timeout, client.complete(request)).await {
            Err(_) => Err(PortError::infrastructure(format!(
                "gateway did not answer within {:?}",
                self.timeout
            ))),
            Ok(Err(status)) => Err(PortError::from_status("gateway", &status)),
            Ok(Ok(response)) => Ok(author_reply(response.into_inner())),
        }
    }
}

/// The gateway request of `request`, to be answered by `deadline`.
pub fn complete_request(request: &AuthorRequest, deadline: SystemTime) -> CompleteRequest {
    CompleteRequest {
        work: Some(v1::WorkContext {
            run_id: request.run_id.to_string(),
            node_id: request.node_id.map(|id| id.to_string()).unwrap_or_default(),
            attempt: 1,
            deadline: Some(deadline.into()),
            grading: None,
        }),
        model: request.model.clone(),
        messages: vec![v1::ChatMessage {
            role: v1::Role::User.into(),
            content: request.prompt.clone(),
        }],
        temperature: Some(request.temperature),
        max_tokens: None,
        function: request.function.as_ref().map(|spec| v1::FunctionSpec {
            name: spec.name.clone(),
            description: spec.description.clone(),
            parameters_json: spec.parameters.to_string(),
        }),
        cache: None,
        aide: Some(aide_context(&request.hints)),
        purpose: request.purpose.to_string(),
    }
}

fn aide_context(hints: &AuthorHints) -> v1::AideContext {
    let action = match hints.call {
        CallKind::Draft => v1::ActionKind::Draft,
        CallKind::Improve => v1::ActionKind::Improve,
        CallKind::Debug => v1::ActionKind::Debug,
        CallKind::Merge => v1::ActionKind::Merge,
        CallKind::Review => v1::ActionKind::Review,
        CallKind::Report => v1::ActionKind::Report,
    };
    v1::AideContext {
        action: action.into(),
        task: Some(task_facts(&hints.task)),
        parent_code: hints.parent_code.clone(),
        last_output: hints.last_output.clone(),
        step: hints.step,
        seed: hints.seed,
        draft_index: hints.draft_index,
        parent_metric: hints.parent_metric,
        partner_code: hints
            .partner
            .as_ref()
            .map(|p| p.code.clone())
            .unwrap_or_default(),
        partner_metric: hints.partner.as_ref().and_then(|p| p.metric),
    }
}

fn task_facts(task: &TaskFacts) -> v1::TaskFacts {
    v1::TaskFacts {
        goal: task.goal.clone(),
        eval: task.eval.clone().unwrap_or_default(),
        metric_name: task.metric_name.clone().unwrap_or_default(),
        direction: task
            .direction
            .map(v1::MetricDirection::from)
            .unwrap_or(v1::MetricDirection::Unspecified)
            .into(),
        input_files: task.input_files.clone(),
        submission_file: task.submission_file.clone().unwrap_or_default(),
        sample_submission: task.sample_submission.clone().unwrap_or_default(),
        k_fold: task.k_fold,
        exec_timeout_secs: task.exec_timeout_secs,
    }
}

/// The engine's view of a gateway answer.
pub fn author_reply(response: CompleteResponse) -> AuthorReply {
    let usage = response.usage.unwrap_or_default();
    AuthorReply {
        answer: response.answer.map(|answer| match answer {
            complete_response::Answer::Text(text) => Answer::Text(text),
            complete_response::Answer::FunctionArgumentsJson(args) => {
                Answer::FunctionArguments(args)
            }
        }),
        usage: CallUsage {
            provider: response.provider,
            model: response.model,
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_tokens: usage.cached_tokens,
            cost_usd: response.cost_usd,
            latency_ms: response.latency_ms,
            request_id: Some(response.provider_request_id).filter(|id| !id.is_empty()),
            cached: response.cache_hit,
        },
    }
}
