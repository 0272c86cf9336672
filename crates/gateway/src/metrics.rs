//! The gateway's Prometheus metrics: requests by provider, model and outcome, their latency,
//! response-cache lookups, tokens, cost, and waits at the shared rate limits. The provider
//! and model labels are those of the answer (a configured provider, the model as it names
//! itself; for a failed request, the configured provider it was routed to and model
//! `none`), never a caller's string: a request routed nowhere counts under provider `none`.

use aide_proto::v1::CompleteResponse;
use aide_telemetry::{Def, Metrics, SECONDS_BUCKETS};
use tonic::Status;

pub const REQUESTS: Def = Def::counter(
    "aide_gateway_requests_total",
    "Completion requests answered, by provider, model and outcome (ok or the gRPC code).",
);
pub const REQUEST_SECONDS: Def = Def::histogram(
    "aide_gateway_request_duration_seconds",
    "Time to answer a completion request, by provider.",
    SECONDS_BUCKETS,
);
pub const CACHE_LOOKUPS: Def = Def::counter(
    "aide_gateway_cache_lookups_total",
    "Response-cache lookups, by result (hit or miss).",
);
pub const TOKENS: Def = Def::counter(
    "aide_gateway_tokens_total",
    "Tokens used by provider calls, by provider, model and kind (prompt or completion).",
);
pub const COST: Def = Def::counter(
    "aide_gateway_cost_usd_total",
    "Dollars spent on provider calls, by provider and model.",
);
pub const RATE_LIMIT_WAITS: Def = Def::counter(
    "aide_gateway_rate_limit_waits_total",
    "Provider calls that waited at the shared rate limits, by provider.",
);
pub const RATE_LIMIT_WAIT_SECONDS: Def = Def::counter(
    "aide_gateway_rate_limit_wait_seconds_total",
    "Seconds provider calls spent waiting at the shared rate limits, by provider.",
);

/// A wait at the limiter shorter than this is the limiter's own overhead, not a wait.
pub const WAIT_THRESHOLD_SECS: f64 = 0.01;

/// Counts one answered request (or its failure) that took `seconds`; `routed` is the
/// configured provider the request was routed to, when it was.
pub fn count_request(
    metrics: &Metrics,
    answer: &Result<CompleteResponse, Status>,
    routed: Option<&str>,
    seconds: f64,
) {
    let (provider, model, outcome) = match answer {
        Ok(response) => (response.provider.as_str(), response.model.as_str(), "ok"),
        Err(status) => (routed.unwrap_or("none"), "none", code_label(status.code())),
    };
    let labels = [
        ("provider", provider),
        ("model", model),
        ("outcome", outcome),
    ];
    metrics.inc(&REQUESTS, &labels);
    metrics.observe(&REQUEST_SECONDS, &[("provider", provider)], seconds);
    let Ok(response) = answer else {
        return;
    };
    if response.cache_hit {
        return;
    }
    if let Some(usage) = &response.usage {
        let (p, m) = (("provider", provider), ("model", model));
        metrics.add(
            &TOKENS,
            &[p, m, ("kind", "prompt")],
            usage.prompt_tokens as f64,
        );
        metrics.add(
            &TOKENS,
            &[p, m, ("kind", "completion")],
            usage.completion_tokens as f64,
        );
    }
    metrics.add(
        &COST,
        &[("provider", provider), ("model", model)],
        response.cost_usd,
    );
}

/// A gRPC code as a label value, in snake case.
fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "ok",
        Cancelled => "cancelled",
        Unknown => "unknown",
        InvalidArgument => "invalid_argument",
        DeadlineExceeded => "deadline_exceeded",
        NotFound => "not_found",
        AlreadyExists => "already_exists",
        PermissionDenied => "permission_denied",
        ResourceExhausted => "resource_exhausted",
        FailedPrecondition => "failed_precondition",
        Aborted => "aborted",
        OutOfRange => "out_of_range",
        Unimplemented => "unimplemented",
        Internal => "internal",
        Unavailable => "unavailable",
        DataLoss => "data_loss",
        Unauthenticated => "unauthenticated",
    }
}
