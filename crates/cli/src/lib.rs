//! aide-cli, the `aide` command: `aide run` drives a whole AIDE search in one process
//! (coordinator engine, LLM gateway and sandbox runner on loopback gRPC, SQLite in the
//! output directory) with a live progress display; `aide resume` continues one; `aide
//! serve` runs the three services for a team and the client commands (`submit`, `ls`,
//! `status`, `watch`, `cancel`, `export`) talk to it.

pub mod args;
pub mod bench;
pub mod certs;
pub mod client;
pub mod embedded;
pub mod error;
pub mod local_ui;
pub mod overrides;
pub mod progress;
pub mod resume;
pub mod run;
pub mod serve;
pub mod session;
pub mod summary;

pub use error::CliError;

/// Executes a parsed command line; the `Ok` value is the exit code.
pub async fn execute(cli: args::Cli) -> Result<u8, CliError> {
    use args::Command;
    match cli.command {
        Command::Run(a) => run::run(a, &session::Interrupt::install()).await,
        Command::Resume(a) => resume::resume(a, &session::Interrupt::install()).await,
        Command::Serve(a) => serve::serve(a).await,
        Command::Submit(a) => client::submit::submit(a).await,
        Command::Ls(a) => client::ls::ls(a).await,
        Command::Status(a) => client::status::status(a).await,
        Command::Watch(a) => client::watch::watch(a).await,
        Command::Cancel(a) => client::cancel::cancel(a).await,
        Command::Steer(a) => client::steer::steer(a).await,
        Command::Export(a) => client::export::export(a).await,
        Command::Login(a) => client::login::login(a).await,
        Command::Admin(a) => client::admin::admin(a).await,
        Command::Certs(a) => certs::certs(a),
        Command::Bench(a) => bench::bench(a).await,
    }
}
