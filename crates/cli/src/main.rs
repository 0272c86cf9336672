//! The `aide` binary: parse the command line, set up logging to stderr (level from
//! `RUST_LOG`, default warn so the progress display stays clean), run the command, exit
//! with its code.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Warnings, except those the progress display already shows as `retrying …` lines (provider
/// and infrastructure retries) and the runner's notes about a caller gone after Ctrl-C.
const DEFAULT_LOG: &str = "warn,aide_gateway::provider=error,aide_gateway::service=error,\
                           aide_coordinator::engine::step=error,aide_runner::service=error";

fn main() -> ExitCode {
    let cli = aide_cli::args::Cli::parse();
    if let Err(e) = telemetry() {
        eprintln!("error: {e:#}");
        return ExitCode::from(aide_cli::error::EXIT_INTERNAL);
    }
    let runtime = match tokio::runtime::Runtime::new().context("cannot start the async runtime") {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(aide_cli::error::EXIT_INTERNAL);
        }
    };
    let code = runtime.block_on(async {
        match aide_cli::execute(cli).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        }
    });
    // Services still draining must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    ExitCode::from(code)
}

fn telemetry() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|e| anyhow::anyhow!(e))
        .context("cannot set up logging")
}
