//! Process-level plumbing of the gateway binary: the tracing subscriber (to stderr, level
//! from `RUST_LOG`, default info) and signal handling (the first SIGINT/SIGTERM cancels the
//! shutdown token; a second exits at once).

use std::io::IsTerminal;

use tokio_util::sync::CancellationToken;
use tracing::warn;
use tracing_subscriber::EnvFilter;

/// Installs the log subscriber; call once from `main`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM and exits the process on the second.
pub fn cancel_on_signals(shutdown: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        warn!("shutting down: finishing in-flight requests (signal again to exit at once)");
        shutdown.cancel();
        wait_for_signal().await;
        warn!("second signal: exiting now");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
