//! `--print-config`: the resolved gateway configuration as TOML, with the providers as they
//! resolve against the environment. Keys and header values print as `[redacted]`, the
//! Redis password too; only where a key comes from is shown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use aide_core::redact::{REDACTED, url_password};
use serde::Serialize;

use super::{CacheSection, GatewayConfig, LimitsSection, RetrySection};
use crate::Error;
use crate::routing::{ProviderKind, Providers};
use crate::secrets::Env;

#[derive(Debug, Serialize)]
struct Printed<'a> {
    listen: SocketAddr,
    tls: &'a aide_service::tls::TlsConfig,
    metrics_listen: Option<SocketAddr>,
    redis_url: Option<String>,
    prices_file: Option<&'a Path>,
    max_reasks: u32,
    default_provider: Option<&'a str>,
    cache: CacheSection,
    retry: RetrySection,
    limits: BTreeMap<&'a str, LimitsSection>,
    providers: BTreeMap<&'a str, PrintedProvider<'a>>,
}

#[derive(Debug, Serialize)]
struct PrintedProvider<'a> {
    kind: ProviderKind,
    base_url: &'a str,
    api_key: Option<&'static str>,
    api_key_from: Option<&'a str>,
    headers: BTreeMap<&'a str, &'static str>,
}

impl GatewayConfig {
    /// The configuration as `--print-config` shows it, providers resolved against `env`.
    pub fn print(&self, env: Env<'_>) -> Result<String, Error> {
        let providers = Providers::load(&self.providers, env)?;
        let printed = Printed {
            listen: self.listen,
            tls: &self.tls,
            metrics_listen: self.metrics_listen,
            redis_url: self.shared.redis_url.as_deref().map(url_password),
            prices_file: self.prices_file.as_deref(),
            max_reasks: self.max_reasks,
            default_provider: self.providers.default_provider.as_deref(),
            cache: CacheSection {
                ttl_secs: Some(self.shared.cache_ttl.as_secs()),
            },
            retry: RetrySection {
                max_attempts: Some(self.retry.max_attempts),
                base_delay_ms: Some(self.retry.base_delay.as_millis() as u64),
                max_delay_secs: Some(self.retry.max_delay.as_secs()),
                max_total_secs: Some(self.retry.max_total.as_secs()),
                request_timeout_secs: Some(self.retry.per_request_timeout.as_secs()),
            },
            limits: self
                .shared
                .limits
                .iter()
                .map(|(key, l)| {
                    let section = LimitsSection {
                        requests_per_min: l.requests_per_min,
                        tokens_per_min: l.tokens_per_min,
                        max_concurrent: l.max_concurrent,
                    };
                    (key.as_str(), section)
                })
                .collect(),
            providers: providers
                .names()
                .filter_map(|name| providers.get(name).map(|p| (name, p)))
                .map(|(name, p)| {
                    let printed = PrintedProvider {
                        kind: p.kind,
                        base_url: &p.base_url,
                        api_key: p.api_key.as_ref().map(|_| REDACTED),
                        api_key_from: p.api_key_source.as_deref(),
                        headers: p.headers.keys().map(|k| (k.as_str(), REDACTED)).collect(),
                    };
                    (name, printed)
                })
                .collect(),
        };
        Ok(aide_service::config::render(&printed)?)
    }
}
