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

#[tokio::main]
async fn main() -> ExitCode {
    let args = RunnerArgs::parse();
    let resolved = args
        .resolve()
        .and_then(|config| Ok(Resolved::rendered(config, args.print_config)?));
    aide_service::binary::main(BINARY, resolved, aide_runner::run).await
}
