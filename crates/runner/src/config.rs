//! The runner's configuration: a plain serde struct with defaults, laid over by a TOML
//! file (`--config`), `AIDE_RUNNER_*` variables and flags ([`crate::args::RunnerArgs`]);
//! the default limits applied when a request leaves one at zero, and per-backend settings.
//!
//! ```toml
//! listen = "0.0.0.0:50053"
//! metrics_listen = "0.0.0.0:9090"   # Prometheus /metrics; absent: off
//! backend = "process"               # or "docker"
//! slots = 4
//! [limits]
//! timeout_secs = 600
//! [docker]
//! image = "aide-sandbox:py311"
//! [process]
//! python = "auto"
//! ```

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};

/// The smallest disk quota of an attempt's `working/`.
pub const MIN_DISK_BYTES: u64 = 16 << 20;

/// Which sandbox runs the scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// The runner's whole configuration (the flags of `aide-runner` describe each field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Mutual TLS (certificate, key, cluster CA), or plaintext on loopback.
    pub tls: aide_service::tls::TlsConfig,
    /// The token of the process that started this runner in-process (`aide run`, `aide
    /// serve`): required of every plaintext call, and sent with its own calls. Never in a
    /// file or on the command line.
    #[serde(skip)]
    pub process_token: Option<aide_core::access::Token>,
    /// Where `GET /metrics` is served; off when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// Stable id of this runner; defaults to "<hostname>-<pid>".
    pub runner_id: Option<String>,
    /// Address the coordinator dials to reach this runner; defaults to http://<listen>.
    pub advertise: Option<String>,
    /// Coordinator to register with; without one the runner runs standalone.
    pub coordinator: Option<String>,
    /// Executions run at once; one more is refused with RESOURCE_EXHAUSTED.
    pub slots: usize,
    /// Sandbox backend.
    pub backend: BackendKind,
    /// Directory under which each attempt gets its own temporary directory.
    pub work_root: Option<PathBuf>,
    /// Labels sent at registration, as key=value (e.g. gpu=true).
    pub labels: Vec<String>,
    /// Seconds in-flight executions may keep running after a shutdown signal.
    pub drain_secs: u64,
    /// Seconds between SIGTERM and SIGKILL when a script times out.
    pub grace_secs: u64,
    /// Milliseconds between resource samples.
    pub sample_ms: u64,
    /// Default limits.
    pub limits: LimitDefaults,
    /// Docker backend settings.
    pub docker: DockerConfig,
    /// Process backend settings.
    pub process: ProcessConfig,
    /// Where input bundles are cached; default: `<cache home>/aide/bundles`.
    pub cache_dir: Option<PathBuf>,
    /// Bytes of cached bundles kept; least recently used bundles go first beyond it.
    pub cache_max_bytes: u64,
    /// Keep a warm interpreter per slot (process) or a warm container per slot and input
    /// (Docker), and run each script as a fork of its fork server.
    pub warm: bool,
    /// The modules a warm interpreter imports before its first fork.
    pub preload: Vec<String>,
    /// Accept `local_input_dir` (a path of this host). Only the runner embedded in `aide run`
    /// sets it; no flag, variable or file can.
    #[serde(skip)]
    pub accept_local_input: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            tls: aide_service::tls::TlsConfig::default(),
            process_token: None,
            metrics_listen: None,
            runner_id: None,
            advertise: None,
            coordinator: None,
            slots: 2,
            backend: BackendKind::Docker,
            work_root: None,
            labels: Vec::new(),
            drain_secs: 30,
            grace_secs: 2,
            sample_ms: 1000,
            limits: LimitDefaults::default(),
            docker: DockerConfig::default(),
            process: ProcessConfig::default(),
            cache_dir: None,
            cache_max_bytes: 20 << 30,
            warm: true,
            preload: crate::sandbox::warm::DEFAULT_PRELOAD
                .iter()
                .map(|m| m.to_string())
                .collect(),
            accept_local_input: false,
        }
    }
}

/// Limits used when a request leaves a field at zero, and the most a request may ask: a
/// larger value is clamped to the `max_*` ceiling (output and file sizes to the default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitDefaults {
    /// Wall-clock limit in seconds.
    pub timeout_secs: u64,
    /// Memory limit in bytes (swap excluded).
    pub memory_bytes: u64,
    /// CPU limit in cores.
    pub cpus: f64,
    /// Processes and threads.
    pub pids: u32,
    /// Output kept for Finished, in bytes (head and tail).
    pub max_output_bytes: u64,
    /// Largest collected file returned, in bytes.
    pub max_file_bytes: u64,
    /// All collected files together, in bytes (keeps Finished under gRPC message limits).
    pub max_collect_bytes: u64,
    /// Largest file the script may write (RLIMIT_FSIZE), in bytes.
    pub max_write_bytes: u64,
    /// The disk quota of an attempt's `working/`, in bytes (README: what holds per backend).
    pub disk_bytes: u64,
    /// The longest wall-clock limit a request may ask, in seconds.
    pub max_timeout_secs: u64,
    /// The most memory a request may ask, in bytes.
    pub max_memory_bytes: u64,
    /// The most CPU cores a request may ask.
    pub max_cpus: f64,
    /// The most processes and threads a request may ask.
    pub max_pids: u32,
    /// Whether a request may give its script network access; refused (no network) when not.
    pub allow_network: bool,
}

impl Default for LimitDefaults {
    fn default() -> Self {
        Self {
            timeout_secs: 3600,
            memory_bytes: 4 << 30,
            cpus: 1.0,
            pids: 256,
            max_output_bytes: 256 << 10,
            max_file_bytes: 2 << 20,
            max_collect_bytes: 3 << 20,
            max_write_bytes: 8 << 30,
            disk_bytes: 16 << 30,
            max_timeout_secs: 24 * 3600,
            max_memory_bytes: 64 << 30,
            max_cpus: 16.0,
            max_pids: 4096,
            allow_network: false,
        }
    }
}

/// Settings of the Docker backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DockerConfig {
    /// Image the scripts run in; never pulled.
    pub image: String,
    /// User the script runs as inside the container.
    pub user: String,
    /// Size of the writable tmpfs at /tmp.
    pub tmpfs_size: String,
    /// GPUs handed to every container: "all", or a comma list of device ids; none by default.
    pub gpus: Option<String>,
    /// The OCI runtime sandboxes run under (`runsc` for gVisor); the daemon's default when
    /// `None`. Checked against the daemon's runtimes at start.
    pub runtime: Option<String>,
    /// Seconds between janitor sweeps of this runner's leftover containers and volumes.
    pub janitor_secs: u64,
    /// A bundle's input volume unused for this many seconds is removed by the janitor.
    pub input_idle_secs: u64,
    /// The janitor keeps at most this many input volumes (the most recently used).
    pub input_volumes_max: usize,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            image: "aide-sandbox:py311".into(),
            user: "10001:10001".into(),
            tmpfs_size: "1g".into(),
            gpus: None,
            runtime: None,
            janitor_secs: 300,
            input_idle_secs: 24 * 3600,
            input_volumes_max: 16,
        }
    }
}

/// Settings of the process backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessConfig {
    /// Python interpreter: "auto" provisions (once per host) a virtualenv with the pinned
    /// package set; anything else is used as-is.
    pub python: String,
    /// With python "auto": the interpreter the virtualenv is built from.
    pub venv_base_python: Option<String>,
    /// With python "auto": directory holding the virtualenvs.
    pub venv_root: Option<PathBuf>,
    /// When the runner is root: slot i runs as uid/gid base+i.
    pub uid_base: u32,
    /// When the runner is root: put the script in a fresh network namespace unless the
    /// request allows network.
    pub unshare_net: bool,
}

/// The `--python` value that asks for a provisioned virtualenv.
pub const PYTHON_AUTO: &str = "auto";

impl Default for ProcessConfig {
    fn default() -> Self {
        Self {
            python: PYTHON_AUTO.into(),
            venv_base_python: None,
            venv_root: None,
            uid_base: 20000,
            unshare_net: true,
        }
    }
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

    /// The bundle cache's directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| crate::sandbox::venv::own_cache_home().join("bundles"))
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
        if self.limits.disk_bytes < MIN_DISK_BYTES {
            return Err(crate::Error::Config(format!(
                "disk_bytes (--disk-bytes): at least {MIN_DISK_BYTES} (16 MiB)"
            )));
        }
        let unspecified = self.listen.ip().is_unspecified();
        if unspecified && self.advertise.is_none() && self.coordinator.is_some() {
            return Err(crate::Error::Config(format!(
                "listening on {} needs --advertise: the address the coordinator dials (and, \
                 with TLS, a name the runner's certificate holds)",
                self.listen
            )));
        }
        Ok(())
    }
}
