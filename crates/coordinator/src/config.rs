//! Coordinator configuration: command-line flags with `AIDE_*` environment variables (clap)
//! over defaults, resolved and checked into a [`CoordinatorConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aide_store::DatabaseUrl;

use crate::Error;

/// Default gRPC address of the coordinator.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Default address of the LLM gateway.
pub const DEFAULT_GATEWAY: &str = "http://127.0.0.1:50052";

/// Flags of the `aide-coordinator` binary; each also reads an `AIDE_*` environment variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CoordinatorArgs {
    /// Address to serve the gRPC API on [default: 127.0.0.1:50051].
    #[arg(long, env = "AIDE_COORDINATOR_LISTEN")]
    pub listen: Option<SocketAddr>,
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
}

/// The resolved configuration a coordinator runs with.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    pub listen: SocketAddr,
    pub database_url: DatabaseUrl,
    pub gateway: String,
    pub owner: String,
    pub max_runs: usize,
    pub lease_ttl: Duration,
    pub output_dir: Option<PathBuf>,
    pub runner_heartbeat: Duration,
    /// How often the supervisor looks for claimable runs.
    pub claim_every: Duration,
}

impl CoordinatorConfig {
    /// A configuration with defaults for everything but the store.
    pub fn new(database_url: DatabaseUrl) -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            database_url,
            gateway: DEFAULT_GATEWAY.into(),
            owner: default_owner(),
            max_runs: 4,
            lease_ttl: Duration::from_secs(30),
            output_dir: None,
            runner_heartbeat: Duration::from_secs(5),
            claim_every: Duration::from_millis(500),
        }
    }

    /// Resolves flags and variables over defaults and checks the values clap cannot.
    pub fn resolve(args: &CoordinatorArgs) -> Result<Self, Error> {
        let url = args
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| {
                Error::Config("--database-url (AIDE_DATABASE_URL) is required".into())
            })?;
        let url =
            DatabaseUrl::parse(url).map_err(|e| Error::Config(format!("--database-url: {e}")))?;
        let mut config = Self::new(url);
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
        if let Some(gateway) = &args.gateway {
            let gateway = gateway.trim();
            if !(gateway.starts_with("http://") || gateway.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "--gateway {gateway:?}: expected an http:// or https:// address"
                )));
            }
            config.gateway = gateway.to_owned();
        }
        if let Some(owner) = &args.owner {
            let owner = owner.trim();
            if owner.is_empty() {
                return Err(Error::Config("--owner must not be empty".into()));
            }
            config.owner = owner.to_owned();
        }
        if let Some(max_runs) = args.max_runs {
            if max_runs == 0 {
                return Err(Error::Config("--max-runs must be at least 1".into()));
            }
            config.max_runs = max_runs;
        }
        if let Some(ttl) = args.lease_ttl_secs {
            if ttl == 0 {
                return Err(Error::Config("--lease-ttl-secs must be at least 1".into()));
            }
            config.lease_ttl = Duration::from_secs(ttl);
        }
        if let Some(secs) = args.runner_heartbeat_secs {
            if secs == 0 {
                return Err(Error::Config(
                    "--runner-heartbeat-secs must be at least 1".into(),
                ));
            }
            config.runner_heartbeat = Duration::from_secs(secs);
        }
        config.output_dir = args.output_dir.clone();
        Ok(config)
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

    #[test]
    fn a_database_url_is_required() {
        let err = CoordinatorConfig::resolve(&CoordinatorArgs::default()).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }

    #[test]
    fn defaults_fill_what_is_absent() {
        let args = CoordinatorArgs {
            database_url: Some("sqlite::memory:".into()),
            ..CoordinatorArgs::default()
        };
        let config = CoordinatorConfig::resolve(&args).expect("config");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.gateway, DEFAULT_GATEWAY);
        assert_eq!(config.max_runs, 4);
        assert_eq!(config.lease_ttl, Duration::from_secs(30));
        assert!(config.owner.contains(&std::process::id().to_string()));
        assert_ne!(config.owner, default_owner(), "owners are unique per call");
    }

    #[test]
    fn bad_values_are_refused() {
        let base = CoordinatorArgs {
            database_url: Some("sqlite::memory:".into()),
            ..CoordinatorArgs::default()
        };
        for args in [
            CoordinatorArgs {
                max_runs: Some(0),
                ..base.clone()
            },
            CoordinatorArgs {
                lease_ttl_secs: Some(0),
                ..base.clone()
            },
            CoordinatorArgs {
                gateway: Some("127.0.0.1:50052".into()),
                ..base.clone()
            },
            CoordinatorArgs {
                database_url: Some("mysql://x".into()),
                ..base.clone()
            },
        ] {
            assert!(CoordinatorConfig::resolve(&args).is_err(), "{args:?}");
        }
    }
}
