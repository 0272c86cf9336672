//! The `aide-gateway` binary: flags, environment and file → configuration (`--print-config`
//! shows it) → telemetry → serve until SIGINT or SIGTERM (a second signal exits at once).
//! Exit codes: 0 after a clean shutdown, 2 for a bad configuration, 1 when serving fails.

use std::process::ExitCode;

use aide_service::binary::{Binary, Resolved};
use clap::Parser;

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

const BINARY: Binary = Binary {
    name: "aide-gateway",
    draining: "finishing in-flight requests",
};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn resolve(args: &GatewayArgs) -> Result<Resolved<GatewayConfig>, aide_gateway::Error> {
    let config = GatewayConfig::resolve(args)?;
    let print = match args.print_config {
        true => Some(config.print(&env)?),
        false => None,
    };
    Ok(Resolved { config, print })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    aide_service::binary::main(BINARY, resolve(&cli.gateway), |config, shutdown| {
        aide_gateway::server::run(config, &env, shutdown)
    })
    .await
}
