//! `aide watch <run>`: follows a run's WatchRun stream with the progress display of
//! `aide run` (resuming from the last event after a dropped stream), then prints how the
//! run ended and exits with its code: 0 completed, 1 failed, 3 cancelled.

use std::time::Duration;

use aide_core::RunEvent;
use aide_proto::v1;
use tonic::Code;

use super::{Client, ServerArg, best_text, remote, status_name};
use crate::error::{CliError, EXIT_COMPLETED, EXIT_FAILED, EXIT_INTERRUPTED};
use crate::progress::{Live, Mode};

/// Flags of `aide watch`.
#[derive(Debug, Clone, clap::Parser)]
pub struct WatchArgs {
    /// The run's id (as `aide submit` printed it).
    pub run: String,
    /// Print only the final result (no live progress).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Runs `aide watch`.
pub async fn watch(args: WatchArgs) -> Result<u8, CliError> {
    let mut client = args.server.connect().await?;
    follow(&mut client, args.run.trim(), args.quiet).await
}

/// Streams attempts in a row that may fail before the watch gives up.
const MAX_FAILURES: u32 = 10;

/// Follows `run_id` until it ends; returns the run's exit code.
pub async fn follow(client: &mut Client, run_id: &str, quiet: bool) -> Result<u8, CliError> {
    let run = get(client, run_id).await?;
    let mode = Mode::detect(quiet);
    let steps = run.settings.as_ref().and_then(|s| s.steps).unwrap_or(0);
    if mode != Mode::Quiet {
        eprintln!(
            "watching run {} ({} · {steps} steps · {})",
            run.id,
            run.task_name,
            status_name(run.status)
        );
    }
    let mut live = Live::new(steps, None, mode);
    let mut after = 0;
    let mut failures = 0;
    let run = loop {
        let ended = stream(client, run_id, &mut after, &mut live).await;
        live.finish();
        match ended {
            Ok(()) => {}
            Err(status) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
                return Err(remote(status, Some(run_id)));
            }
            Err(status) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    return Err(remote(status, Some(run_id)));
                }
                tracing::debug!(error = %status, "watch stream dropped; resuming");
            }
        }
        match client.get_run(request(run_id)).await {
            Ok(run) if is_terminal(run.get_ref().status) => break run.into_inner(),
            Ok(_) => {}
            Err(status) if failures + 1 >= MAX_FAILURES => {
                return Err(remote(status, Some(run_id)));
            }
            Err(_) => failures += 1,
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    Ok(report(&run))
}

/// Reads one WatchRun stream from `after` to its end, feeding the display.
async fn stream(
    client: &mut Client,
    run_id: &str,
    after: &mut u64,
    live: &mut Live,
) -> Result<(), tonic::Status> {
    let mut events = client
        .watch_run(v1::WatchRunRequest {
            run_id: run_id.to_owned(),
            after_seq: *after,
        })
        .await?
        .into_inner();
    let mut tick = tokio::time::interval(Duration::from_millis(300));
    loop {
        let next = tokio::select! {
            next = events.message() => next?,
            _ = tick.tick() => {
                live.tick();
                continue;
            }
        };
        let Some(event) = next else { return Ok(()) };
        *after = event.seq;
        if let Some(run) = &event.run {
            live.set_cost(run.cost_usd);
        }
        live.event(&domain_event(event));
    }
}

/// A protocol event as the display reads it.
fn domain_event(event: v1::RunEvent) -> RunEvent {
    let payload = serde_json::from_str(&event.payload_json).unwrap_or_default();
    RunEvent::from_parts(&event.kind, payload)
}

/// Prints how the run ended and returns its exit code.
fn report(run: &v1::Run) -> u8 {
    let status = v1::RunStatus::try_from(run.status).unwrap_or(v1::RunStatus::Unspecified);
    let reason = if run.stop_reason.is_empty() {
        String::new()
    } else {
        format!(": {}", run.stop_reason)
    };
    eprintln!("run {}{reason}", status_name(run.status));
    let steps = run.settings.as_ref().and_then(|s| s.steps).unwrap_or(0);
    eprintln!(
        "nodes: {} of {steps} steps, {} reviewed · best {} · ${:.2}",
        run.nodes,
        run.reviewed,
        best_text(run),
        run.cost_usd
    );
    eprintln!("outputs: aide export {} --format all --out <dir>", run.id);
    match status {
        v1::RunStatus::Completed => EXIT_COMPLETED,
        v1::RunStatus::Cancelled => EXIT_INTERRUPTED,
        _ => EXIT_FAILED,
    }
}

fn is_terminal(status: i32) -> bool {
    matches!(
        v1::RunStatus::try_from(status),
        Ok(v1::RunStatus::Completed | v1::RunStatus::Failed | v1::RunStatus::Cancelled)
    )
}

fn request(run_id: &str) -> v1::GetRunRequest {
    v1::GetRunRequest {
        run_id: run_id.to_owned(),
    }
}

/// One run, NOT_FOUND as "no run <id>".
pub async fn get(client: &mut Client, run_id: &str) -> Result<v1::Run, CliError> {
    client
        .get_run(request(run_id))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| remote(s, Some(run_id)))
}
