//! The one error type of aide-core.

use std::path::PathBuf;

/// Everything that can go wrong in the core: bad tasks, bad settings, unreadable data,
/// replies without code, malformed reviews.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A task could not be loaded; the message names what is missing or wrong.
    #[error("invalid task at {path}: {reason}")]
    InvalidTask { path: PathBuf, reason: String },
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    /// A steering directive no run can take; the message names what is wrong.
    #[error("invalid directive: {0}")]
    InvalidDirective(String),
    /// An author's reply held no code block and did not read as Python.
    #[error("the reply contained no code")]
    NoCode,
    /// A reviewer's answer was not a valid `submit_review` call; the message names the field.
    #[error("invalid review: {0}")]
    InvalidReview(String),
    /// A directory cannot become a bundle; the path names the file that was refused.
    #[error("{path}: {refusal}")]
    InvalidBundle {
        path: PathBuf,
        refusal: crate::bundle::Refusal,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn task(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::InvalidTask {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
