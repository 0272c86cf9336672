//! The aide-runner binary: configuration from flags and `AIDE_*` variables, tracing, and a
//! shutdown on SIGINT/SIGTERM (a second signal exits at once).

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = aide_runner::Config::parse();
    let _telemetry = aide_telemetry::init("aide-runner", "info");
    let shutdown = CancellationToken::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let token = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        tracing::info!("signal received, shutting down (again to exit at once)");
        token.cancel();
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        std::process::exit(130);
    });
    aide_runner::run(config, shutdown).await?;
    Ok(())
}
