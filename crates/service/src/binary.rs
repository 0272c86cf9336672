//! The `main` of a service binary: configuration (already resolved from flags, variables
//! and file) → `--print-config` or telemetry → signals → `run(config, shutdown)`.
//! Exit codes: 0 after a clean shutdown (or a printed configuration), 2 for a bad
//! configuration, 1 when the service fails.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::error::chain;
use crate::signals;

/// What a binary says about itself.
#[derive(Debug, Clone, Copy)]
pub struct Binary {
    /// The service name telemetry reports (`aide-gateway`).
    pub name: &'static str,
    /// What the service does after the first signal, for the log.
    pub draining: &'static str,
}

/// A resolved configuration and, with `--print-config`, its redacted rendering.
#[derive(Debug)]
pub struct Resolved<C> {
    pub config: C,
    pub print: Option<String>,
}

impl<C: serde::Serialize> Resolved<C> {
    /// `config`, and its TOML rendering when `print_config` (`--print-config`). A
    /// configuration with secrets renders itself and builds [`Resolved`] directly.
    pub fn rendered(config: C, print_config: bool) -> Result<Self, crate::Error> {
        let print = match print_config {
            true => Some(crate::config::render(&config)?),
            false => None,
        };
        Ok(Self { config, print })
    }
}

/// Runs a service binary to its exit code.
pub async fn main<C, E, R, Fut, F>(
    binary: Binary,
    resolved: Result<Resolved<C>, E>,
    run: R,
) -> ExitCode
where
    E: std::error::Error,
    R: FnOnce(C, CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), F>>,
    F: std::error::Error,
{
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(err) => {
            eprintln!("error: {}", chain(&err));
            return ExitCode::from(2);
        }
    };
    if let Some(text) = resolved.print {
        print!("{text}");
        return ExitCode::SUCCESS;
    }
    let _telemetry = aide_telemetry::init(binary.name, "info");
    let shutdown = CancellationToken::new();
    if let Err(err) = signals::install_logged(shutdown.clone(), binary.draining) {
        eprintln!("error: {}", chain(&err));
        return ExitCode::FAILURE;
    }
    match run(resolved.config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", chain(&err));
            ExitCode::FAILURE
        }
    }
}
