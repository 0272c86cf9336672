//! The flags of the `aide-gateway` binary, each with its `AIDE_*` variable, laid over the
//! configuration file as an [`Overlay`].

use std::net::SocketAddr;
use std::path::PathBuf;

use aide_service::Overlay;
use aide_service::config::set_some;

use super::FileConfig;

/// Flags of the `aide-gateway` binary; each also reads an `AIDE_*` environment variable.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GatewayArgs {
    /// TOML configuration file (providers, limits, cache, retries).
    #[arg(long, env = "AIDE_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to serve gRPC on [default: 127.0.0.1:50052].
    #[arg(long, env = "AIDE_GATEWAY_LISTEN")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub tls: aide_service::tls::TlsArgs,
    /// Address to serve Prometheus metrics on (GET /metrics) [default: off].
    #[arg(long, env = "AIDE_GATEWAY_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Redis for the response cache and shared rate limits; without it the gateway caches
    /// nothing and limits rates per process.
    #[arg(long, env = "AIDE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Price table laid over the shipped one (USD per million tokens).
    #[arg(long, env = "AIDE_GATEWAY_PRICES")]
    pub prices: Option<PathBuf>,
    /// Re-asks when a model's structured answer is invalid [default: 2].
    #[arg(long, env = "AIDE_GATEWAY_MAX_REASKS")]
    pub max_reasks: Option<u32>,
    /// Print the resolved configuration (provider keys redacted) and exit.
    #[arg(long)]
    pub print_config: bool,
}

impl Overlay<FileConfig> for GatewayArgs {
    fn apply(&self, file: &mut FileConfig) {
        set_some(&mut file.listen, &self.listen);
        self.tls.apply(&mut file.tls);
        set_some(&mut file.metrics_listen, &self.metrics_listen);
        set_some(&mut file.redis_url, &self.redis_url);
        set_some(&mut file.prices_file, &self.prices);
        set_some(&mut file.max_reasks, &self.max_reasks);
    }
}
