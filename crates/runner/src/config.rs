//! The runner's configuration: command-line flags with `AIDE_*` environment variables, the
//! default limits applied when a request leaves one at zero, and per-backend settings.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// Which sandbox runs the scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// One container per execution attempt (the production sandbox).
    Docker,
    /// A limited process group on the host (laptops, no Docker).
    Process,
}

impl BackendKind {
    /// The name the coordinator sees at registration.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Docker => "docker",
            BackendKind::Process => "process",
        }
    }
}

/// The runner's whole configuration.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "aide-runner",
    about = "Executes aide solution scripts in a sandbox"
)]
pub struct Config {
    /// Address the gRPC server listens on.
    #[arg(long, env = "AIDE_RUNNER_LISTEN", default_value = "0.0.0.0:50053")]
    pub listen: SocketAddr,
    /// Stable id of this runner; defaults to "<hostname>-<pid>".
    #[arg(long, env = "AIDE_RUNNER_ID")]
    pub runner_id: Option<String>,
    /// Address the coordinator dials to reach this runner; defaults to http://<listen>.
    #[arg(long, env = "AIDE_RUNNER_ADVERTISE")]
    pub advertise: Option<String>,
    /// Coordinator to register with; without one the runner runs standalone.
    #[arg(long, env = "AIDE_COORDINATOR_ADDR")]
    pub coordinator: Option<String>,
    /// Executions run at once; one more is refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "AIDE_RUNNER_SLOTS", default_value_t = 2)]
    pub slots: usize,
    /// Sandbox backend.
    #[arg(
        long,
        env = "AIDE_RUNNER_BACKEND",
        value_enum,
        default_value = "docker"
    )]
    pub backend: BackendKind,
    /// Directory under which each attempt gets its own temporary directory.
    #[arg(long, env = "AIDE_RUNNER_WORK_ROOT")]
    pub work_root: Option<PathBuf>,
    /// Labels sent at registration, as key=value (e.g. gpu=true).
    #[arg(long = "label", env = "AIDE_RUNNER_LABELS", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Seconds in-flight executions may keep running after a shutdown signal.
    #[arg(long, env = "AIDE_RUNNER_DRAIN_SECS", default_value_t = 30)]
    pub drain_secs: u64,
    /// Seconds between SIGTERM and SIGKILL when a script times out.
    #[arg(long, env = "AIDE_RUNNER_GRACE_SECS", default_value_t = 2)]
    pub grace_secs: u64,
    /// Milliseconds between resource samples.
    #[arg(long, env = "AIDE_RUNNER_SAMPLE_MS", default_value_t = 1000)]
    pub sample_ms: u64,
    /// Default limits.
    #[command(flatten)]
    pub limits: LimitDefaults,
    /// Docker backend settings.
    #[command(flatten)]
    pub docker: DockerConfig,
    /// Process backend settings.
    #[command(flatten)]
    pub process: ProcessConfig,
}

/// Limits used when a request leaves a field at zero.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitDefaults {
    /// Wall-clock limit in seconds.
    #[arg(long, env = "AIDE_RUNNER_TIMEOUT_SECS", default_value_t = 3600)]
    pub timeout_secs: u64,
    /// Memory limit in bytes (swap excluded).
    #[arg(long, env = "AIDE_RUNNER_MEMORY_BYTES", default_value_t = 4 << 30)]
    pub memory_bytes: u64,
    /// CPU limit in cores.
    #[arg(long, env = "AIDE_RUNNER_CPUS", default_value_t = 1.0)]
    pub cpus: f64,
    /// Processes and threads.
    #[arg(long, env = "AIDE_RUNNER_PIDS", default_value_t = 256)]
    pub pids: u32,
    /// Output kept for Finished, in bytes (head and tail).
    #[arg(long, env = "AIDE_RUNNER_MAX_OUTPUT_BYTES", default_value_t = 256 << 10)]
    pub max_output_bytes: u64,
    /// Largest collected file returned, in bytes.
    #[arg(long, env = "AIDE_RUNNER_MAX_FILE_BYTES", default_value_t = 2 << 20)]
    pub max_file_bytes: u64,
    /// All collected files together, in bytes (keeps Finished under gRPC message limits).
    #[arg(long, env = "AIDE_RUNNER_MAX_COLLECT_BYTES", default_value_t = 3 << 20)]
    pub max_collect_bytes: u64,
    /// Largest file the script may write (RLIMIT_FSIZE of the process backend), in bytes.
    #[arg(long, env = "AIDE_RUNNER_MAX_WRITE_BYTES", default_value_t = 8 << 30)]
    pub max_write_bytes: u64,
}

/// Settings of the Docker backend.
#[derive(Debug, Clone, clap::Args)]
pub struct DockerConfig {
    /// Image the scripts run in; never pulled.
    #[arg(long, env = "AIDE_RUNNER_IMAGE", default_value = "aide-sandbox:py311")]
    pub image: String,
    /// User the script runs as inside the container.
    #[arg(long, env = "AIDE_RUNNER_DOCKER_USER", default_value = "10001:10001")]
    pub user: String,
    /// Size of the writable tmpfs at /tmp.
    #[arg(long, env = "AIDE_RUNNER_TMPFS_SIZE", default_value = "1g")]
    pub tmpfs_size: String,
    /// GPUs handed to every container: "all", or a comma list of device ids; none by default.
    #[arg(long, env = "AIDE_RUNNER_GPUS")]
    pub gpus: Option<String>,
    /// Seconds between janitor sweeps of this runner's leftover containers.
    #[arg(long, env = "AIDE_RUNNER_JANITOR_SECS", default_value_t = 300)]
    pub janitor_secs: u64,
}

/// Settings of the process backend.
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessConfig {
    /// Python interpreter. "auto": at start, provision (once per host) a virtualenv with the
    /// pinned package set of deploy/sandbox/requirements.txt under --venv-root and use it.
    /// Anything else (a path or command name) is used as-is and nothing is installed.
    #[arg(long, env = "AIDE_RUNNER_PYTHON", default_value = "auto")]
    pub python: String,
    /// With --python auto: the interpreter the virtualenv is built from. Default: the first
    /// python3 on PATH (then /usr/bin, /usr/local/bin) that is >= 3.9 and has venv, and, when
    /// the runner is root, that the sandbox uids can run.
    #[arg(long, env = "AIDE_RUNNER_VENV_BASE_PYTHON")]
    pub venv_base_python: Option<String>,
    /// With --python auto: directory holding the virtualenvs. Default: /var/cache/aide/venvs
    /// as root, else $XDG_CACHE_HOME/aide/venvs or ~/.cache/aide/venvs.
    #[arg(long, env = "AIDE_RUNNER_VENV_ROOT")]
    pub venv_root: Option<PathBuf>,
    /// When the runner is root: slot i runs as uid/gid base+i (so process limits, kills and
    /// file permissions apply to the sandbox alone).
    #[arg(long, env = "AIDE_RUNNER_UID_BASE", default_value_t = 20000)]
    pub uid_base: u32,
    /// When the runner is root: put the script in a fresh network namespace (`unshare --net`)
    /// unless the request allows network.
    #[arg(long, env = "AIDE_RUNNER_UNSHARE_NET", default_value_t = true, action = clap::ArgAction::Set)]
    pub unshare_net: bool,
}

impl Config {
    /// The runner id, or "<hostname>-<pid>".
    pub fn runner_id(&self) -> String {
        self.runner_id.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "runner".into());
            format!("{host}-{}", std::process::id())
        })
    }

    /// The root of per-attempt directories.
    pub fn work_root(&self) -> PathBuf {
        self.work_root
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("aide-runner"))
    }

    /// Grace period between SIGTERM and SIGKILL.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_secs)
    }

    /// Checks the values that clap cannot.
    pub fn validate(&self) -> crate::Result<()> {
        if self.slots == 0 {
            return Err(crate::Error::Config("slots must be at least 1".into()));
        }
        if self.limits.cpus.is_nan() || self.limits.cpus <= 0.0 {
            return Err(crate::Error::Config("default cpus must be positive".into()));
        }
        Ok(())
    }
}
