//! The one error type of aide-coordinator.

/// Everything the coordinator can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store refused or failed (lease lost, stale attempt, database error).
    #[error(transparent)]
    Store(#[from] aide_store::Error),
    /// Writing a run's output files failed.
    #[error("cannot write {path}: {source}")]
    Output {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The run loop could not load or finish its run.
    #[error("the run loop failed: {0}")]
    Run(#[source] Box<crate::engine::Failure>),
    /// A task of the run loop panicked or was lost.
    #[error("{what} failed: {source}")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// The configuration is unusable (a bad flag, a missing database URL).
    #[error("configuration: {0}")]
    Config(String),
    /// The configuration file, a listener or the gRPC server failed (the service shell).
    #[error(transparent)]
    Service(#[from] aide_service::Error),
}

impl aide_core::HasErrorCode for Error {
    fn code(&self) -> aide_core::ErrorCode {
        match self {
            Self::Store(e) => e.code(),
            Self::Config(_) => aide_core::ErrorCode::InvalidArgument,
            _ => aide_core::ErrorCode::Internal,
        }
    }
}
