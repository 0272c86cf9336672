//! Daemon calls shared by the Docker backend: the client ([`Daemon`]) whose calls run under a
//! timeout and are timed into the runner's metrics, idempotent removal of containers and
//! volumes, and the drop guard that removes an attempt's container and volume on any early
//! return.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use bollard::{
    Docker,
    models::DeviceRequest,
    query_parameters::{RemoveContainerOptions, RemoveVolumeOptions},
};
use tracing::warn;

use aide_telemetry::Metrics;

use crate::metrics::DOCKER_CALL_SECONDS;
use crate::{Error, Result};

/// The daemon client, whose named calls ([`Daemon::op`]) are timed into `metrics`.
#[derive(Debug, Clone)]
pub struct Daemon {
    client: Docker,
    metrics: Arc<Metrics>,
}

impl Daemon {
    pub fn new(client: Docker, metrics: Arc<Metrics>) -> Self {
        Self { client, metrics }
    }

    /// Runs one daemon call under `OP_TIMEOUT`, naming the operation in its error and
    /// timing it (labelled by `op`, a fixed name) into the runner's metrics.
    pub async fn op<T>(
        &self,
        op: &'static str,
        name: &str,
        call: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(OP_TIMEOUT, call).await {
            Ok(r) => r.map_err(Error::docker(op, name)),
            Err(_) => Err(Error::DockerTimeout {
                op,
                container: name.to_string(),
            }),
        };
        let seconds = started.elapsed().as_secs_f64();
        self.metrics
            .observe(&DOCKER_CALL_SECONDS, &[("call", op)], seconds);
        result
    }
}

impl std::ops::Deref for Daemon {
    type Target = Docker;

    fn deref(&self) -> &Docker {
        &self.client
    }
}

/// Longest a single daemon call may take; past it the execution fails as a sandbox error
/// (the caller retries elsewhere) instead of holding its slot forever.
pub const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Locks a std mutex, ignoring poisoning (the guarded data stays consistent).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes container `name` (and its anonymous volumes); gone already is fine.
pub async fn remove_container(docker: &Daemon, name: &str) -> Result<()> {
    let opts = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    match docker
        .op("remove", name, docker.remove_container(name, Some(opts)))
        .await
    {
        Err(Error::Docker {
            source: bollard::errors::Error::DockerResponseServerError { status_code, .. },
            ..
        }) if status_code == 404 || status_code == 409 => Ok(()), // gone, or being removed
        other => other,
    }
}

/// Removes volume `name`; gone already is fine, in use is an error.
pub async fn remove_volume(docker: &Daemon, name: &str) -> Result<()> {
    let removal = docker.remove_volume(name, None::<RemoveVolumeOptions>);
    match docker.op("remove volume", name, removal).await {
        Err(Error::Docker {
            source:
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                },
            ..
        }) => Ok(()),
        other => other,
    }
}

/// Removes the container, then the attempt volume, when dropped unless disarmed: early
/// returns, errors and a dropped execution future never leave either behind.
pub struct RemoveGuard {
    pub docker: Daemon,
    pub name: Option<String>,
    pub volume: Option<String>,
    pub live: Arc<Mutex<HashSet<String>>>,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let volume = self.volume.take();
        let live = self.live.clone();
        let docker = self.docker.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = remove_container(&docker, &name).await {
                    warn!(error = %e, "removing container after an aborted execution");
                }
                if let Some(v) = volume
                    && let Err(e) = remove_volume(&docker, &v).await
                {
                    warn!(error = %e, "removing the attempt volume after an aborted execution");
                }
                lock(&live).remove(&name);
            });
        }
    }
}

/// `Ok` when the daemon has the OCI runtime `wanted` (e.g. gVisor's `runsc`).
pub async fn check_runtime(docker: &Daemon, wanted: &str) -> Result<()> {
    let info = docker.op("info", "-", docker.info()).await?;
    let runtimes = info.runtimes.unwrap_or_default();
    if runtimes.contains_key(wanted) {
        return Ok(());
    }
    let mut known: Vec<&str> = runtimes.keys().map(String::as_str).collect();
    known.sort_unstable();
    Err(Error::RuntimeMissing {
        wanted: wanted.to_owned(),
        known: known.join(", "),
    })
}

/// The device request for `gpus`: "all" or a comma list of ids.
pub fn gpu_request(gpus: &str) -> Vec<DeviceRequest> {
    let caps = Some(vec![vec!["gpu".to_string()]]);
    let req = if gpus == "all" {
        DeviceRequest {
            count: Some(-1),
            capabilities: caps,
            ..Default::default()
        }
    } else {
        DeviceRequest {
            device_ids: Some(gpus.split(',').map(|s| s.trim().to_string()).collect()),
            capabilities: caps,
            ..Default::default()
        }
    };
    vec![req]
}
