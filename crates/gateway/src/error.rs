//! The one error type of aide-gateway, and its [`ErrorCode`] (which picks the gRPC status
//! through `aide_proto::status_of`).

use aide_core::{ErrorCode, HasErrorCode};

use crate::retry::GiveUpKind;

/// Everything the gateway can fail with: the offline baseline author, provider routing and
/// configuration, secrets, the price table, provider calls and structured output. Messages
/// name variables, files, providers and models, never the value of a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request asks for something this author does not do.
    #[error("the baseline author cannot answer a request with action {0}")]
    UnsupportedAction(&'static str),
    /// The action field holds a value this build does not know.
    #[error("unknown action kind {0}")]
    UnknownAction(i32),
    /// A recipe could not be encoded into its script comment.
    #[error("cannot encode the baseline recipe: {0}")]
    Recipe(#[source] serde_json::Error),
    /// A secret (API key) could not be loaded. `source` names the variable or file; the
    /// value is never part of the message.
    #[error("cannot load the secret from {source_name}: {reason}")]
    Secret {
        /// "environment variable X" or "file /path".
        source_name: String,
        /// Why: unset, empty, unreadable.
        reason: String,
    },
    /// A model name that no provider route matches.
    #[error("cannot route model {model:?}: {hint}")]
    UnroutableModel {
        /// The model as the request named it.
        model: String,
        /// How to address it instead.
        hint: String,
    },
    /// The providers configuration (TOML) is invalid.
    #[error("invalid provider configuration: {0}")]
    ProviderConfig(String),
    /// A price table (shipped or user file) is invalid.
    #[error("invalid price table {origin}: {reason}")]
    PriceTable {
        /// "shipped prices.toml" or the user file's name.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A provider call failed for good: rejected, unauthorized, or retries ran out.
    /// `message` names the provider and, for a bad key, the variable to check.
    #[error("{message}")]
    Provider {
        /// The provider's configured name.
        provider: String,
        /// The class of the failure.
        kind: GiveUpKind,
        /// What happened and what to do.
        message: String,
    },
    /// The provider answered with success, but the body is not in its wire format.
    #[error("provider {provider} sent an answer the gateway cannot read: {reason}")]
    ProviderAnswer {
        /// The provider's configured name.
        provider: String,
        /// What is wrong with the body.
        reason: String,
    },
    /// A forced function call could not be obtained in a form that passes its schema.
    #[error("provider {provider} gave no valid structured answer: {reason}")]
    StructuredOutput {
        /// The provider's configured name.
        provider: String,
        /// The attempts made and the last validation error.
        reason: String,
    },
    /// The request itself is unusable (e.g. a structured call without a function).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The configuration file, a listener or the gRPC server failed (the service shell).
    #[error(transparent)]
    Service(#[from] aide_service::Error),
}

impl HasErrorCode for Error {
    /// The code of this error, which picks the gRPC status: a bad request or a refused key is
    /// the caller's, an unreachable or rate-limited provider may pass, a missing key or no
    /// valid structured output is a failed precondition, a broken installation is internal.
    fn code(&self) -> ErrorCode {
        match self {
            Error::UnsupportedAction(_)
            | Error::UnknownAction(_)
            | Error::UnroutableModel { .. }
            | Error::InvalidRequest(_) => ErrorCode::InvalidArgument,
            Error::Provider { kind, .. } => match kind {
                GiveUpKind::Unauthorized => ErrorCode::PermissionDenied,
                GiveUpKind::Rejected => ErrorCode::InvalidArgument,
                GiveUpKind::RateLimited => ErrorCode::ResourceExhausted,
                GiveUpKind::Unavailable => ErrorCode::Unavailable,
            },
            Error::ProviderAnswer { .. } => ErrorCode::Unavailable,
            Error::StructuredOutput { .. } | Error::Secret { .. } => ErrorCode::FailedPrecondition,
            Error::Recipe(_)
            | Error::ProviderConfig(_)
            | Error::PriceTable { .. }
            | Error::Service(_) => ErrorCode::Internal,
        }
    }
}
