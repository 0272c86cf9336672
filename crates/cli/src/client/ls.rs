//! `aide ls`: ListRuns as a table (id, name, status, nodes, best, cost, created) or, with
//! `--json`, a JSON array for scripts.

use aide_proto::v1;
use clap::ValueEnum;

use super::{ServerArg, best_text, print_json, remote, run_json, status_name, time_text};
use crate::error::{CliError, EXIT_COMPLETED};

/// A run state to filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFilter {
    Queued,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl From<StatusFilter> for v1::RunStatus {
    fn from(s: StatusFilter) -> Self {
        match s {
            StatusFilter::Queued => v1::RunStatus::Queued,
            StatusFilter::Running => v1::RunStatus::Running,
            StatusFilter::Completed => v1::RunStatus::Completed,
            StatusFilter::Failed => v1::RunStatus::Failed,
            StatusFilter::Cancelled => v1::RunStatus::Cancelled,
        }
    }
}

/// Flags of `aide ls`.
#[derive(Debug, Clone, clap::Parser)]
pub struct LsArgs {
    /// Only runs in this state.
    #[arg(long, value_enum)]
    pub status: Option<StatusFilter>,
    /// At most this many runs, newest first (the server caps it at 1000).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u32,
    /// A JSON array of runs on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Runs `aide ls`.
pub async fn ls(args: LsArgs) -> Result<u8, CliError> {
    let mut client = args.server.connect().await?;
    let status = args
        .status
        .map_or(v1::RunStatus::Unspecified, v1::RunStatus::from);
    let runs = client
        .list_runs(v1::ListRunsRequest {
            limit: args.limit,
            status: status.into(),
        })
        .await
        .map_err(|s| remote(s, None))?
        .into_inner()
        .runs;
    if args.json {
        print_json(&serde_json::Value::Array(
            runs.iter().map(run_json).collect(),
        ));
        return Ok(EXIT_COMPLETED);
    }
    if runs.is_empty() {
        eprintln!("no runs");
        return Ok(EXIT_COMPLETED);
    }
    println!(
        "{:<36}  {:<20}  {:<9}  {:>7}  {:>10}  {:>7}  CREATED",
        "ID", "NAME", "STATUS", "NODES", "BEST", "COST"
    );
    for run in &runs {
        let steps = run.settings.as_ref().and_then(|s| s.steps).unwrap_or(0);
        println!(
            "{:<36}  {:<20}  {:<9}  {:>7}  {:>10}  {:>7}  {}",
            run.id,
            cut(&run.name, 20),
            status_name(run.status),
            format!("{}/{steps}", run.nodes),
            best_text(run),
            format!("${:.2}", run.cost_usd),
            time_text(run.created_at.as_ref()).unwrap_or_default()
        );
    }
    Ok(EXIT_COMPLETED)
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max - 1).collect();
        format!("{head}…")
    }
}
