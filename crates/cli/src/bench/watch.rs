//! Following a sweep: a line for each cell as it finishes, and a progress line — cells
//! done/running/queued/failed, the best score per task, elapsed time and spending — redrawn
//! in place on a terminal, printed when it changes (at most every 30 s) otherwise. Ends
//! when the sweep stops running, with its exit code.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use aide_proto::bearer::AuthedChannel;
use aide_proto::v1;
use aide_proto::v1::sweeps_client::SweepsClient;
use tokio_util::sync::CancellationToken;

use super::display::{best_per_task, cell_line, counts_text, sweep_status};
use super::target::Connection;
use crate::client::remote;
use crate::error::{CliError, EXIT_COMPLETED, EXIT_INTERRUPTED};

/// How often the sweep is read.
const POLL: Duration = Duration::from_secs(1);
/// The longest a non-terminal goes without a progress line while something changes.
const QUIET: Duration = Duration::from_secs(30);

pub type Sweeps = SweepsClient<AuthedChannel>;

pub async fn get(client: &mut Sweeps, id: &str) -> Result<v1::Sweep, CliError> {
    client
        .get_sweep(v1::GetSweepRequest {
            sweep_id: id.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| sweep_error(s, id))
}

pub async fn cells(
    client: &mut Sweeps,
    id: &str,
    with_curves: bool,
) -> Result<v1::ListCellsResponse, CliError> {
    client
        .list_cells(v1::ListCellsRequest {
            sweep_id: id.to_owned(),
            with_curves,
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| sweep_error(s, id))
}

/// A gRPC error about sweep `id`.
pub fn sweep_error(status: tonic::Status, id: &str) -> CliError {
    match status.code() {
        tonic::Code::NotFound => CliError::Usage(format!("no sweep {id}")),
        _ => remote(status, None),
    }
}

/// Follows sweep `id` until it stops running (or `shutdown`).
pub async fn follow(
    conn: &mut Connection,
    id: &str,
    shutdown: &CancellationToken,
) -> Result<u8, CliError> {
    let mut client = conn.sweeps();
    let terminal = std::io::stderr().is_terminal();
    let mut shown: HashSet<(u32, u32)> = HashSet::new();
    let mut first = true;
    let (mut last_line, mut last_print) = (String::new(), Instant::now());
    loop {
        let sweep = get(&mut client, id).await?;
        let listed = cells(&mut client, id, false).await?;
        let finished = listed.cells.iter().filter(|c| is_finished(c));
        for cell in finished {
            if shown.insert((cell.index, cell.attempts)) && !first {
                if terminal {
                    eprint!("\r\x1b[K");
                }
                eprintln!("  {}", cell_line(cell));
            }
        }
        first = false;
        let best = best_per_task(&listed, &sweep.tasks);
        let line = format!(
            "[{}] {}{}",
            elapsed(&sweep),
            counts_text(&sweep),
            if best.is_empty() {
                String::new()
            } else {
                format!(" · best: {best}")
            }
        );
        if terminal {
            eprint!("\r\x1b[K{line}");
        } else if line != last_line && (last_line.is_empty() || last_print.elapsed() >= QUIET) {
            eprintln!("{line}");
            last_print = Instant::now();
        }
        last_line = line;
        if sweep.status != v1::SweepStatus::Running as i32 {
            if terminal {
                eprintln!();
            }
            return Ok(ended(&sweep, conn.is_embedded()));
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = shutdown.cancelled() => {
                if terminal {
                    eprintln!();
                }
                eprintln!("{}", interrupted_hint(id, conn.is_embedded()));
                return Ok(EXIT_INTERRUPTED);
            }
            err = conn.died() => return Err(err),
        }
    }
}

fn is_finished(cell: &v1::Cell) -> bool {
    matches!(
        v1::CellStatus::try_from(cell.status),
        Ok(v1::CellStatus::Graded | v1::CellStatus::Failed)
    )
}

/// Time since the sweep was created, as `h:mm:ss`.
fn elapsed(sweep: &v1::Sweep) -> String {
    let start = sweep.created_at.as_ref().map_or(0, |t| t.seconds);
    let end = sweep
        .finished_at
        .as_ref()
        .map_or_else(|| chrono::Utc::now().timestamp(), |t| t.seconds);
    let secs = (end - start).max(0);
    format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Says how the sweep ended and gives the exit code.
fn ended(sweep: &v1::Sweep, embedded: bool) -> u8 {
    let status = sweep_status(sweep.status);
    match v1::SweepStatus::try_from(sweep.status) {
        Ok(v1::SweepStatus::Completed) => {
            eprintln!(
                "sweep {} completed: {} · report: aide bench report {}",
                sweep.name,
                counts_text(sweep),
                sweep.id
            );
            EXIT_COMPLETED
        }
        _ => {
            eprintln!(
                "sweep {} {status}: {} · resume it with: aide bench resume {}{}",
                sweep.name,
                sweep.stop_reason,
                sweep.id,
                if embedded { "" } else { " --server …" }
            );
            EXIT_INTERRUPTED
        }
    }
}

fn interrupted_hint(id: &str, embedded: bool) -> String {
    match embedded {
        true => format!("interrupted: the sweep is kept and goes on with `aide bench resume {id}`"),
        false => {
            format!("stopped watching: the sweep goes on on the server (aide bench watch {id})")
        }
    }
}
