//! The flags of the `aide-runner` binary, each with its `AIDE_RUNNER_*` (or historical)
//! variable, laid over the configuration file as an [`Overlay`]; [`RunnerArgs::resolve`]
//! gives the [`Config`] (defaults → file → variables → flags).

use std::{net::SocketAddr, path::PathBuf};

use aide_service::Overlay;
use aide_service::config::{set, set_some};
use clap::Parser;

use crate::config::{BackendKind, Config};

/// Flags of the `aide-runner` binary; each also reads an environment variable.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "aide-runner",
    version,
    about = "Executes aide solution scripts in a sandbox"
)]
pub struct RunnerArgs {
    /// TOML configuration file (any field below, limits in [limits], backends in [docker]
    /// and [process]).
    #[arg(long, env = "AIDE_RUNNER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the resolved configuration and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address the gRPC server listens on [default: 127.0.0.1:50053; nothing listens beyond
    /// loopback unless asked].
    #[arg(long, env = "AIDE_RUNNER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address to serve Prometheus metrics on (GET /metrics) [default: off].
    #[arg(long, env = "AIDE_RUNNER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    pub tls: aide_service::tls::TlsArgs,
    /// Stable id of this runner [default: its certificate's name with TLS, else
    /// <hostname>-<pid>].
    #[arg(long, env = "AIDE_RUNNER_ID")]
    pub runner_id: Option<String>,
    /// Address the coordinator dials to reach this runner [default: https://<listen> with
    /// TLS, http://<listen> with --plaintext].
    #[arg(long, env = "AIDE_RUNNER_ADVERTISE")]
    pub advertise: Option<String>,
    /// Coordinator to register with; without one the runner runs standalone.
    #[arg(long, env = "AIDE_COORDINATOR_ADDR")]
    pub coordinator: Option<String>,
    /// Executions run at once; one more is refused with RESOURCE_EXHAUSTED [default: 2].
    #[arg(long, env = "AIDE_RUNNER_SLOTS")]
    pub slots: Option<usize>,
    /// Sandbox backend [default: docker].
    #[arg(long, env = "AIDE_RUNNER_BACKEND", value_enum)]
    pub backend: Option<BackendKind>,
    /// Directory under which each attempt gets its own temporary directory.
    #[arg(long, env = "AIDE_RUNNER_WORK_ROOT")]
    pub work_root: Option<PathBuf>,
    /// Where input bundles fetched from the coordinator are cached [default:
    /// /var/cache/aide/bundles as root, else ~/.cache/aide/bundles].
    #[arg(long, env = "AIDE_RUNNER_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Bytes of input bundles kept in the cache; least recently used bundles are evicted
    /// beyond it [default: 21474836480, 20 GiB].
    #[arg(long, env = "AIDE_RUNNER_CACHE_MAX_BYTES")]
    pub cache_max_bytes: Option<u64>,
    /// Labels sent at registration, as key=value (e.g. gpu=true).
    #[arg(long = "label", env = "AIDE_RUNNER_LABELS", value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Let a request give its script network access [default: never; scripts run offline].
    #[arg(long, env = "AIDE_RUNNER_ALLOW_NETWORK")]
    pub allow_network: bool,
    /// Seconds in-flight executions may keep running after a shutdown signal [default: 30].
    #[arg(long, env = "AIDE_RUNNER_DRAIN_SECS")]
    pub drain_secs: Option<u64>,
    /// Seconds between SIGTERM and SIGKILL when a script times out [default: 2].
    #[arg(long, env = "AIDE_RUNNER_GRACE_SECS")]
    pub grace_secs: Option<u64>,
    /// Milliseconds between resource samples [default: 1000].
    #[arg(long, env = "AIDE_RUNNER_SAMPLE_MS")]
    pub sample_ms: Option<u64>,
    /// Keep one warm interpreter per slot (process backend) or one warm container per slot
    /// and input (Docker) that has imported --preload, and run each script as a fresh fork of
    /// it (limits, uid, network namespace, directory and environment are applied in the
    /// fork) instead of starting Python, or a container, anew [default: true].
    #[arg(long, env = "AIDE_RUNNER_WARM", action = clap::ArgAction::Set)]
    pub warm: Option<bool>,
    /// The modules a warm interpreter imports once, comma-separated
    /// [default: numpy, pandas and the common scikit-learn modules].
    #[arg(long, env = "AIDE_RUNNER_PRELOAD", value_delimiter = ',')]
    pub preload: Option<Vec<String>>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub docker: DockerArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
}

/// Default limits, used when a request leaves a field at zero.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitArgs {
    /// Wall-clock limit in seconds [default: 3600].
    #[arg(long, env = "AIDE_RUNNER_TIMEOUT_SECS")]
    pub timeout_secs: Option<u64>,
    /// Memory limit in bytes, swap excluded [default: 4 GiB].
    #[arg(long, env = "AIDE_RUNNER_MEMORY_BYTES")]
    pub memory_bytes: Option<u64>,
    /// CPU limit in cores [default: 1].
    #[arg(long, env = "AIDE_RUNNER_CPUS")]
    pub cpus: Option<f64>,
    /// Processes and threads [default: 256].
    #[arg(long, env = "AIDE_RUNNER_PIDS")]
    pub pids: Option<u32>,
    /// Output kept for Finished, in bytes (head and tail) [default: 256 KiB].
    #[arg(long, env = "AIDE_RUNNER_MAX_OUTPUT_BYTES")]
    pub max_output_bytes: Option<u64>,
    /// Largest collected file returned, in bytes [default: 2 MiB].
    #[arg(long, env = "AIDE_RUNNER_MAX_FILE_BYTES")]
    pub max_file_bytes: Option<u64>,
    /// All collected files together, in bytes [default: 3 MiB].
    #[arg(long, env = "AIDE_RUNNER_MAX_COLLECT_BYTES")]
    pub max_collect_bytes: Option<u64>,
    /// Largest file the script may write, in bytes [default: 8 GiB].
    #[arg(long, env = "AIDE_RUNNER_MAX_WRITE_BYTES")]
    pub max_write_bytes: Option<u64>,
    /// Disk quota of an attempt's working/, in bytes [default: 16 GiB].
    #[arg(long, env = "AIDE_RUNNER_DISK_BYTES")]
    pub disk_bytes: Option<u64>,
}

/// Settings of the Docker backend.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DockerArgs {
    /// Image the scripts run in; never pulled [default: aide-sandbox:py311].
    #[arg(long, env = "AIDE_RUNNER_IMAGE")]
    pub image: Option<String>,
    /// User the script runs as inside the container [default: 10001:10001].
    #[arg(long = "user", env = "AIDE_RUNNER_DOCKER_USER")]
    pub user: Option<String>,
    /// Size of the writable tmpfs at /tmp [default: 1g].
    #[arg(long, env = "AIDE_RUNNER_TMPFS_SIZE")]
    pub tmpfs_size: Option<String>,
    /// GPUs handed to every container: "all", or a comma list of device ids [default: none].
    #[arg(long, env = "AIDE_RUNNER_GPUS")]
    pub gpus: Option<String>,
    /// The daemon's OCI runtime for sandboxes, e.g. runsc (gVisor) [default: the daemon's].
    #[arg(long, env = "AIDE_RUNNER_DOCKER_RUNTIME")]
    pub docker_runtime: Option<String>,
    /// Seconds between janitor sweeps of this runner's leftover containers [default: 300].
    #[arg(long, env = "AIDE_RUNNER_JANITOR_SECS")]
    pub janitor_secs: Option<u64>,
    /// Seconds after which an unused bundle input volume is removed [default: 86400].
    #[arg(long, env = "AIDE_RUNNER_INPUT_IDLE_SECS")]
    pub input_idle_secs: Option<u64>,
    /// Most bundle input volumes kept, the most recently used first [default: 16].
    #[arg(long, env = "AIDE_RUNNER_INPUT_VOLUMES_MAX")]
    pub input_volumes_max: Option<usize>,
}

/// Settings of the process backend.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProcessArgs {
    /// Python interpreter. "auto": at start, provision (once per host) a virtualenv with the
    /// pinned package set of deploy/sandbox/requirements.txt under --venv-root and use it.
    /// Anything else (a path or command name) is used as-is and nothing is installed
    /// [default: auto].
    #[arg(long, env = "AIDE_RUNNER_PYTHON")]
    pub python: Option<String>,
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
    /// file permissions apply to the sandbox alone) [default: 20000].
    #[arg(long, env = "AIDE_RUNNER_UID_BASE")]
    pub uid_base: Option<u32>,
    /// When the runner is root: put the script in a fresh network namespace (`unshare --net`)
    /// unless the request allows network [default: true].
    #[arg(long, env = "AIDE_RUNNER_UNSHARE_NET", action = clap::ArgAction::Set)]
    pub unshare_net: Option<bool>,
}

impl Overlay<Config> for RunnerArgs {
    fn apply(&self, c: &mut Config) {
        set(&mut c.listen, &self.listen);
        self.tls.apply(&mut c.tls);
        set_some(&mut c.metrics_listen, &self.metrics_listen);
        set_some(&mut c.runner_id, &self.runner_id);
        set_some(&mut c.advertise, &self.advertise);
        set_some(&mut c.coordinator, &self.coordinator);
        set(&mut c.slots, &self.slots);
        set(&mut c.backend, &self.backend);
        set_some(&mut c.work_root, &self.work_root);
        set_some(&mut c.cache_dir, &self.cache_dir);
        set(&mut c.cache_max_bytes, &self.cache_max_bytes);
        set(&mut c.labels, &self.labels);
        c.limits.allow_network |= self.allow_network;
        set(&mut c.drain_secs, &self.drain_secs);
        set(&mut c.grace_secs, &self.grace_secs);
        set(&mut c.sample_ms, &self.sample_ms);
        set(&mut c.warm, &self.warm);
        set(&mut c.preload, &self.preload);
        let (l, a) = (&mut c.limits, &self.limits);
        set(&mut l.timeout_secs, &a.timeout_secs);
        set(&mut l.memory_bytes, &a.memory_bytes);
        set(&mut l.cpus, &a.cpus);
        set(&mut l.pids, &a.pids);
        set(&mut l.max_output_bytes, &a.max_output_bytes);
        set(&mut l.max_file_bytes, &a.max_file_bytes);
        set(&mut l.max_collect_bytes, &a.max_collect_bytes);
        set(&mut l.max_write_bytes, &a.max_write_bytes);
        set(&mut l.disk_bytes, &a.disk_bytes);
        let (d, a) = (&mut c.docker, &self.docker);
        set(&mut d.image, &a.image);
        set(&mut d.user, &a.user);
        set(&mut d.tmpfs_size, &a.tmpfs_size);
        set_some(&mut d.gpus, &a.gpus);
        set_some(&mut d.runtime, &a.docker_runtime);
        set(&mut d.janitor_secs, &a.janitor_secs);
        set(&mut d.input_idle_secs, &a.input_idle_secs);
        set(&mut d.input_volumes_max, &a.input_volumes_max);
        let (p, a) = (&mut c.process, &self.process);
        set(&mut p.python, &a.python);
        set_some(&mut p.venv_base_python, &a.venv_base_python);
        set_some(&mut p.venv_root, &a.venv_root);
        set(&mut p.uid_base, &a.uid_base);
        set(&mut p.unshare_net, &a.unshare_net);
    }
}

impl RunnerArgs {
    /// The configuration: defaults → `--config` file → variables → flags, validated.
    pub fn resolve(&self) -> crate::Result<Config> {
        let config: Config = aide_service::config::layered(self.config.as_deref(), self)?;
        config.validate()?;
        Ok(config)
    }
}

impl Config {
    /// Parses `aide-runner` flags (and the environment) into a configuration: for tests and
    /// tools that speak in flags. Code that embeds a runner builds a [`Config`] value.
    pub fn from_argv<I, T>(argv: I) -> crate::Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args =
            RunnerArgs::try_parse_from(argv).map_err(|e| crate::Error::Config(e.to_string()))?;
        args.resolve()
    }
}
