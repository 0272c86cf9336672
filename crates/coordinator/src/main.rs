//! The `aide-coordinator` binary: flags and environment → configuration → logging → one
//! replica serving the API and driving runs until SIGINT or SIGTERM (runs are released for
//! another replica; a second signal exits at once). Exit codes: 0 after a clean shutdown,
//! 2 for a bad configuration, 1 when the replica fails.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use aide_coordinator::Error;
use aide_coordinator::config::{CoordinatorArgs, CoordinatorConfig};

/// The aide search coordinator: owns runs (leased from the shared store), serves the public
/// gRPC API and the runner registry, and dispatches executions to registered runners.
#[derive(Debug, Parser)]
#[command(name = "aide-coordinator", version)]
struct Cli {
    #[command(flatten)]
    coordinator: CoordinatorArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = aide_telemetry::init("aide-coordinator", "info");
    let config = match CoordinatorConfig::resolve(&cli.coordinator) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone());
    match aide_coordinator::server::run_coordinator(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ Error::Config(_)) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM and exits the process on the second.
fn cancel_on_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        _ => {
            eprintln!("warning: cannot listen for signals");
            return;
        }
    };
    tokio::spawn(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        tracing::warn!("shutting down: releasing runs (signal again to exit at once)");
        shutdown.cancel();
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        tracing::warn!("second signal: exiting now");
        std::process::exit(130);
    });
}
