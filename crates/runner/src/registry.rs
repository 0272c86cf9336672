//! Registration with the coordinator and the heartbeat loop: free slots, running executions
//! and host load every interval; re-registers on NOT_FOUND, reconnects with backoff, and
//! cancels the executions the coordinator asks to stop.

use std::{collections::HashMap, time::Duration};

use aide_proto::v1::{
    ExecutionRef, RegisterRunnerRequest, RunnerHeartbeatRequest, WorkContext,
    coordinator_client::CoordinatorClient,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{procfs, service::RunnerService};

/// What the runner tells the coordinator about itself.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Coordinator gRPC address, as configured (for the log).
    pub coordinator: String,
    /// How to reach it (TLS with the runner's certificate, or plaintext).
    pub endpoint: tonic::transport::Endpoint,
    /// The process token on every call (a runner inside `aide serve`), or nothing.
    pub bearer: aide_proto::bearer::Bearer,
    /// Runner id.
    pub runner_id: String,
    /// Address the coordinator dials.
    pub address: String,
    /// "docker" or "process".
    pub backend: String,
    /// Free-form labels.
    pub labels: HashMap<String, String>,
}

/// The configured labels and the runner's version (`version`), which operators see beside
/// each runner; a configured `version` label is kept.
fn with_version(labels: &HashMap<String, String>) -> HashMap<String, String> {
    let mut labels = labels.clone();
    labels
        .entry("version".to_owned())
        .or_insert_with(|| env!("CARGO_PKG_VERSION").to_owned());
    labels
}

/// Registers and heartbeats until `shutdown`.
pub async fn heartbeat_loop(
    reg: Registration,
    service: RunnerService,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(500);
    while !shutdown.is_cancelled() {
        match session(&reg, &service, &shutdown).await {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(status) => {
                warn!(error = %status, retry_in = ?backoff, "coordinator unreachable");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// One registration and its heartbeats; Ok when it must register again (NOT_FOUND) or
/// shutdown came, Err when the coordinator failed.
async fn session(
    reg: &Registration,
    service: &RunnerService,
    shutdown: &CancellationToken,
) -> Result<(), tonic::Status> {
    let mut client = reg
        .endpoint
        .connect()
        .await
        .map(|channel| {
            CoordinatorClient::new(aide_proto::bearer::authed(channel, reg.bearer.clone()))
        })
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let interval = client
        .register_runner(RegisterRunnerRequest {
            runner_id: reg.runner_id.clone(),
            address: reg.address.clone(),
            slots: u32::try_from(service.slots()).unwrap_or(u32::MAX),
            backend: reg.backend.clone(),
            labels: with_version(&reg.labels),
        })
        .await?
        .into_inner()
        .heartbeat_interval_secs;
    let interval = Duration::from_secs(u64::from(interval.max(1)));
    info!(coordinator = %reg.coordinator, ?interval, "registered with the coordinator");
    loop {
        let request = RunnerHeartbeatRequest {
            runner_id: reg.runner_id.clone(),
            free_slots: u32::try_from(service.free_slots()).unwrap_or(u32::MAX),
            running: service
                .running()
                .into_iter()
                .map(|(k, grading)| ExecutionRef {
                    work: Some(WorkContext {
                        run_id: k.run_id,
                        node_id: k.node_id,
                        attempt: k.attempt,
                        deadline: None,
                        grading,
                    }),
                })
                .collect(),
            cpu_load: procfs::cpu_load(),
            memory_load: procfs::memory_load(),
            cache_bytes: service.cache_bytes(),
        };
        match client.runner_heartbeat(request).await {
            Ok(resp) => {
                for exec in resp.into_inner().cancel {
                    if let Ok(key) = crate::service::exec_key(exec.work.as_ref()) {
                        let found = service.cancel(&key);
                        info!(key = %key, found, "coordinator cancelled an execution");
                    }
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {
                debug!("coordinator forgot us, registering again");
                return Ok(());
            }
            Err(s) => return Err(s),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
    }
}
