//! The one error type of the `aide` command line, and the exit code each kind maps to.

use std::path::PathBuf;

/// Exit code: the run completed.
pub const EXIT_COMPLETED: u8 = 0;
/// Exit code: the run failed (the search could not go on).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad input (usage, configuration or task).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: interrupted (Ctrl-C) or cancelled; `aide resume` continues the run.
pub const EXIT_INTERRUPTED: u8 = 3;
/// Exit code: an internal error (a service, the database or the server failed).
pub const EXIT_INTERNAL: u8 = 4;
/// Exit code: the server of a client command cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 5;

/// Everything the command line can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or a `key=value` override is wrong.
    #[error("{0}")]
    Usage(String),
    /// The task could not be loaded or the run settings are invalid.
    #[error(transparent)]
    Task(#[from] aide_core::Error),
    /// The output directory cannot be used.
    #[error("{path}: {reason}")]
    OutDir { path: PathBuf, reason: String },
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] aide_store::Error),
    /// The coordinator engine failed internally.
    #[error("engine: {0}")]
    Engine(#[from] aide_coordinator::Error),
    /// A service (gateway, runner, coordinator) could not start or stopped, with nothing
    /// more to say than this.
    #[error("{0}")]
    Service(String),
    /// A step of starting or running the services failed; `what` names the step.
    #[error("{what}: {source}")]
    ServiceStep {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The server of a client command cannot be reached.
    #[error(
        "cannot reach the aide server at {url}: {reason} (start one with `aide serve`, or pass --server / AIDE_SERVER)"
    )]
    Unreachable { url: String, reason: String },
    /// The server answered with an error of its own.
    #[error("server: {0}")]
    Remote(String),
    /// Ctrl-C before the run was driven.
    #[error("interrupted")]
    Interrupted,
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Task(_) | CliError::OutDir { .. } => EXIT_USAGE,
            CliError::Interrupted => EXIT_INTERRUPTED,
            CliError::Unreachable { .. } => EXIT_UNREACHABLE,
            CliError::Remote(_) => EXIT_INTERNAL,
            CliError::Store(_)
            | CliError::Engine(_)
            | CliError::Service(_)
            | CliError::ServiceStep { .. }
            | CliError::Io { .. } => EXIT_INTERNAL,
        }
    }

    /// A failed service step named `what`, keeping the error as its source.
    pub fn service<E>(what: impl Into<String>) -> impl FnOnce(E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let what = what.into();
        move |source| CliError::ServiceStep {
            what,
            source: Box::new(source),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| CliError::Io { path, source }
    }
}
