//! `aide submit`: CreateRun from the same task inputs as `aide run` (a task directory or the
//! reference's `key=value` overrides, paths made absolute: they are read on the server's
//! host) and flags; prints only the run id on stdout, and with `--watch` follows the run.

use std::path::Path;

use aide_proto::v1;

use super::{ServerArg, remote};
use crate::error::{CliError, EXIT_COMPLETED};
use crate::overrides::{Inputs, parse_inputs};

/// Help text after the flags.
pub const HELP: &str = "\
Task: a task directory or key=value overrides, as for `aide run` (see aide run --help). Paths
are made absolute here and read by the server, so they must exist on the server's host (a
shared file system, or the same machine). log_dir= and workspace_dir= are ignored: the server
decides where outputs go (`aide export` fetches them).

Models: the server's gateway holds the LLM keys; without --model (or agent.code.model=) the
run uses the server's default, the offline baseline author (not an LLM).

Examples:
  id=$(aide submit examples/diabetes --steps 6 --model claude-sonnet-4-5)
  aide submit data_dir=/data/house goal=\"predict SalePrice\" agent.steps=10 --watch

Exit codes: 0 submitted (with --watch: the run completed), 1 failed (--watch), 2 bad input
or refused by the server, 3 cancelled (--watch), 4 server error, 5 server unreachable.";

/// Flags of `aide submit`.
#[derive(Debug, Clone, clap::Parser)]
pub struct SubmitArgs {
    /// A task directory, optionally followed (or replaced) by key=value overrides.
    #[arg(value_name = "TASK | KEY=VALUE")]
    pub inputs: Vec<String>,
    /// Display name of the run [default: the task's name, or exp_name=].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Nodes the search creates [server default: 20].
    #[arg(long, value_name = "N")]
    pub steps: Option<u32>,
    /// Nodes expanded in parallel [default: 1].
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Seed of the search's random choices [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Time limit of one script execution, in seconds [default: 3600].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Model writing the code (`provider/model`, a bare name routed by prefix, or
    /// `baseline`) [default: baseline].
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Model reviewing each execution [default: the --model].
    #[arg(long, value_name = "MODEL")]
    pub feedback_model: Option<String>,
    /// Stop the search once the LLM calls cost this many US dollars.
    #[arg(long, value_name = "USD")]
    pub max_cost: Option<f64>,
    /// Stop the search after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub max_time: Option<u64>,
    /// Follow the run like `aide watch` and exit with its code.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: print only the final result.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Builds the CreateRun request; every error is the user's (exit 2).
pub fn request(args: &SubmitArgs) -> Result<v1::CreateRunRequest, CliError> {
    let Inputs {
        task_path,
        overrides: o,
    } = parse_inputs(&args.inputs)?;
    let source = match (&task_path, o.names_a_task()) {
        (Some(path), _) => v1::task_source::Source::Path(absolute(path)?),
        (None, true) => {
            let r = &o.reference;
            v1::task_source::Source::Reference(v1::ReferenceTask {
                data_dir: r
                    .data_dir
                    .as_deref()
                    .map(absolute)
                    .transpose()?
                    .unwrap_or_default(),
                goal: r.goal.clone().unwrap_or_default(),
                eval: r.eval.clone().unwrap_or_default(),
                desc_file: r
                    .desc_file
                    .as_deref()
                    .map(absolute)
                    .transpose()?
                    .unwrap_or_default(),
            })
        }
        (None, false) if o.has_task_keys() => {
            return Err(CliError::Usage(
                "data_dir=<directory> is required with goal=/eval=/desc_file=".into(),
            ));
        }
        (None, false) => {
            return Err(CliError::Usage(
                "no task given: `aide submit <task directory>` or `aide submit \
                 data_dir=<dir> goal=\"…\"` (see aide submit --help)"
                    .into(),
            ));
        }
    };
    if o.log_dir.is_some() || o.workspace_dir.is_some() {
        eprintln!("note: log_dir= and workspace_dir= are ignored by a server");
    }
    let code_model = args.model.clone().or(o.code_model.clone());
    let settings = v1::RunSettings {
        steps: args.steps.or(o.steps),
        num_drafts: o.num_drafts,
        debug_prob: o.debug_prob,
        max_debug_depth: o.max_debug_depth,
        exec_timeout_secs: args.timeout.or(o.exec_timeout),
        k_fold_validation: o.k_fold_validation,
        data_preview: o.data_preview,
        feedback_model: args
            .feedback_model
            .clone()
            .or(o.feedback_model.clone())
            .or(code_model.clone()),
        code_model,
        code_temperature: o.code_temp,
        feedback_temperature: o.feedback_temp,
        workers: args.workers,
        seed: args.seed,
        max_run_secs: args.max_time,
        max_cost_usd: args.max_cost,
        expose_prediction: o.expose_prediction,
    };
    Ok(v1::CreateRunRequest {
        name: args.name.clone().or(o.exp_name).unwrap_or_default(),
        task: Some(v1::TaskSource {
            source: Some(source),
            metric_name: String::new(),
            direction: v1::MetricDirection::Unspecified.into(),
        }),
        settings: Some(settings),
    })
}

fn absolute(path: &Path) -> Result<String, CliError> {
    let abs = std::path::absolute(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    Ok(abs.to_string_lossy().into_owned())
}

/// Runs `aide submit`.
pub async fn submit(args: SubmitArgs) -> Result<u8, CliError> {
    let request = request(&args)?;
    let mut client = args.server.connect().await?;
    let run = client
        .create_run(request)
        .await
        .map_err(|s| remote(s, None))?
        .into_inner();
    println!("{}", run.id);
    let steps = run.settings.as_ref().and_then(|s| s.steps).unwrap_or(0);
    eprintln!(
        "submitted run {} ({}, {steps} steps) to {}",
        run.name, run.task_name, args.server.server
    );
    if !args.watch {
        eprintln!("follow it with: aide watch {}", run.id);
        return Ok(EXIT_COMPLETED);
    }
    super::watch::follow(&mut client, &run.id, args.quiet).await
}
