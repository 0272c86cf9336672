//! The `aide-coordinator` binary: flags, environment and file → configuration
//! (`--print-config` shows it) → logging → one replica serving the API and driving runs
//! until SIGINT or SIGTERM (runs are released for another replica; a second signal exits at
//! once). Exit codes: 0 after a clean shutdown, 2 for a bad configuration, 1 when the
//! replica fails.

use std::process::ExitCode;

use aide_service::binary::{Binary, Resolved};
use clap::Parser;

use aide_coordinator::config::{CoordinatorArgs, CoordinatorConfig};

/// The aide search coordinator: owns runs (leased from the shared store), serves the public
/// gRPC API and the runner registry, and dispatches executions to registered runners.
#[derive(Debug, Parser)]
#[command(name = "aide-coordinator", version)]
struct Cli {
    #[command(flatten)]
    coordinator: CoordinatorArgs,
}

const BINARY: Binary = Binary {
    name: "aide-coordinator",
    draining: "releasing runs",
};

fn resolve(args: &CoordinatorArgs) -> Result<Resolved<CoordinatorConfig>, aide_coordinator::Error> {
    let config = args.resolve()?;
    let print = match args.print_config {
        true => Some(aide_service::config::render(&config)?),
        false => None,
    };
    Ok(Resolved { config, print })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    aide_service::binary::main(
        BINARY,
        resolve(&cli.coordinator),
        aide_coordinator::server::run_coordinator,
    )
    .await
}
