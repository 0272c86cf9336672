//! Gateway configuration, layered by `aide_service::config`: defaults → the TOML file
//! (`--config`) → `AIDE_*` variables → flags ([`GatewayArgs`]). Provider keys never come
//! from here: only from the environment or files named in the providers section
//! ([`crate::secrets`]); [`GatewayConfig::print`] shows them as `[redacted]`.
//!
//! ```toml
//! listen = "0.0.0.0:50052"
//! metrics_listen = "0.0.0.0:9090"           # Prometheus /metrics; absent: off
//! redis_url = "redis://127.0.0.1:6379"    # absent: no cache, in-process rate limits
//! prices_file = "prices.toml"             # laid over the shipped price table
//! max_reasks = 2                          # re-asks when structured output is invalid
//! default_provider = "ollama"             # where unknown bare model names go
//!
//! [providers.ollama]                      # see routing::ProvidersConfig
//! kind = "openai"
//! base_url = "http://localhost:11434/v1"
//!
//! [cache]
//! ttl_secs = 604800
//!
//! [retry]
//! max_attempts = 5
//! base_delay_ms = 1000
//! max_delay_secs = 30
//! max_total_secs = 120
//! request_timeout_secs = 300
//!
//! [limits.openai]                         # per provider, or "provider/model"
//! requests_per_min = 500
//! tokens_per_min = 200000
//! max_concurrent = 16
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use aide_service::Overlay;

use crate::Error;

mod args;
mod print;

use crate::retry::RetryPolicy;
use crate::routing::{ProviderEntry, ProvidersConfig};
use crate::shared::{Limits, SharedConfig};
use aide_service::tls::TlsConfig;
pub use args::GatewayArgs;

/// Default gRPC address of the gateway.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50052";

/// The resolved configuration the gateway runs with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    /// Mutual TLS (only the coordinator may call), or plaintext on loopback.
    pub tls: TlsConfig,
    /// Where `GET /metrics` is served; off when `None`.
    pub metrics_listen: Option<SocketAddr>,
    pub providers: ProvidersConfig,
    /// User price file, laid over the shipped table.
    pub prices_file: Option<PathBuf>,
    pub retry: RetryPolicy,
    pub shared: SharedConfig,
    pub max_reasks: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            tls: TlsConfig::default(),
            metrics_listen: None,
            providers: ProvidersConfig::default(),
            prices_file: None,
            retry: RetryPolicy::default(),
            shared: default_shared(None),
            max_reasks: 2,
        }
    }
}

fn default_shared(redis_url: Option<String>) -> SharedConfig {
    SharedConfig {
        redis_url,
        cache_ttl: Duration::from_secs(7 * 24 * 3600),
        key_prefix: "aide:gw:".into(),
        default_limits: Limits::default(),
        limits: HashMap::new(),
    }
}

/// The TOML file's shape; every field optional. The flags lay over it ([`GatewayArgs`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub(crate) listen: Option<SocketAddr>,
    #[serde(default)]
    pub(crate) tls: TlsConfig,
    pub(crate) metrics_listen: Option<SocketAddr>,
    pub(crate) redis_url: Option<String>,
    pub(crate) prices_file: Option<PathBuf>,
    pub(crate) max_reasks: Option<u32>,
    default_provider: Option<String>,
    #[serde(default)]
    providers: BTreeMap<String, ProviderEntry>,
    #[serde(default)]
    cache: CacheSection,
    #[serde(default)]
    retry: RetrySection,
    #[serde(default)]
    limits: BTreeMap<String, LimitsSection>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheSection {
    pub(crate) ttl_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetrySection {
    pub(crate) max_attempts: Option<u32>,
    pub(crate) base_delay_ms: Option<u64>,
    pub(crate) max_delay_secs: Option<u64>,
    pub(crate) max_total_secs: Option<u64>,
    pub(crate) request_timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSection {
    pub(crate) requests_per_min: Option<u32>,
    pub(crate) tokens_per_min: Option<u64>,
    pub(crate) max_concurrent: Option<u32>,
}

impl GatewayConfig {
    /// Resolves flags and variables over the file named by `--config` (if any) over defaults.
    pub fn resolve(args: &GatewayArgs) -> Result<Self, Error> {
        let mut file = match &args.config {
            Some(path) => {
                let mut file: FileConfig = aide_service::config::read(path)?;
                file.prices_file = file.prices_file.map(|p| match path.parent() {
                    Some(dir) if p.is_relative() => dir.join(p),
                    _ => p,
                });
                file
            }
            None => FileConfig::default(),
        };
        args.apply(&mut file);
        Self::from_file(file)
    }

    /// Parses configuration file text alone (flags absent), for tests and tools.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Self::from_file(aide_service::config::parse(text, "configuration")?)
    }

    fn from_file(file: FileConfig) -> Result<Self, Error> {
        let defaults = Self::default();
        let r = file.retry;
        let d = defaults.retry;
        let retry = RetryPolicy {
            max_attempts: r.max_attempts.unwrap_or(d.max_attempts),
            base_delay: r.base_delay_ms.map_or(d.base_delay, Duration::from_millis),
            max_delay: r.max_delay_secs.map_or(d.max_delay, Duration::from_secs),
            max_total: r.max_total_secs.map_or(d.max_total, Duration::from_secs),
            per_request_timeout: r
                .request_timeout_secs
                .map_or(d.per_request_timeout, Duration::from_secs),
        };
        if retry.max_attempts == 0 {
            return Err(Error::ProviderConfig(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        let mut shared = default_shared(file.redis_url);
        if let Some(ttl) = file.cache.ttl_secs {
            shared.cache_ttl = Duration::from_secs(ttl);
        }
        for (key, section) in file.limits {
            let limits = Limits {
                requests_per_min: section.requests_per_min,
                tokens_per_min: section.tokens_per_min,
                max_concurrent: section.max_concurrent,
            };
            if limits.requests_per_min == Some(0)
                || limits.tokens_per_min == Some(0)
                || limits.max_concurrent == Some(0)
            {
                return Err(Error::ProviderConfig(format!(
                    "[limits.{key}]: limits must be positive (leave a limit out for none)"
                )));
            }
            shared.limits.insert(key, limits);
        }
        Ok(Self {
            listen: file.listen.unwrap_or(defaults.listen),
            tls: file.tls,
            metrics_listen: file.metrics_listen,
            providers: ProvidersConfig {
                default_provider: file.default_provider,
                providers: file.providers,
            },
            prices_file: file.prices_file,
            retry,
            shared,
            max_reasks: file.max_reasks.unwrap_or(defaults.max_reasks),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_a_file() {
        let config = GatewayConfig::resolve(&GatewayArgs::default()).expect("defaults");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.max_reasks, 2);
        assert_eq!(config.retry, RetryPolicy::default());
        assert!(config.shared.redis_url.is_none());
    }

    #[test]
    fn file_sections_are_read() {
        let config = GatewayConfig::from_toml(
            r#"
listen = "0.0.0.0:6000"
redis_url = "redis://cache:6379"
max_reasks = 4
default_provider = "ollama"
[providers.ollama]
kind = "openai"
base_url = "http://localhost:11434/v1"
[cache]
ttl_secs = 60
[retry]
max_attempts = 3
base_delay_ms = 10
[limits."openai/gpt-4o"]
requests_per_min = 100
max_concurrent = 4
"#,
        )
        .expect("parse");
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.max_reasks, 4);
        assert_eq!(
            config.shared.redis_url.as_deref(),
            Some("redis://cache:6379")
        );
        assert_eq!(config.shared.cache_ttl, Duration::from_secs(60));
        assert_eq!(config.retry.max_attempts, 3);
        assert_eq!(config.retry.base_delay, Duration::from_millis(10));
        assert_eq!(config.retry.max_delay, RetryPolicy::default().max_delay);
        let limits = &config.shared.limits["openai/gpt-4o"];
        assert_eq!(
            (
                limits.requests_per_min,
                limits.tokens_per_min,
                limits.max_concurrent
            ),
            (Some(100), None, Some(4))
        );
        assert_eq!(config.providers.default_provider.as_deref(), Some("ollama"));
        assert!(config.providers.providers.contains_key("ollama"));
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gateway.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:6000\"\nmax_reasks = 4\nprices_file = \"p.toml\"\n",
        )
        .expect("write");
        let args = GatewayArgs {
            config: Some(path),
            listen: Some("127.0.0.1:7000".parse().expect("addr")),
            ..GatewayArgs::default()
        };
        let config = GatewayConfig::resolve(&args).expect("resolve");
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.max_reasks, 4);
        assert_eq!(
            config.prices_file,
            Some(dir.path().join("p.toml")),
            "relative to the file"
        );
    }

    #[test]
    fn bad_files_are_named_without_quoting_them() {
        let err = GatewayConfig::from_toml("lisen = \"x\"\n")
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("lisen") && err.contains("line 1"), "{err}");
        let err = GatewayConfig::from_toml("[limits.openai]\nrequests_per_min = 0\n")
            .expect_err("zero")
            .to_string();
        assert!(err.contains("limits.openai"), "{err}");
        let err = GatewayConfig::from_toml("[retry]\nmax_attempts = 0\n")
            .expect_err("zero")
            .to_string();
        assert!(err.contains("max_attempts"), "{err}");
        let missing = GatewayArgs {
            config: Some("/nonexistent/gateway.toml".into()),
            ..GatewayArgs::default()
        };
        let err = GatewayConfig::resolve(&missing)
            .expect_err("missing")
            .to_string();
        assert!(err.contains("/nonexistent/gateway.toml"), "{err}");
    }
}
