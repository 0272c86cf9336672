//! The `aide-gateway` binary: flags and environment → configuration → telemetry → serve
//! until SIGINT or SIGTERM (a second signal exits at once). Exit codes: 0 after a clean
//! shutdown, 2 for a bad configuration, 1 when serving fails.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use aide_gateway::config::{GatewayArgs, GatewayConfig};

/// The aide LLM gateway: the only holder of provider keys. Keys come from the environment
/// (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY, OPENAI_BASE_URL)
/// or from files named in the configuration, never from flags.
#[derive(Debug, Parser)]
#[command(name = "aide-gateway", version)]
struct Cli {
    #[command(flatten)]
    gateway: GatewayArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = aide_telemetry::init("aide-gateway", "info");
    let config = match GatewayConfig::resolve(&cli.gateway) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    aide_gateway::telemetry::cancel_on_signals(shutdown.clone());
    let env = |name: &str| std::env::var(name).ok();
    match aide_gateway::server::run(config, &env, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
