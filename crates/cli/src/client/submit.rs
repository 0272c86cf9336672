//! `aide submit`: loads the task here from the same inputs as `aide run` (a task directory
//! or the reference's `key=value` overrides), uploads it as bundles (only the files the server
//! lacks), or names a task the server holds under a task root (`--server-task`); then creates
//! the run. Prints only the run id on stdout, and with `--watch` follows the run.

use aide_bundle::push::push_task;
use aide_core::Task;
use aide_core::bundle::Limits;
use aide_core::task::ReferenceTask;
use aide_proto::v1;

use super::upload::{Progress, push_error};
use super::{ServerArg, remote};
use crate::error::{CliError, EXIT_COMPLETED};
use crate::overrides::{Inputs, Overrides, parse_inputs};

/// Help text after the flags.
pub const HELP: &str = "\
Task: a task directory or key=value overrides, as for `aide run` (see aide run --help). The
task is read here and uploaded as content-addressed bundles: only files the server does not
hold yet are sent, so submitting an unchanged task again uploads nothing. Held-back answers
(task.toml `answers`, MLE-bench prepared/private) go in a separate private bundle that no
runner receives. Or name a task the server holds: --server-task ROOT/NAME. log_dir= and
workspace_dir= are ignored: the server decides where outputs go (`aide export` fetches them).

Models: the server's gateway holds the LLM keys; without --model (or agent.code.model=) the
run uses the server's default, the offline baseline author (not an LLM).

Examples:
  id=$(aide submit examples/diabetes --steps 6 --model claude-sonnet-4-5)
  aide submit data_dir=/data/house goal=\"predict SalePrice\" agent.steps=10 --watch
  aide submit --server-task mlebench/spaceship-titanic --steps 20

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
    /// A task the server holds under one of its task roots, as ROOT/NAME, instead of a
    /// local task.
    #[arg(long, value_name = "ROOT/NAME", conflicts_with = "inputs")]
    pub server_task: Option<String>,
    /// Refuse, before uploading anything, a task whose files pass this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_total_bytes)]
    pub max_task_bytes: u64,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Where the run's task comes from.
#[derive(Debug)]
pub enum TaskChoice {
    /// Loaded here, to be uploaded.
    Local(Box<Task>),
    /// Held by the server under a task root.
    Server(String),
}

/// The task and the CreateRun request without its task source; every error is the user's
/// (exit 2).
pub fn request(args: &SubmitArgs) -> Result<(TaskChoice, v1::CreateRunRequest), CliError> {
    let Inputs {
        task_path,
        overrides: o,
    } = parse_inputs(&args.inputs)?;
    let task = match (&args.server_task, &task_path, o.names_a_task()) {
        (Some(name), _, _) => TaskChoice::Server(name.trim().to_owned()),
        (None, Some(path), _) => TaskChoice::Local(Box::new(
            Task::load(path).map_err(|e| CliError::Usage(e.to_string()))?,
        )),
        (None, None, true) => TaskChoice::Local(Box::new(reference_task(&o)?)),
        (None, None, false) if o.has_task_keys() => {
            return Err(CliError::Usage(
                "data_dir=<directory> is required with goal=/eval=/desc_file=".into(),
            ));
        }
        (None, None, false) => {
            return Err(CliError::Usage(
                "no task given: `aide submit <task directory>`, `aide submit \
                 data_dir=<dir> goal=\"…\"` or `aide submit --server-task ROOT/NAME` (see \
                 aide submit --help)"
                    .into(),
            ));
        }
    };
    if o.log_dir.is_some() || o.workspace_dir.is_some() {
        eprintln!("note: log_dir= and workspace_dir= are ignored by a server");
    }
    let request = v1::CreateRunRequest {
        name: args.name.clone().or(o.exp_name.clone()).unwrap_or_default(),
        task: Some(v1::TaskSource {
            source: None,
            metric_name: String::new(),
            direction: v1::MetricDirection::Unspecified.into(),
        }),
        settings: Some(settings(args, &o)),
    };
    Ok((task, request))
}

fn reference_task(o: &Overrides) -> Result<Task, CliError> {
    let r = &o.reference;
    let args = ReferenceTask {
        data_dir: r.data_dir.clone(),
        goal: r.goal.clone(),
        eval: r.eval.clone(),
        desc_file: r.desc_file.clone(),
    };
    Task::from_reference(&args).map_err(|e| CliError::Usage(e.to_string()))
}

fn settings(args: &SubmitArgs, o: &Overrides) -> v1::RunSettings {
    let code_model = args.model.clone().or(o.code_model.clone());
    // The policy overrides travel as the protocol's policy fields, filled from the defaults
    // with the overrides laid over them (each was checked when it was read).
    let search = o
        .search_over(&aide_core::SearchSettings::default())
        .ok()
        .flatten()
        .map(|search| {
            aide_coordinator::api::convert::settings_to_proto(&aide_core::RunSettings {
                search,
                ..aide_core::RunSettings::default()
            })
        });
    let real = |f: fn(&v1::RunSettings) -> Option<f64>| search.as_ref().and_then(f);
    let count = |f: fn(&v1::RunSettings) -> Option<u32>| search.as_ref().and_then(f);
    v1::RunSettings {
        policy: search.as_ref().map_or(0, |s| s.policy),
        memory: search.as_ref().map_or(0, |s| s.memory),
        mcts_exploration: real(|s| s.mcts_exploration),
        mcts_exploration_decay: real(|s| s.mcts_exploration_decay),
        mcts_buggy_value: real(|s| s.mcts_buggy_value),
        mcts_max_children: count(|s| s.mcts_max_children),
        evolutionary_islands: count(|s| s.evolutionary_islands),
        evolutionary_population: count(|s| s.evolutionary_population),
        evolutionary_tournament: count(|s| s.evolutionary_tournament),
        evolutionary_merge_prob: real(|s| s.evolutionary_merge_prob),
        evolutionary_migration_every: count(|s| s.evolutionary_migration_every),
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
    }
}

/// The task source: a server task by name, or a local task uploaded now.
async fn task_source(
    args: &SubmitArgs,
    task: TaskChoice,
) -> Result<v1::task_source::Source, CliError> {
    match task {
        TaskChoice::Server(name) => Ok(v1::task_source::Source::ServerTask(name)),
        TaskChoice::Local(task) => {
            let limits = Limits {
                max_total_bytes: args.max_task_bytes,
                ..Limits::default()
            };
            let channel = args.server.channel().await?;
            let progress = Progress::default();
            let (bundle, _) = push_task(channel, &task, limits, &progress)
                .await
                .map_err(push_error)?;
            Ok(v1::task_source::Source::Bundle(bundle))
        }
    }
}

/// Runs `aide submit`.
pub async fn submit(args: SubmitArgs) -> Result<u8, CliError> {
    let (task, mut request) = request(&args)?;
    let mut client = args.server.connect().await?;
    let source = task_source(&args, task).await?;
    if let Some(task) = request.task.as_mut() {
        task.source = Some(source);
    }
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
