//! aide-cli, the `aide` command: `aide run` drives a whole AIDE search in one process
//! (coordinator engine, LLM gateway and sandbox runner on loopback gRPC, SQLite in the
//! output directory) with a live progress display; `aide resume` continues one.

pub mod args;
pub mod embedded;
pub mod error;
pub mod overrides;
pub mod progress;
pub mod resume;
pub mod run;
pub mod score;
pub mod session;
pub mod summary;

pub use error::CliError;

/// Executes a parsed command line; the `Ok` value is the exit code.
pub async fn execute(cli: args::Cli) -> Result<u8, CliError> {
    let interrupt = session::Interrupt::install();
    match cli.command {
        args::Command::Run(a) => run::run(a, &interrupt).await,
        args::Command::Resume(a) => resume::resume(a, &interrupt).await,
    }
}
