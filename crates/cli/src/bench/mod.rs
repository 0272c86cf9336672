//! `aide bench`: benchmark sweeps — task × seed × arm, each cell a run graded outside the
//! sandbox — on a server (`--server`) or on this machine (the services in this process,
//! `--slots` runner slots). Commands: run, ls, status, watch, cancel, resume, retry,
//! report and export (MLE-bench's `submissions.jsonl`).

mod display;
mod export;
mod report;
mod request;
mod target;
mod watch;

use std::path::PathBuf;

use aide_core::sweep::Spec;
use aide_proto::v1;
use tokio_util::sync::CancellationToken;

use crate::client::print_json;
use crate::error::{CliError, EXIT_COMPLETED};
use display::{cell_line, counts_text, sweep_json, sweep_status};
pub use report::Format;
use target::Connection;
pub use target::Target;
use watch::{follow, get, sweep_error};

/// `aide bench` and its flags.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
    #[command(flatten)]
    pub target: Target,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Create a sweep from a spec (TOML) and, with --watch or on this machine, follow it.
    Run {
        /// The spec: seeds, [settings], [[tasks]], [mlebench], [[arms]], [budget].
        spec: PathBuf,
        /// The sweep's name [default: the spec's file name].
        #[arg(long)]
        name: Option<String>,
        /// Follow the sweep until it ends (always on this machine: the sweep advances only
        /// while this process runs).
        #[arg(long)]
        watch: bool,
    },
    /// List the sweeps, newest first.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Show a sweep and its cells.
    Status {
        sweep: String,
        #[arg(long)]
        json: bool,
    },
    /// Follow a sweep until it ends (on this machine: run it meanwhile).
    Watch { sweep: String },
    /// Cancel a sweep: no cell starts and the running ones are cancelled.
    Cancel { sweep: String },
    /// Run a stopped or cancelled sweep again, with a bigger budget when given.
    Resume {
        sweep: String,
        /// The sweep's new total cost limit in US dollars.
        #[arg(long, value_name = "USD")]
        cost_usd: Option<f64>,
        /// The sweep's new wall-clock limit in seconds (counted from its creation).
        #[arg(long, value_name = "SECS")]
        wall_clock_secs: Option<u64>,
        /// Cells at once.
        #[arg(long, value_name = "N")]
        cells_at_once: Option<u32>,
        #[arg(long)]
        watch: bool,
    },
    /// Queue a sweep's failed cells again.
    Retry {
        sweep: String,
        /// Retry the failed cells (required: the one kind of retry there is).
        #[arg(long, required = true)]
        failed: bool,
        #[arg(long)]
        watch: bool,
    },
    /// Print a sweep's report and write it, with a score-by-step plot per task, to a
    /// directory.
    Report {
        sweep: String,
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        /// The report directory [default: ./sweep-<first 8 of the id>].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the sweep's submissions for MLE-bench's `grade` command.
    Export {
        sweep: String,
        /// Where submissions.jsonl and the submission files go.
        #[arg(long, value_name = "DIR", required = true)]
        mlebench: PathBuf,
    },
}

/// Runs `aide bench`.
pub async fn bench(args: BenchArgs) -> Result<u8, CliError> {
    // A spec is checked before any service starts or any byte is sent.
    let spec = match &args.command {
        BenchCommand::Run { spec, .. } => Some(load_spec(spec)?),
        _ => None,
    };
    let shutdown = CancellationToken::new();
    crate::serve::install_signals(&shutdown)?;
    let mut conn = args.target.connect(&shutdown).await?;
    let outcome = command(&mut conn, args.command, spec, &shutdown).await;
    conn.close().await;
    outcome
}

fn load_spec(path: &std::path::Path) -> Result<Spec, CliError> {
    let spec = Spec::load(path).map_err(|e| CliError::Usage(e.to_string()))?;
    for task in &spec.tasks {
        request::check_task(task)?;
    }
    Ok(spec)
}

async fn command(
    conn: &mut Connection,
    command: BenchCommand,
    spec: Option<Spec>,
    shutdown: &CancellationToken,
) -> Result<u8, CliError> {
    let mut client = conn.sweeps();
    match command {
        BenchCommand::Run {
            spec: path,
            name,
            watch,
        } => {
            let spec = spec.ok_or_else(|| CliError::Usage("no spec".into()))?;
            let name = name.unwrap_or_else(|| {
                path.file_stem()
                    .map_or("sweep".into(), |s| s.to_string_lossy().into_owned())
            });
            let request = request::create_request(&spec, name, &conn.channel).await?;
            let sweep = client
                .create_sweep(request)
                .await
                .map_err(|s| crate::client::remote(s, None))?
                .into_inner();
            println!("{}", sweep.id);
            eprintln!(
                "sweep {} created: {} tasks × {} seeds × {} arms",
                sweep.name,
                sweep.tasks.len(),
                sweep.seeds.len(),
                sweep.arms.len()
            );
            then_watch(conn, &sweep.id, watch, shutdown).await
        }
        BenchCommand::Ls { json } => {
            let sweeps = client
                .list_sweeps(v1::ListSweepsRequest { limit: 0 })
                .await
                .map_err(|s| crate::client::remote(s, None))?
                .into_inner()
                .sweeps;
            match json {
                true => print_json(&sweep_list_json(&sweeps)),
                false => print_sweeps(&sweeps),
            }
            Ok(EXIT_COMPLETED)
        }
        BenchCommand::Status { sweep, json } => {
            let found = get(&mut client, &sweep).await?;
            let cells = watch::cells(&mut client, &sweep, false).await?;
            match json {
                true => {
                    let mut value = sweep_json(&found);
                    value["cells_detail"] = cells
                        .cells
                        .iter()
                        .map(|c| {
                            serde_json::json!({"task": c.task, "arm": c.arm, "seed": c.seed,
                            "status": display::cell_status(c.status), "run_id": c.run_id,
                            "score": c.grade.as_ref().and_then(|g| g.score),
                            "cause": (!c.cause.is_empty()).then_some(&c.cause)})
                        })
                        .collect();
                    print_json(&value);
                }
                false => print_status(&found, &cells),
            }
            Ok(EXIT_COMPLETED)
        }
        BenchCommand::Watch { sweep } => follow(conn, &sweep, shutdown).await,
        BenchCommand::Cancel { sweep } => {
            let cancelled = client
                .cancel_sweep(v1::CancelSweepRequest {
                    sweep_id: sweep.clone(),
                })
                .await
                .map_err(|s| sweep_error(s, &sweep))?
                .into_inner();
            eprintln!(
                "sweep {} cancelled: {}",
                cancelled.name,
                counts_text(&cancelled)
            );
            Ok(EXIT_COMPLETED)
        }
        BenchCommand::Resume {
            sweep,
            cost_usd,
            wall_clock_secs,
            cells_at_once,
            watch,
        } => {
            let current = get(&mut client, &sweep).await?;
            let mut budget = current.budget.unwrap_or_default();
            budget.cost_usd = cost_usd.or(budget.cost_usd);
            budget.wall_clock_secs = wall_clock_secs.or(budget.wall_clock_secs);
            budget.cells_at_once = cells_at_once.or(budget.cells_at_once);
            let resumed = client
                .resume_sweep(v1::ResumeSweepRequest {
                    sweep_id: sweep.clone(),
                    budget: Some(budget),
                })
                .await
                .map_err(|s| sweep_error(s, &sweep))?
                .into_inner();
            eprintln!("sweep {} running: {}", resumed.name, counts_text(&resumed));
            then_watch(conn, &sweep, watch, shutdown).await
        }
        BenchCommand::Retry { sweep, watch, .. } => {
            let retried = client
                .retry_sweep(v1::RetrySweepRequest {
                    sweep_id: sweep.clone(),
                })
                .await
                .map_err(|s| sweep_error(s, &sweep))?
                .into_inner();
            eprintln!("{} failed cell(s) queued again", retried.queued);
            if let Some(s) = retried
                .sweep
                .as_ref()
                .filter(|s| s.status != v1::SweepStatus::Running as i32)
            {
                eprintln!(
                    "the sweep is {}: they start once it is resumed (aide bench resume {sweep})",
                    sweep_status(s.status)
                );
                return Ok(EXIT_COMPLETED);
            }
            then_watch(conn, &sweep, watch, shutdown).await
        }
        BenchCommand::Report { sweep, format, out } => {
            let found = get(&mut client, &sweep).await?;
            let cells = watch::cells(&mut client, &sweep, true).await?;
            let out = out.unwrap_or_else(|| report::default_dir(&found));
            let text = report::write(&found, &cells, format, &out)?;
            print!("{text}");
            eprintln!("report written to {}", out.display());
            Ok(EXIT_COMPLETED)
        }
        BenchCommand::Export { sweep, mlebench } => {
            let found = get(&mut client, &sweep).await?;
            let cells = watch::cells(&mut client, &sweep, false).await?;
            let n = export::export(&conn.channel, &cells, found.arms.len(), &mlebench).await?;
            eprintln!(
                "{n} submission(s) in {} (mlebench grade --submission {0})",
                mlebench.join("submissions.jsonl").display()
            );
            Ok(EXIT_COMPLETED)
        }
    }
}

/// Follows the sweep when asked, or always on this machine.
async fn then_watch(
    conn: &mut Connection,
    id: &str,
    watch: bool,
    shutdown: &CancellationToken,
) -> Result<u8, CliError> {
    if watch || conn.is_embedded() {
        return follow(conn, id, shutdown).await;
    }
    eprintln!("follow it with: aide bench watch {id}");
    Ok(EXIT_COMPLETED)
}

fn print_sweeps(sweeps: &[v1::Sweep]) {
    if sweeps.is_empty() {
        eprintln!("no sweeps yet: aide bench run SPEC.toml");
        return;
    }
    println!("{:<36}  {:<10}  {:<20}  CELLS", "ID", "STATUS", "NAME");
    for s in sweeps {
        println!(
            "{:<36}  {:<10}  {:<20}  {}",
            s.id,
            sweep_status(s.status),
            s.name,
            counts_text(s)
        );
    }
}

fn sweep_list_json(sweeps: &[v1::Sweep]) -> serde_json::Value {
    sweeps.iter().map(sweep_json).collect()
}

fn print_status(sweep: &v1::Sweep, cells: &v1::ListCellsResponse) {
    println!("sweep {} ({})", sweep.name, sweep.id);
    println!("status: {}", sweep_status(sweep.status));
    if !sweep.stop_reason.is_empty() {
        println!("stopped: {}", sweep.stop_reason);
    }
    println!("cells: {}", counts_text(sweep));
    println!(
        "{} tasks × {} seeds × {} arms ({})",
        sweep.tasks.len(),
        sweep.seeds.len(),
        sweep.arms.len(),
        sweep.arms.join(", ")
    );
    for cell in &cells.cells {
        let line = match v1::CellStatus::try_from(cell.status) {
            Ok(v1::CellStatus::Graded | v1::CellStatus::Failed) => cell_line(cell),
            _ => format!(
                "{:<7} {} / {} / seed {}{}",
                display::cell_status(cell.status),
                cell.task,
                cell.arm,
                cell.seed,
                if cell.run_id.is_empty() {
                    String::new()
                } else {
                    format!(" (run {})", cell.run_id)
                }
            ),
        };
        println!("  {line}");
    }
}
