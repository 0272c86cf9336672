//! Shutdown signals: the first SIGINT or SIGTERM cancels a shutdown token (the service
//! drains), the second exits the process at once.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::Error;

/// Which signal of the two arrived; handed to the caller's notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The first signal: the shutdown token is being cancelled.
    Draining,
    /// The second signal: the process exits right after the notice.
    Exiting,
}

/// Cancels `shutdown` on the first SIGINT or SIGTERM and exits with `exit_code` on the
/// second; `notice` is told before each (to log or print what happens).
pub fn install(
    shutdown: CancellationToken,
    exit_code: i32,
    notice: impl Fn(Stage) + Send + 'static,
) -> Result<(), Error> {
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    tokio::spawn(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        notice(Stage::Draining);
        shutdown.cancel();
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        notice(Stage::Exiting);
        std::process::exit(exit_code);
    });
    Ok(())
}

/// [`install`] for a service binary: notices go to the log, `draining` says what the
/// service does meanwhile, and the second signal exits with 130.
pub fn install_logged(shutdown: CancellationToken, draining: &'static str) -> Result<(), Error> {
    install(shutdown, 130, move |stage| match stage {
        Stage::Draining => {
            tracing::warn!("shutting down: {draining} (signal again to exit at once)")
        }
        Stage::Exiting => tracing::warn!("second signal: exiting now"),
    })
}
