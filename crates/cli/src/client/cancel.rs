//! `aide cancel <run>`: CancelRun (idempotent); the run stops once its in-flight nodes
//! finish or are released, and `aide watch` then exits 3.

use aide_proto::v1;

use super::{ServerArg, remote, status_name};
use crate::error::{CliError, EXIT_COMPLETED};

/// Flags of `aide cancel`.
#[derive(Debug, Clone, clap::Parser)]
pub struct CancelArgs {
    /// The run's id.
    pub run: String,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Runs `aide cancel`.
pub async fn cancel(args: CancelArgs) -> Result<u8, CliError> {
    let run_id = args.run.trim();
    let mut client = args.server.connect().await?;
    let run = client
        .cancel_run(v1::CancelRunRequest {
            run_id: run_id.to_owned(),
        })
        .await
        .map_err(|s| remote(s, Some(run_id)))?
        .into_inner();
    let state = if run.cancel_requested {
        "cancel requested".to_owned()
    } else {
        status_name(run.status).to_owned()
    };
    eprintln!("run {}: {state}", run.id);
    Ok(EXIT_COMPLETED)
}
