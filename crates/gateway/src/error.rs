//! The one error type of aide-gateway.

/// Everything the gateway can fail with (for now: the offline baseline author).
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
}
