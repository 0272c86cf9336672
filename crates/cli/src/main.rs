//! The `aide` binary: parse the command line, set up logging to stderr (level from
//! `RUST_LOG`, default warn so the progress display stays clean), run the command, exit
//! with its code.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Warnings, except those the progress display already shows as `retrying …` lines (provider
/// and infrastructure retries) and the runner's notes about a caller gone after Ctrl-C.
const DEFAULT_LOG: &str = "warn,aide_gateway::provider=error,aide_gateway::service=error,\
                           aide_coordinator::engine::step=error,aide_runner::service=error";

fn main() -> ExitCode {
    let cli = aide_cli::args::Cli::parse();
    // One subscriber for the command and the services it embeds (service name "aide").
    let _telemetry = aide_telemetry::init("aide", DEFAULT_LOG);
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
