//! The one error type of aide-gateway, and its classification into the gRPC-facing
//! [`ErrorKind`]s.

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

/// The small set of error classes the service maps to gRPC status codes (ARCHITECTURE §8),
/// kept free of any gRPC dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is wrong and retrying it unchanged cannot help (INVALID_ARGUMENT).
    InvalidArgument,
    /// A key is wrong or lacks access (PERMISSION_DENIED).
    PermissionDenied,
    /// Rate limits outlasted the retries (RESOURCE_EXHAUSTED).
    ResourceExhausted,
    /// The provider is unreachable, timing out, failing or unreadable (UNAVAILABLE).
    Unavailable,
    /// The system is not in a state to answer: no valid structured output, a missing key
    /// (FAILED_PRECONDITION).
    FailedPrecondition,
    /// A bug or a broken installation: bad configuration, price table (INTERNAL).
    Internal,
}

impl Error {
    /// The class of this error, which picks the gRPC status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnsupportedAction(_)
            | Error::UnknownAction(_)
            | Error::UnroutableModel { .. }
            | Error::InvalidRequest(_) => ErrorKind::InvalidArgument,
            Error::Provider { kind, .. } => match kind {
                GiveUpKind::Unauthorized => ErrorKind::PermissionDenied,
                GiveUpKind::Rejected => ErrorKind::InvalidArgument,
                GiveUpKind::RateLimited => ErrorKind::ResourceExhausted,
                GiveUpKind::Unavailable => ErrorKind::Unavailable,
            },
            Error::ProviderAnswer { .. } => ErrorKind::Unavailable,
            Error::StructuredOutput { .. } | Error::Secret { .. } => ErrorKind::FailedPrecondition,
            Error::Recipe(_)
            | Error::ProviderConfig(_)
            | Error::PriceTable { .. }
            | Error::Service(_) => ErrorKind::Internal,
        }
    }
}
