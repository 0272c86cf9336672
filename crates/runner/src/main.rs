//! The aide-runner binary: flags, `AIDE_RUNNER_*` variables and file → configuration
//! (`--print-config` shows it) → telemetry → serve until SIGINT/SIGTERM (running
//! executions drain; a second signal exits at once).

use std::process::ExitCode;

use aide_runner::args::RunnerArgs;
use aide_service::binary::{Binary, Resolved};
use clap::Parser;

const BINARY: Binary = Binary {
    name: "aide-runner",
    draining: "draining executions",
};

fn resolve(args: &RunnerArgs) -> aide_runner::Result<Resolved<aide_runner::Config>> {
    let config = args.resolve()?;
    let print = match args.print_config {
        true => Some(aide_service::config::render(&config)?),
        false => None,
    };
    Ok(Resolved { config, print })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = RunnerArgs::parse();
    aide_service::binary::main(BINARY, resolve(&args), aide_runner::run).await
}
