//! The runner's one error type, and its mapping to gRPC status codes (no internal paths or
//! daemon messages leak to clients beyond a short reason).

use std::io;

/// Everything that can go wrong inside the runner.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed (missing work context, empty code, bad glob).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Every slot is busy.
    #[error("all {0} slots are busy")]
    NoFreeSlot(usize),
    /// The same (run, node, attempt) is already executing here.
    #[error("execution {0} is already running")]
    AlreadyRunning(String),
    /// The runner is shutting down and accepts no new work.
    #[error("the runner is shutting down")]
    ShuttingDown,
    /// Preparing the per-attempt directory failed.
    #[error("preparing the workspace: {0}")]
    Workspace(#[source] io::Error),
    /// Starting or supervising the sandboxed process failed.
    #[error("process sandbox: {context}: {source}")]
    Process {
        /// What the runner was doing.
        context: &'static str,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// One Docker operation failed; `op` names it (create, start, wait, inspect, remove, ...).
    #[error("docker {op} of {container}: {source}")]
    Docker {
        /// The operation: create, attach, start, wait, inspect, stop, kill, remove, list.
        op: &'static str,
        /// The container name, or "-" for daemon-wide calls.
        container: String,
        /// The daemon's answer.
        #[source]
        source: bollard::errors::Error,
    },
    /// One Docker operation did not answer in time.
    #[error("docker {op} of {container} timed out")]
    DockerTimeout {
        /// The operation.
        op: &'static str,
        /// The container name.
        container: String,
    },
    /// Copying files into or out of a container failed (building or reading a tar).
    #[error("docker copy: {context}: {source}")]
    Archive {
        /// What was being copied.
        context: &'static str,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// A bundle's input volume cannot be used right now (in use half-filled, replaced).
    #[error("input volume: {0}")]
    InputVolume(String),
    /// The Docker image the config names is not present on this host.
    #[error("docker image {0} is missing on this host")]
    ImageMissing(String),
    /// The configured OCI runtime is not one the Docker daemon has.
    #[error(
        "the Docker daemon has no runtime {wanted:?} (it has: {known}); for gVisor install \
         runsc and register it in /etc/docker/daemon.json under \"runtimes\""
    )]
    RuntimeMissing { wanted: String, known: String },
    /// The execution was cancelled before its script started.
    #[error("cancelled before the script started")]
    Cancelled,
    /// The input bundle could not be fetched or checked.
    #[error("fetching the input bundle: {}", .0.original())]
    Input(#[source] aide_bundle::Error),
    /// Binding or serving the gRPC endpoint failed.
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// Any other I/O failure.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// Provisioning the process backend's virtualenv failed (no usable python3, no venv
    /// module, pip failed: the message quotes the end of the tool's output).
    #[error("provisioning the sandbox virtualenv: {0}")]
    Provision(String),
    /// The configuration is inconsistent.
    #[error("config: {0}")]
    Config(String),
    /// The configuration file, a listener or the gRPC server failed (the service shell).
    #[error(transparent)]
    Service(#[from] aide_service::Error),
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a Docker failure of operation `op` on `container`.
    pub(crate) fn docker(
        op: &'static str,
        container: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> Self {
        let container = container.into();
        move |source| Error::Docker {
            op,
            container,
            source,
        }
    }

    /// Wraps a process-backend I/O failure with what was being done.
    pub(crate) fn process(context: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Error::Process { context, source }
    }
}

impl aide_core::HasErrorCode for Error {
    /// Sandbox failures reach the client inside `Finished.sandbox_error`; anything else
    /// that is not the caller's is internal and is not described further.
    fn code(&self) -> aide_core::ErrorCode {
        use aide_core::ErrorCode as Code;
        match self {
            Error::InvalidRequest(_) => Code::InvalidArgument,
            Error::NoFreeSlot(_) => Code::ResourceExhausted,
            Error::AlreadyRunning(_) => Code::AlreadyExists,
            Error::ShuttingDown => Code::Unavailable,
            _ => Code::Internal,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        aide_proto::status_of(&err, "runner")
    }
}
