//! `aide run`: turns the command line (flags, a task directory and/or the reference's
//! `key=value` overrides) into a task and run settings, creates the output directory with
//! its SQLite store and the run, then hands over to a [`session`](crate::session).

use std::path::PathBuf;
use std::sync::Arc;

use aide_core::{RunSettings, Task};
use aide_store::{NewRun, RunStore};

use crate::args::RunArgs;
use crate::embedded::choose_models;
use crate::error::CliError;
use crate::overrides::{Inputs, parse_inputs};
use crate::progress::Mode;
use crate::session::{self, Interrupt, Session, ui_address};
use crate::summary::DB_FILE;

/// What `aide run` resolved before touching the disk.
#[derive(Debug)]
pub struct Plan {
    pub task: Task,
    pub settings: RunSettings,
    pub out: PathBuf,
    pub work_root: Option<PathBuf>,
    pub model_note: String,
}

/// Resolves the task, settings and output directory; every error is the user's (exit 2).
pub fn plan(args: &RunArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, CliError> {
    let Inputs {
        task_path,
        overrides,
    } = parse_inputs(&args.inputs)?;
    let task = match (&task_path, overrides.names_a_task()) {
        (Some(path), _) => Task::load(path)?,
        (None, true) => Task::from_reference(&overrides.reference)?,
        (None, false) if overrides.has_task_keys() => {
            return Err(CliError::Usage(
                "data_dir=<directory> is required with goal=/eval=/desc_file=".into(),
            ));
        }
        (None, false) => {
            return Err(CliError::Usage(
                "no task given: `aide run <task directory>` or `aide run data_dir=<dir> \
                 goal=\"…\"` (see aide run --help)"
                    .into(),
            ));
        }
    };
    let mut settings = RunSettings::default();
    overrides.apply(&mut settings);
    settings.steps = args.steps.unwrap_or(settings.steps);
    settings.workers = args.workers.unwrap_or(settings.workers);
    settings.seed = args.seed.unwrap_or(settings.seed);
    settings.exec_timeout_secs = args.timeout.unwrap_or(settings.exec_timeout_secs);
    settings.max_cost_usd = args.max_cost.or(settings.max_cost_usd);
    settings.max_run_secs = args.max_time.or(settings.max_run_secs);
    let models = choose_models(
        args.model.as_deref().or(overrides.code_model.as_deref()),
        args.feedback_model
            .as_deref()
            .or(overrides.feedback_model.as_deref()),
        env,
    )?;
    settings.code.model = models.code;
    settings.feedback.model = models.feedback;
    settings.validate()?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let out = match (&args.out, &overrides.log_dir, &overrides.exp_name) {
        (Some(out), _, _) => out.clone(),
        (None, log_dir, exp) => {
            let parent = log_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("aide-runs"));
            let name = exp
                .clone()
                .unwrap_or_else(|| format!("{}-{stamp}", task.name));
            parent.join(name)
        }
    };
    let work_root = overrides
        .workspace_dir
        .as_ref()
        .map(|w| w.join(out.file_name().unwrap_or_default()));
    Ok(Plan {
        task,
        settings,
        out,
        work_root,
        model_note: models.note,
    })
}

/// Runs `aide run`.
pub async fn run(args: RunArgs, interrupt: &Interrupt) -> Result<u8, CliError> {
    let tokens = session::start_counting_tokens();
    let env = |var: &str| std::env::var(var).ok();
    let plan = plan(&args, &env)?;
    let mode = Mode::detect(args.quiet);
    if plan.out.join(DB_FILE).exists() {
        return Err(CliError::OutDir {
            path: plan.out.clone(),
            reason: format!(
                "already holds a run; continue it with `aide resume {}` or choose another --out",
                plan.out.display()
            ),
        });
    }
    std::fs::create_dir_all(&plan.out).map_err(|e| CliError::OutDir {
        path: plan.out.clone(),
        reason: e.to_string(),
    })?;
    let store = Arc::new(aide_store::connect(&session::db_url(&plan.out)).await?);
    let run = store
        .create_run(NewRun {
            project: aide_core::access::ProjectName::default_project(),
            name: plan.task.name.clone(),
            direction: plan.task.metric.resolved_direction(),
            seed: plan.settings.seed,
            task: plan.task.clone(),
            settings: plan.settings.clone(),
            fork_of: None,
        })
        .await?;
    if mode != Mode::Quiet {
        let s = &plan.settings;
        eprintln!(
            "aide run: task {} · {} steps · {} worker(s) · {} sandbox · outputs in {}",
            plan.task.name,
            s.steps,
            s.workers,
            args.sandbox.as_str(),
            plan.out.display()
        );
    }
    // The baseline notice is said even with --quiet: a user must never mistake it for an LLM.
    eprintln!("{}", plan.model_note);
    session::drive(
        Session {
            out: plan.out,
            store,
            run,
            sandbox: args.sandbox,
            work_root: plan.work_root,
            mode,
            ui: ui_address(args.ui, args.ui_listen),
            tokens,
        },
        interrupt,
    )
    .await
}
