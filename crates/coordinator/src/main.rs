//! The `aide-coordinator` binary: flags, environment and file → configuration
//! (`--print-config` shows it) → logging → one replica serving the API and driving runs
//! until SIGINT or SIGTERM (runs are released for another replica; a second signal exits at
//! once). Exit codes: 0 after a clean shutdown, 2 for a bad configuration, 1 when the
//! replica fails.

use std::process::ExitCode;

use aide_service::binary::{Binary, Resolved};
use clap::Parser;

use aide_coordinator::config::CoordinatorArgs;

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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    aide_service::binary::main(
        BINARY,
        cli.coordinator
            .resolve()
            .and_then(|config| Ok(Resolved::rendered(config, cli.coordinator.print_config)?)),
        aide_coordinator::server::run_coordinator,
    )
    .await
}
