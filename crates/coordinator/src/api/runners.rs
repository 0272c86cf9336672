//! RegisterRunner and RunnerHeartbeat: runners announce themselves and report their load;
//! each heartbeat's reply lists the executions the runner should stop because their run is
//! over or their attempt was superseded. A runner of the process backend (scripts as local
//! processes, no container) is refused unless the deployment allows it explicitly.

use std::collections::HashMap;

use aide_core::RunId;
use aide_proto::v1;
use aide_store::{ExecutionStatus, RunnerInfo, RunnerLoad, Store};
use tonic::Status;

use super::{ApiConfig, parse_node_id, parse_run_id, store_status};

pub(super) async fn register<S: Store>(
    store: &S,
    config: &ApiConfig,
    request: v1::RegisterRunnerRequest,
) -> Result<v1::RegisterRunnerResponse, Status> {
    let id = required("runner_id", &request.runner_id)?;
    let address = required("address", &request.address)?;
    if request.slots == 0 {
        return Err(Status::invalid_argument("slots: must be at least 1"));
    }
    if request.backend.trim() == "process" && !config.allow_process_runners {
        return Err(Status::failed_precondition(
            "this coordinator takes no process-backend runners (scripts would run as plain \
             processes on the runner's host); use --backend docker, or start the coordinator \
             with --allow-process-runners on machines you trust",
        ));
    }
    let mut labels: serde_json::Map<String, serde_json::Value> = request
        .labels
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    if !request.backend.trim().is_empty() {
        labels.insert(
            "backend".into(),
            serde_json::Value::String(request.backend.trim().to_owned()),
        );
    }
    store
        .register_runner(RunnerInfo {
            id: id.clone(),
            address: address.clone(),
            slots: request.slots,
            labels: serde_json::Value::Object(labels),
        })
        .await
        .map_err(store_status)?;
    tracing::info!(runner_id = %id, %address, slots = request.slots, "runner registered");
    Ok(v1::RegisterRunnerResponse {
        heartbeat_interval_secs: u32::try_from(config.heartbeat_interval.as_secs().max(1))
            .unwrap_or(u32::MAX),
    })
}

fn required(field: &str, value: &str) -> Result<String, Status> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    Ok(value.to_owned())
}

/// Records the load (`NOT_FOUND` tells the runner to register again) and answers with the
/// executions to stop.
pub(super) async fn heartbeat<S: Store>(
    store: &S,
    request: v1::RunnerHeartbeatRequest,
) -> Result<v1::RunnerHeartbeatResponse, Status> {
    let runner_id = required("runner_id", &request.runner_id)?;
    let load = RunnerLoad {
        free_slots: request.free_slots,
        running: u32::try_from(request.running.len()).unwrap_or(u32::MAX),
        cpu_load: fraction(request.cpu_load),
        memory_load: fraction(request.memory_load),
        cache_bytes: request.cache_bytes,
    };
    store
        .heartbeat_runner(&runner_id, load)
        .await
        .map_err(store_status)?;
    let mut cancel = Vec::new();
    let mut terminal_runs: HashMap<RunId, bool> = HashMap::new();
    for execution in request.running {
        match should_stop(store, &execution, &mut terminal_runs).await {
            Ok(true) => cancel.push(execution),
            Ok(false) => {}
            Err(why) => {
                tracing::warn!(runner_id = %runner_id, error = %why, "cannot judge a running execution");
            }
        }
    }
    if !cancel.is_empty() {
        tracing::info!(runner_id = %runner_id, count = cancel.len(), "asking a runner to stop executions");
    }
    Ok(v1::RunnerHeartbeatResponse { cancel })
}

/// A load fraction clamped to 0..1 (0 for a value that is not a number).
fn fraction(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, 1.0)
    }
}

/// True when the execution's run is over or gone, or its attempt is no longer the latest
/// running one. A grading command's execution (of a run that ended, as every graded run
/// has) is never stopped here: it ends at its own time limit. A malformed reference is an
/// error (logged, not stopped: it is not ours to judge). `terminal_runs` caches run states
/// within one heartbeat.
async fn should_stop<S: Store>(
    store: &S,
    execution: &v1::ExecutionRef,
    terminal_runs: &mut HashMap<RunId, bool>,
) -> Result<bool, String> {
    let work = execution
        .work
        .as_ref()
        .ok_or("an execution without its work context")?;
    if work.grading.is_some() {
        return Ok(false);
    }
    let run_id = parse_run_id(&work.run_id).map_err(|s| s.message().to_owned())?;
    let node_id = parse_node_id(&work.node_id, "node_id").map_err(|s| s.message().to_owned())?;
    let terminal = match terminal_runs.get(&run_id) {
        Some(terminal) => *terminal,
        None => {
            let terminal = match store.get_run(run_id).await {
                Ok(run) => run.status.is_terminal(),
                // A run this store never had (or deleted) has nobody waiting for its result.
                Err(aide_store::Error::NotFound { .. }) => true,
                Err(e) => return Err(e.to_string()),
            };
            terminal_runs.insert(run_id, terminal);
            terminal
        }
    };
    if terminal {
        return Ok(true);
    }
    let attempts = match store.list_executions(node_id).await {
        Ok(attempts) => attempts,
        Err(e) => return Err(e.to_string()),
    };
    let Some(latest) = attempts.last() else {
        // The node is unknown or has no attempt yet: nothing can be superseded.
        return Ok(false);
    };
    if latest.attempt != work.attempt {
        return Ok(true);
    }
    Ok(latest.status != ExecutionStatus::Running)
}
