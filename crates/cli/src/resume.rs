//! `aide resume <out>`: opens the output directory's SQLite store, finds its unfinished run
//! and continues it in a new [`session`](crate::session) (the engine carries every node on
//! from its last persisted stage, so the run still ends with exactly `steps` nodes).

use std::sync::Arc;

use aide_store::{RunFilter, RunStatus, RunStore};

use crate::args::ResumeArgs;
use crate::error::{CliError, EXIT_COMPLETED, EXIT_FAILED, EXIT_INTERRUPTED};
use crate::progress::Mode;
use crate::session::{self, Interrupt, Session, ui_address};
use crate::summary;
use crate::summary::DB_FILE;

/// Runs `aide resume`.
pub async fn resume(args: ResumeArgs, interrupt: &Interrupt) -> Result<u8, CliError> {
    let out = args.out;
    if !out.join(DB_FILE).is_file() {
        return Err(CliError::OutDir {
            path: out.clone(),
            reason: format!("no {DB_FILE} here: not the output directory of an `aide run`"),
        });
    }
    let store = Arc::new(aide_store::connect(&session::db_url(&out)).await?);
    let runs = store.list_runs(RunFilter::default()).await?;
    let unfinished = runs
        .iter()
        .find(|r| matches!(r.status, RunStatus::Running | RunStatus::Queued));
    let Some(run) = unfinished.cloned() else {
        let Some(last) = runs.first() else {
            return Err(CliError::OutDir {
                path: out,
                reason: "the database holds no run".into(),
            });
        };
        eprintln!(
            "nothing to resume: the run is already {} ({})",
            last.status.as_str(),
            last.stop_reason.as_deref().unwrap_or("no reason recorded")
        );
        summary::print(&store, last, &out).await?;
        return Ok(match last.status {
            RunStatus::Completed => EXIT_COMPLETED,
            RunStatus::Cancelled => EXIT_INTERRUPTED,
            _ => EXIT_FAILED,
        });
    };
    let tokens = session::start_counting_tokens();
    let mode = Mode::detect(args.quiet);
    if mode != Mode::Quiet {
        eprintln!(
            "aide resume: task {} · {} steps · {} sandbox · outputs in {}",
            run.task.name,
            run.settings.steps,
            args.sandbox.as_str(),
            out.display()
        );
    }
    if run.settings.code.model == "baseline" {
        eprintln!("model: baseline, the offline deterministic author (not an LLM)");
    } else {
        eprintln!("model: {} (the run's)", run.settings.code.model);
    }
    session::drive(
        Session {
            out,
            store,
            run,
            sandbox: args.sandbox,
            work_root: None,
            mode,
            ui: ui_address(args.ui, args.ui_listen),
            tokens,
        },
        interrupt,
    )
    .await
}
