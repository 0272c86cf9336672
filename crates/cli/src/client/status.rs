//! `aide status <run>`: one run's details (GetRun) as text, or as JSON with `--json`.

use super::{ServerArg, best_text, print_json, run_json, status_name, time_text};
use crate::error::{CliError, EXIT_COMPLETED};

/// Flags of `aide status`.
#[derive(Debug, Clone, clap::Parser)]
pub struct StatusArgs {
    /// The run's id.
    pub run: String,
    /// The run as a JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Runs `aide status`.
pub async fn status(args: StatusArgs) -> Result<u8, CliError> {
    let mut client = args.server.connect().await?;
    let run = super::watch::get(&mut client, args.run.trim()).await?;
    if args.json {
        print_json(&run_json(&run));
        return Ok(EXIT_COMPLETED);
    }
    let settings = run.settings.clone().unwrap_or_default();
    let mut rows: Vec<(&str, String)> = vec![
        ("id", run.id.clone()),
        ("name", run.name.clone()),
        ("task", run.task_name.clone()),
        ("status", status_name(run.status).into()),
    ];
    if !run.stop_reason.is_empty() {
        rows.push(("stop reason", run.stop_reason.clone()));
    }
    if run.cancel_requested {
        rows.push(("cancel", "requested".into()));
    }
    if !run.fork_of_node_id.is_empty() {
        rows.push(("forked from", format!("node {}", run.fork_of_node_id)));
    }
    rows.extend([
        (
            "nodes",
            format!(
                "{} of {} steps, {} reviewed",
                run.nodes,
                settings.steps.unwrap_or(0),
                run.reviewed
            ),
        ),
        ("best", best_text(&run)),
        ("best node", run.best_node_id.clone()),
        ("cost", format!("${:.4}", run.cost_usd)),
        ("model", settings.code_model.clone().unwrap_or_default()),
        ("owner", run.owner.clone()),
        (
            "created",
            time_text(run.created_at.as_ref()).unwrap_or_default(),
        ),
        (
            "finished",
            time_text(run.finished_at.as_ref()).unwrap_or_default(),
        ),
    ]);
    for (key, value) in rows.into_iter().filter(|(_, v)| !v.is_empty()) {
        println!("{key:<12} {value}");
    }
    Ok(EXIT_COMPLETED)
}
