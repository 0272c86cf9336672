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
    /// The run loop failed internally (a node task panicked, a run could not be finished).
    #[error("engine: {0}")]
    Engine(String),
    /// The configuration is unusable (a bad flag, a missing database URL).
    #[error("configuration: {0}")]
    Config(String),
    /// The configuration file, a listener or the gRPC server failed (the service shell).
    #[error(transparent)]
    Service(#[from] aide_service::Error),
}
