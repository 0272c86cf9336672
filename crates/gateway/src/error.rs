//! The one error type of aide-gateway.

/// Everything the gateway can fail with: the offline baseline author, provider routing and
/// configuration, secrets and the price table. Messages name variables, files and models,
/// never the value of a secret.
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
}
