//! Coordinator configuration: a plain serde struct with its defaults written once
//! ([`Default`]), laid over by a TOML file (`--config`), `AIDE_*` variables and flags
//! ([`CoordinatorArgs`], the [`Overlay`]), then checked by [`CoordinatorConfig::validate`].
//!
//! ```toml
//! listen = "0.0.0.0:50051"
//! metrics_listen = "0.0.0.0:9090"       # Prometheus /metrics; absent: off
//! http_listen = "0.0.0.0:8080"          # web UI and /api/v1; absent: off
//! database_url = "postgres://aide@db/aide"
//! gateway = "http://gateway:50052"
//! max_runs = 8
//! data_dir = "/var/lib/aide"             # local blobs in <data_dir>/blobs/
//! blob_store = "s3://bucket/aide"        # instead of local blobs; AWS_* variables apply
//! max_blob_bytes = 17179869184           # the largest blob an upload may declare
//! ```

use aide_service::tls::{TlsArgs, TlsConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aide_service::Overlay;
use aide_service::config::{set, set_some};
use aide_store::DatabaseUrl;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::task_roots::{TaskRootArg, TaskRoots};

/// The configuration a coordinator replica runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoordinatorConfig {
    /// Address of the gRPC API.
    pub listen: SocketAddr,
    /// Mutual TLS (runners and the gateway by certificate, people by token), or plaintext
    /// on loopback.
    pub tls: TlsConfig,
    /// The token of the process that runs this coordinator beside its own gateway and runner
    /// (`aide serve`): sent to them, and required of that runner's plaintext calls. Never in a
    /// file or on the command line.
    #[serde(skip)]
    pub process_token: Option<aide_core::access::Token>,
    /// Where `GET /metrics` is served; off when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// Where the web UI and the HTTP API (`/api/v1`) are served, with the `tls` certificate
    /// (plaintext only on loopback); off when `None`.
    pub http_listen: Option<SocketAddr>,
    /// The store; required (no default).
    pub database_url: Option<DatabaseUrl>,
    /// The LLM gateway.
    pub gateway: String,
    /// Lease owner id of this replica.
    pub owner: String,
    /// Runs this replica drives at once.
    pub max_runs: usize,
    /// Lease time-to-live; a crashed replica's runs are taken over after it.
    pub lease_ttl_secs: u64,
    /// Where run outputs are written (`<dir>/<run id>/`); none when absent.
    pub output_dir: Option<PathBuf>,
    /// Seconds between runner heartbeats; a runner silent for 3 is dropped.
    pub runner_heartbeat_secs: u64,
    /// How often the supervisor looks for claimable runs, in milliseconds.
    pub claim_every_ms: u64,
    /// Where the coordinator keeps its data: local blobs in `<data_dir>/blobs` unless
    /// `blob_store` names another store.
    pub data_dir: PathBuf,
    /// The blob store's URL: `s3://bucket/prefix`, `file:///path` or a path; absent: local,
    /// in `data_dir`.
    pub blob_store: Option<String>,
    /// The largest blob an upload may declare, in bytes.
    pub max_blob_bytes: u64,
    /// Directories of tasks already on this host, by name; clients name a task under one
    /// (`ROOT/TASK`) instead of uploading it.
    pub task_roots: BTreeMap<String, PathBuf>,
    /// What a caller may ask (`[caps]` in the file).
    pub caps: crate::api::RunCaps,
    /// Whether runners of the process backend may register.
    pub allow_process_runners: bool,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            tls: TlsConfig::default(),
            process_token: None,
            metrics_listen: None,
            http_listen: None,
            database_url: None,
            gateway: "http://127.0.0.1:50052".into(),
            owner: default_owner(),
            max_runs: 4,
            lease_ttl_secs: 30,
            output_dir: None,
            runner_heartbeat_secs: 5,
            claim_every_ms: 500,
            data_dir: default_data_dir(),
            blob_store: None,
            max_blob_bytes: crate::blobs::DEFAULT_MAX_BLOB_BYTES,
            task_roots: BTreeMap::new(),
            caps: crate::api::RunCaps::default(),
            allow_process_runners: false,
        }
    }
}

/// Flags of the `aide-coordinator` binary; each also reads an `AIDE_*` environment variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CoordinatorArgs {
    /// TOML configuration file (any of the settings below, by their field names).
    #[arg(long, env = "AIDE_COORDINATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the resolved configuration (database password redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address to serve the gRPC API on [default: 127.0.0.1:50051].
    #[arg(long, env = "AIDE_COORDINATOR_LISTEN")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Address to serve Prometheus metrics on (GET /metrics) [default: off].
    #[arg(long, env = "AIDE_COORDINATOR_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Address to serve the web UI and the HTTP API on (`/api/v1`, over TLS with the
    /// --tls-* files, or plaintext on loopback) [default: off].
    #[arg(long, env = "AIDE_COORDINATOR_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// The store: postgres://… (replicated coordinators) or sqlite:… (one coordinator).
    #[arg(long, env = "AIDE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The LLM gateway [default: http://127.0.0.1:50052].
    #[arg(long = "gateway", env = "AIDE_GATEWAY_ADDR")]
    pub gateway: Option<String>,
    /// Lease owner id of this replica [default: <hostname>-<pid>-<random>].
    #[arg(long, env = "AIDE_COORDINATOR_OWNER")]
    pub owner: Option<String>,
    /// Runs this replica drives at once [default: 4].
    #[arg(long, env = "AIDE_COORDINATOR_MAX_RUNS")]
    pub max_runs: Option<usize>,
    /// Lease time-to-live in seconds; a crashed replica's runs are taken over after it
    /// [default: 30].
    #[arg(long, env = "AIDE_LEASE_TTL_SECS")]
    pub lease_ttl_secs: Option<u64>,
    /// Where run outputs are written (`<dir>/<run id>/`); none when absent.
    #[arg(long, env = "AIDE_OUTPUT_DIR")]
    pub output_dir: Option<PathBuf>,
    /// Seconds between runner heartbeats; a runner silent for 3 is dropped [default: 5].
    #[arg(long, env = "AIDE_RUNNER_HEARTBEAT_SECS")]
    pub runner_heartbeat_secs: Option<u64>,
    /// Where the coordinator keeps its data (local blobs in <dir>/blobs/)
    /// [default: $XDG_DATA_HOME/aide, else ~/.local/share/aide].
    #[arg(long, env = "AIDE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The blob store: s3://bucket/prefix (with the standard AWS_* variables, including
    /// AWS_ENDPOINT_URL for MinIO, SeaweedFS or R2), file:///path or a path
    /// [default: local, in --data-dir].
    #[arg(long, env = "AIDE_BLOB_STORE")]
    pub blob_store: Option<String>,
    /// The largest blob an upload may declare, in bytes [default: 17179869184, 16 GiB].
    #[arg(long, env = "AIDE_MAX_BLOB_BYTES")]
    pub max_blob_bytes: Option<u64>,
    /// A directory of tasks on this host served by name, as NAME=DIR (repeatable); clients
    /// run `aide submit --server-task NAME/TASK`.
    #[arg(
        long = "task-root",
        env = "AIDE_TASK_ROOTS",
        value_delimiter = ',',
        value_name = "NAME=DIR"
    )]
    pub task_roots: Vec<TaskRootArg>,
    /// Queued plus running runs one project may have [default: 100].
    #[arg(long, env = "AIDE_MAX_UNFINISHED_RUNS")]
    pub max_unfinished_runs: Option<u64>,
    /// Model spending of one project's runs per 24 hours, in US dollars, beyond which it
    /// starts no run [default: no cap].
    #[arg(long, env = "AIDE_MAX_DAILY_COST_USD")]
    pub max_daily_cost_usd: Option<f64>,
    /// Let runners of the process backend register (scripts run as plain processes on the
    /// runner's host: for machines you trust) [default: refused].
    #[arg(long, env = "AIDE_ALLOW_PROCESS_RUNNERS")]
    pub allow_process_runners: bool,
}

impl Overlay<CoordinatorConfig> for CoordinatorArgs {
    fn apply(&self, c: &mut CoordinatorConfig) {
        self.tls.apply(&mut c.tls);
        c.allow_process_runners |= self.allow_process_runners;
        set(
            &mut c.caps.max_unfinished_runs_per_project,
            &self.max_unfinished_runs,
        );
        set_some(
            &mut c.caps.max_daily_cost_usd_per_project,
            &self.max_daily_cost_usd,
        );
        set(&mut c.listen, &self.listen);
        set_some(&mut c.metrics_listen, &self.metrics_listen);
        set_some(&mut c.http_listen, &self.http_listen);
        set(
            &mut c.gateway,
            &self.gateway.as_deref().map(|g| g.trim().to_owned()),
        );
        set(
            &mut c.owner,
            &self.owner.as_deref().map(|o| o.trim().to_owned()),
        );
        set(&mut c.max_runs, &self.max_runs);
        set(&mut c.lease_ttl_secs, &self.lease_ttl_secs);
        set_some(&mut c.output_dir, &self.output_dir);
        set(&mut c.runner_heartbeat_secs, &self.runner_heartbeat_secs);
        set(&mut c.data_dir, &self.data_dir);
        set_some(
            &mut c.blob_store,
            &self.blob_store.as_deref().map(|u| u.trim().to_owned()),
        );
        set(&mut c.max_blob_bytes, &self.max_blob_bytes);
        for root in &self.task_roots {
            c.task_roots.insert(root.name.clone(), root.dir.clone());
        }
    }
}

impl CoordinatorArgs {
    /// Defaults → `--config` file → variables → flags, checked.
    pub fn resolve(&self) -> Result<CoordinatorConfig, Error> {
        let mut config: CoordinatorConfig =
            aide_service::config::layered(self.config.as_deref(), self)?;
        if let Some(url) = self
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            let url = DatabaseUrl::parse(url)
                .map_err(|e| Error::Config(format!("--database-url: {e}")))?;
            config.database_url = Some(url);
        }
        config.validate()?;
        Ok(config)
    }
}

impl CoordinatorConfig {
    /// A configuration with defaults for everything but the store.
    pub fn new(database_url: DatabaseUrl) -> Self {
        Self {
            database_url: Some(database_url),
            ..Self::default()
        }
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: &str| Err(Error::Config(why.into()));
        if self.database_url.is_none() {
            return bad("--database-url (AIDE_DATABASE_URL) is required");
        }
        if !(self.gateway.starts_with("http://") || self.gateway.starts_with("https://")) {
            return Err(Error::Config(format!(
                "--gateway {:?}: expected an http:// or https:// address",
                self.gateway
            )));
        }
        if self
            .caps
            .max_daily_cost_usd_per_project
            .is_some_and(|cap| !(cap.is_finite() && cap >= 0.0))
        {
            return bad("--max-daily-cost-usd must be a number of dollars, 0 or more");
        }
        if self.owner.is_empty() {
            return bad("--owner must not be empty");
        }
        if self.max_runs == 0 {
            return bad("--max-runs must be at least 1");
        }
        if self.lease_ttl_secs == 0 {
            return bad("--lease-ttl-secs must be at least 1");
        }
        if self.runner_heartbeat_secs == 0 {
            return bad("--runner-heartbeat-secs must be at least 1");
        }
        if self.max_blob_bytes == 0 {
            return bad("--max-blob-bytes must be at least 1");
        }
        if self.data_dir.as_os_str().is_empty() {
            return bad("--data-dir must not be empty");
        }
        Ok(())
    }

    /// The task roots, each checked to be an existing directory.
    pub fn task_roots(&self) -> Result<TaskRoots, Error> {
        let entries = self.task_roots.iter().map(|(name, dir)| TaskRootArg {
            name: name.clone(),
            dir: dir.clone(),
        });
        TaskRoots::new(entries).map_err(Error::Config)
    }

    /// The blob store `blob_store` names (or the local one in `data_dir`), opened.
    pub fn open_blob_store(&self) -> Result<crate::blobs::BlobStore, Error> {
        crate::blobs::BlobStore::from_url(self.blob_store.as_deref(), &self.data_dir)
    }

    /// Lease time-to-live.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.lease_ttl_secs)
    }

    /// Interval of runner heartbeats.
    pub fn runner_heartbeat(&self) -> Duration {
        Duration::from_secs(self.runner_heartbeat_secs)
    }

    /// How often the supervisor looks for claimable runs.
    pub fn claim_every(&self) -> Duration {
        Duration::from_millis(self.claim_every_ms.max(1))
    }
}

/// `$XDG_DATA_HOME/aide`, else `$HOME/.local/share/aide`, else `./aide-data`.
pub fn default_data_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(data) = var("XDG_DATA_HOME") {
        return PathBuf::from(data).join("aide");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/aide"),
        None => PathBuf::from("aide-data"),
    }
}

/// `<hostname>-<pid>-<random>`: unique per process even when pids repeat across hosts or
/// restarts.
pub fn default_owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "coordinator".into());
    let random = uuid::Uuid::now_v7().simple().to_string();
    let suffix = &random[random.len() - 8..];
    format!("{host}-{}-{suffix}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url() -> CoordinatorArgs {
        CoordinatorArgs {
            database_url: Some("sqlite::memory:".into()),
            ..CoordinatorArgs::default()
        }
    }

    #[test]
    fn a_database_url_is_required() {
        let err = CoordinatorArgs::default().resolve().unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }

    #[test]
    fn defaults_fill_what_is_absent() {
        let config = with_url().resolve().expect("config");
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.gateway, "http://127.0.0.1:50052");
        assert_eq!(config.max_runs, 4);
        assert_eq!(config.lease_ttl(), Duration::from_secs(30));
        assert!(config.owner.contains(&std::process::id().to_string()));
        assert_ne!(config.owner, default_owner(), "owners are unique per call");
        assert_eq!(config.max_blob_bytes, 16 << 30);
        assert_eq!(
            (config.data_dir, config.blob_store),
            (default_data_dir(), None)
        );
    }

    #[test]
    fn the_file_lays_under_the_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("coordinator.toml");
        std::fs::write(&path, "max_runs = 7\nlease_ttl_secs = 9\n").expect("write");
        let args = CoordinatorArgs {
            config: Some(path),
            max_runs: Some(8),
            ..with_url()
        };
        let config = args.resolve().expect("config");
        assert_eq!((config.max_runs, config.lease_ttl_secs), (8, 9));
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            CoordinatorArgs {
                max_runs: Some(0),
                ..with_url()
            },
            CoordinatorArgs {
                lease_ttl_secs: Some(0),
                ..with_url()
            },
            CoordinatorArgs {
                gateway: Some("127.0.0.1:50052".into()),
                ..with_url()
            },
            CoordinatorArgs {
                database_url: Some("mysql://x".into()),
                ..with_url()
            },
            CoordinatorArgs {
                max_blob_bytes: Some(0),
                ..with_url()
            },
        ] {
            assert!(args.resolve().is_err(), "{args:?}");
        }
    }
}
