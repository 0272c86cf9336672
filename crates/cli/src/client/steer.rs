//! `aide steer <run> pin|prune|note|budget|fork …`: a person's directives to a running
//! search (SteerRun), and a new run from one of its nodes (ForkRun). The server checks each
//! directive against the run and records it with the caller's token; a refusal (a finished
//! run, a node of another run, a pruned subtree) exits 2 with the server's reason.

use aide_proto::v1;
use aide_proto::v1::steer_run_request::Directive as Wire;

use super::{ServerArg, remote};
use crate::error::{CliError, EXIT_COMPLETED};

/// Flags of `aide steer`.
#[derive(Debug, Clone, clap::Parser)]
pub struct SteerArgs {
    /// The run's id.
    pub run: String,
    #[command(subcommand)]
    pub directive: SteerCommand,
    #[command(flatten)]
    pub server: ServerArg,
}

/// What to ask of the run.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SteerCommand {
    /// Make a node the next one expanded: improved when good, debugged when buggy.
    Pin {
        /// The node's id.
        node: String,
    },
    /// Never expand a node or its descendants again.
    Prune {
        /// The node's id.
        node: String,
    },
    /// Add a note every later prompt shows, e.g. "try target encoding on the categorical
    /// columns".
    Note {
        /// The note (at most 2,000 characters).
        text: String,
    },
    /// Change the run's budgets (counted from its start).
    Budget {
        /// The run's node budget.
        #[arg(long, value_name = "N")]
        steps: Option<u32>,
        /// The run's wall-clock budget in seconds.
        #[arg(long, value_name = "SECS")]
        max_time: Option<u64>,
    },
    /// Start a new run, with this run's task and settings, whose first node is a node's
    /// code.
    Fork {
        /// The node's id.
        node: String,
        /// The new run's name (default: this run's name with "-fork").
        #[arg(long)]
        name: Option<String>,
    },
}

/// Runs `aide steer`.
pub async fn steer(args: SteerArgs) -> Result<u8, CliError> {
    let run_id = args.run.trim().to_owned();
    let node = |id: String| v1::NodeRef {
        node_id: id.trim().to_owned(),
    };
    let directive = match args.directive {
        SteerCommand::Fork { node, name } => return fork(&args.server, run_id, node, name).await,
        SteerCommand::Pin { node: id } => Wire::Pin(node(id)),
        SteerCommand::Prune { node: id } => Wire::Prune(node(id)),
        SteerCommand::Note { text } => Wire::Note(text),
        SteerCommand::Budget {
            steps: None,
            max_time: None,
        } => {
            return Err(CliError::Usage(
                "budget: give --steps, --max-time or both".into(),
            ));
        }
        SteerCommand::Budget { steps, max_time } => Wire::Budget(v1::BudgetChange {
            steps,
            max_run_secs: max_time,
        }),
    };
    let kind = directive_name(&directive);
    let mut client = args.server.connect().await?;
    let steered = client
        .steer_run(v1::SteerRunRequest {
            run_id,
            directive: Some(directive),
        })
        .await
        .map_err(|s| remote(s, None))?
        .into_inner();
    let run = steered.run.unwrap_or_default();
    eprintln!("run {}: {kind} recorded (event {})", run.id, steered.seq);
    Ok(EXIT_COMPLETED)
}

/// ForkRun: prints the new run's id on stdout (for scripts), its name on stderr.
async fn fork(
    server: &ServerArg,
    run_id: String,
    node: String,
    name: Option<String>,
) -> Result<u8, CliError> {
    let mut client = server.connect().await?;
    let request = v1::ForkRunRequest {
        run_id,
        node_id: node.trim().to_owned(),
        name: name.unwrap_or_default(),
    };
    let fork = client
        .fork_run(request)
        .await
        .map_err(|s| remote(s, None))?
        .into_inner();
    eprintln!("forked into run {} ({})", fork.id, fork.name);
    println!("{}", fork.id);
    Ok(EXIT_COMPLETED)
}

fn directive_name(directive: &Wire) -> &'static str {
    match directive {
        Wire::Pin(_) => "pin",
        Wire::Prune(_) => "prune",
        Wire::Note(_) => "note",
        Wire::Budget(_) => "budget",
    }
}
