//! Process-level plumbing of the gateway binary: signal handling (the first SIGINT/SIGTERM
//! cancels the shutdown token; a second exits at once). The tracing subscriber comes from
//! `aide_telemetry::init`.

use tokio_util::sync::CancellationToken;
use tracing::warn;

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
