//! The Docker backend: one container per execution attempt, named `aide-<run>-<node>-<attempt>`
//! and labelled with the runner id, created with every limit of the sandbox (no network, no
//! swap, CPU and pids caps, read-only root with a tmpfs /tmp, uid 10001, no capabilities,
//! no-new-privileges), streamed through attach, stopped at the time limit, and always removed
//! (explicitly, and by a drop guard on any early return). A sweep removes this runner's
//! labelled leftovers at start and periodically.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bollard::{
    Docker,
    container::LogOutput,
    models::{ContainerCreateBody, ContainerStatsResponse, DeviceRequest, HostConfig},
    query_parameters::{
        AttachContainerOptions, CreateContainerOptions, KillContainerOptions,
        ListContainersOptions, RemoveContainerOptions, StatsOptions, StopContainerOptions,
    },
};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{BOOTSTRAP, ExecIo, ExecKey, ExecSpec, RawOutcome, Sandbox};
use crate::{Config, Error, Result, config::DockerConfig, workspace::sanitize};

/// Label naming the runner that owns a container.
pub const LABEL_RUNNER: &str = "aide.runner";

/// The Docker backend.
#[derive(Debug, Clone)]
pub struct DockerSandbox {
    docker: Docker,
    runner_id: String,
    config: DockerConfig,
    grace: Duration,
    sample_every: Duration,
    /// Containers of executions in progress; the sweep leaves them alone.
    live: Arc<Mutex<HashSet<String>>>,
}

impl DockerSandbox {
    /// Connects to the local daemon (negotiating the API version) and checks the image.
    pub async fn connect(config: &Config, runner_id: &str) -> Result<Self> {
        let docker = Docker::connect_with_local_defaults()
            .map_err(Error::docker("connect", "-"))?
            .negotiate_version()
            .await
            .map_err(Error::docker("version", "-"))?;
        if docker.inspect_image(&config.docker.image).await.is_err() {
            return Err(Error::ImageMissing(config.docker.image.clone()));
        }
        Ok(Self {
            docker,
            runner_id: runner_id.to_string(),
            config: config.docker.clone(),
            grace: config.grace(),
            sample_every: Duration::from_millis(config.sample_ms.max(50)),
            live: Arc::default(),
        })
    }

    /// The daemon client (tests use it to look for leftovers).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    fn body(&self, spec: &ExecSpec) -> ContainerCreateBody {
        let l = &spec.limits;
        let dir = spec.attempt_dir.display();
        let mut binds = vec![
            format!("{dir}/working:/sandbox/working:rw"),
            format!("{dir}/solution.py:/sandbox/solution.py:ro"),
        ];
        if let Some(input) = &spec.input_dir {
            binds.push(format!("{}:/sandbox/input:ro", input.display()));
        }
        let threads = (l.cpus.ceil() as u64).max(1);
        let env = [
            "HOME=/sandbox/working".to_string(),
            "LANG=C.UTF-8".into(),
            "LC_ALL=C.UTF-8".into(),
            "PYTHONUNBUFFERED=1".into(),
            "PYTHONDONTWRITEBYTECODE=1".into(),
            "MPLBACKEND=Agg".into(),
            format!("OMP_NUM_THREADS={threads}"),
            format!("OPENBLAS_NUM_THREADS={threads}"),
            format!("MKL_NUM_THREADS={threads}"),
        ];
        let labels = HashMap::from([
            (LABEL_RUNNER.to_string(), self.runner_id.clone()),
            ("aide.run".to_string(), spec.key.run_id.clone()),
            ("aide.node".to_string(), spec.key.node_id.clone()),
            ("aide.attempt".to_string(), spec.key.attempt.to_string()),
        ]);
        let memory = i64::try_from(l.memory_bytes).unwrap_or(i64::MAX);
        let host_config = HostConfig {
            binds: Some(binds),
            nano_cpus: Some((l.cpus * 1e9) as i64),
            memory: Some(memory),
            memory_swap: Some(memory),
            pids_limit: Some(i64::from(l.pids)),
            network_mode: Some(if spec.allow_network { "bridge" } else { "none" }.into()),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_string(),
                format!("rw,nosuid,nodev,size={}", self.config.tmpfs_size),
            )])),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            device_requests: self.config.gpus.as_deref().map(gpu_request),
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(self.config.image.clone()),
            cmd: Some(
                [
                    "python3",
                    "-u",
                    "-s",
                    "-c",
                    BOOTSTRAP,
                    "0",
                    "0",
                    &l.max_write_bytes.to_string(),
                    "0",
                    "-1",
                ]
                .map(String::from)
                .to_vec(),
            ),
            user: Some(self.config.user.clone()),
            working_dir: Some("/sandbox".into()),
            env: Some(env.to_vec()),
            labels: Some(labels),
            hostname: Some("sandbox".into()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            network_disabled: Some(!spec.allow_network),
            host_config: Some(host_config),
            ..Default::default()
        }
    }

    async fn remove(&self, name: &str) -> Result<()> {
        remove(&self.docker, name).await
    }
}

/// Longest a single daemon call may take; past it the execution fails as a sandbox error
/// (the caller retries elsewhere) instead of holding its slot forever.
const OP_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs one daemon call under `OP_TIMEOUT`, naming the operation in its error.
async fn op<T>(
    op: &'static str,
    name: &str,
    call: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T> {
    match tokio::time::timeout(OP_TIMEOUT, call).await {
        Ok(r) => r.map_err(Error::docker(op, name)),
        Err(_) => Err(Error::DockerTimeout {
            op,
            container: name.to_string(),
        }),
    }
}

/// The container name of an attempt: `aide-<run>-<node>-<attempt>`, sanitised.
pub fn container_name(key: &ExecKey) -> String {
    sanitize(
        &format!("aide-{}-{}-{}", key.run_id, key.node_id, key.attempt),
        200,
    )
}

fn gpu_request(gpus: &str) -> Vec<DeviceRequest> {
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

async fn remove(docker: &Docker, name: &str) -> Result<()> {
    let opts = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    let removal = tokio::time::timeout(OP_TIMEOUT, docker.remove_container(name, Some(opts)));
    let Ok(result) = removal.await else {
        return Err(Error::DockerTimeout {
            op: "remove",
            container: name.to_string(),
        });
    };
    match result {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        // Already being removed by another call.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(()),
        Err(e) => Err(Error::docker("remove", name)(e)),
    }
}

/// Removes the container when dropped unless disarmed: early returns, errors and a dropped
/// execution future never leave a container behind.
struct RemoveGuard {
    docker: Docker,
    name: Option<String>,
    live: Arc<Mutex<HashSet<String>>>,
}

impl Drop for RemoveGuard {
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let live = self.live.clone();
        let docker = self.docker.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                if let Err(e) = remove(&docker, &name).await {
                    warn!(error = %e, "removing container after an aborted execution");
                }
                live.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
            });
        }
    }
}

#[tonic::async_trait]
impl Sandbox for DockerSandbox {
    fn backend(&self) -> &'static str {
        "docker"
    }

    fn sandbox_uid(&self, _slot: usize) -> Option<u32> {
        self.config
            .user
            .split(':')
            .next()
            .and_then(|u| u.parse().ok())
    }

    /// One container's whole life: create, start, stream, wait (timeout → stop → kill),
    /// collect, remove. Long on purpose: every path out of it must remove the container,
    /// and that guarantee is easiest to check when the lifecycle is read in one place.
    #[tracing::instrument(name = "docker_run", skip_all, fields(key = %spec.key))]
    async fn run(
        &self,
        spec: &ExecSpec,
        io: &mut ExecIo,
        cancel: &CancellationToken,
    ) -> Result<RawOutcome> {
        let name = container_name(&spec.key);
        // A leftover of a crashed earlier try of the same attempt would block the name.
        self.remove(&name).await?;
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.clone());
        let mut guard = RemoveGuard {
            docker: self.docker.clone(),
            name: Some(name.clone()),
            live: self.live.clone(),
        };
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let create = self.docker.create_container(Some(opts), self.body(spec));
        op("create", &name, create).await?;
        let attach = AttachContainerOptions {
            stream: true,
            stdout: true,
            stderr: true,
            logs: true,
            ..Default::default()
        };
        let attach = self.docker.attach_container(&name, Some(attach));
        let mut output = op("attach", &name, attach).await?.output;
        op("start", &name, self.docker.start_container(&name, None)).await?;
        let start = Instant::now();
        io.started(name.clone()).await;

        let mut wait = Box::pin(self.docker.wait_container(&name, None));
        let stats_opts = StatsOptions {
            stream: true,
            one_shot: false,
        };
        let mut stats = Box::pin(self.docker.stats(&name, Some(stats_opts)));
        let deadline = tokio::time::Instant::now() + spec.limits.timeout;
        let mut out = RawOutcome::default();
        let mut usage = StatsTracker::default();
        let mut last_sample = Instant::now() - self.sample_every;
        let (mut output_open, mut stats_open) = (true, true);
        let waited = loop {
            tokio::select! {
                res = wait.next() => break res,
                item = output.next(), if output_open => match item {
                    Some(Ok(log)) => io.output(&log_bytes(log)).await,
                    _ => output_open = false,
                },
                item = stats.next(), if stats_open => match item {
                    Some(Ok(s)) => {
                        let (cores, mem, pids) = usage.update(&s);
                        if last_sample.elapsed() >= self.sample_every {
                            last_sample = Instant::now();
                            io.sample(start.elapsed(), cores, mem, pids).await;
                        }
                    }
                    _ => stats_open = false,
                },
                _ = tokio::time::sleep_until(deadline), if !out.timed_out && !out.cancelled => {
                    out.timed_out = true;
                    info!(container = %name, "time limit reached, stopping");
                    let docker = self.docker.clone();
                    let (n, t) = (name.clone(), i32::try_from(self.grace.as_secs()).unwrap_or(2));
                    tokio::spawn(async move {
                        let opts = StopContainerOptions { t: Some(t), signal: None };
                        if let Err(e) = docker.stop_container(&n, Some(opts)).await {
                            warn!(error = %e, container = %n, "docker stop failed");
                        }
                    });
                }
                _ = cancel.cancelled(), if !out.cancelled => {
                    out.cancelled = !out.timed_out;
                    let opts = KillContainerOptions { signal: "SIGKILL".into() };
                    if let Err(e) = self.docker.kill_container(&name, Some(opts)).await {
                        debug!(error = %e, "docker kill (container may have exited)");
                    }
                }
            }
        };
        out.wall = start.elapsed();
        match waited {
            Some(Ok(_)) | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. })) => {}
            Some(Err(e)) => return Err(Error::docker("wait", &name)(e)),
            None => {}
        }
        let drain_until = tokio::time::Instant::now() + Duration::from_secs(2);
        while output_open {
            match tokio::time::timeout_at(drain_until, output.next()).await {
                Ok(Some(Ok(log))) => io.output(&log_bytes(log)).await,
                _ => output_open = false,
            }
        }
        let inspect = self.docker.inspect_container(&name, None);
        let state = op("inspect", &name, inspect)
            .await?
            .state
            .unwrap_or_default();
        out.oom_killed = state.oom_killed.unwrap_or(false);
        let code = state.exit_code.unwrap_or(-1);
        let killed = out.timed_out || out.cancelled || out.oom_killed;
        out.exit_code = if killed && code > 128 {
            None
        } else {
            i32::try_from(code).ok()
        };
        out.cpu = usage.cpu;
        out.peak_memory = usage.peak;
        drop(stats);
        drop(output);
        self.remove(&name).await?;
        guard.name = None;
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&name);
        Ok(out)
    }

    async fn sweep(&self) -> Result<usize> {
        let opts = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{LABEL_RUNNER}={}", self.runner_id)],
            )])),
            ..Default::default()
        };
        let found = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(Error::docker("list", "-"))?;
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut removed = 0;
        for c in found {
            let name = c
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string();
            if name.is_empty() || live.contains(&name) {
                continue;
            }
            self.remove(&name).await?;
            removed += 1;
        }
        if removed > 0 {
            info!(removed, "janitor removed leftover containers");
        }
        Ok(removed)
    }
}

fn log_bytes(log: LogOutput) -> Vec<u8> {
    match log {
        LogOutput::StdOut { message }
        | LogOutput::StdErr { message }
        | LogOutput::Console { message }
        | LogOutput::StdIn { message } => message.to_vec(),
    }
}

/// Peak memory and CPU time from the daemon's stats stream (cgroup counters).
#[derive(Debug, Default)]
struct StatsTracker {
    peak: u64,
    cpu: Duration,
    last: Option<(Instant, u64)>,
}

impl StatsTracker {
    /// Returns (cores in use, memory now, pids now).
    fn update(&mut self, s: &ContainerStatsResponse) -> (f64, u64, u32) {
        let mem = s.memory_stats.as_ref();
        let now_mem = mem.and_then(|m| m.usage).unwrap_or(0);
        self.peak = self
            .peak
            .max(mem.and_then(|m| m.max_usage).unwrap_or(0))
            .max(now_mem);
        let total = s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        let now = Instant::now();
        let cores = match self.last {
            Some((t, prev)) if total >= prev => {
                (total - prev) as f64 / 1e9 / (now - t).as_secs_f64().max(1e-3)
            }
            _ => 0.0,
        };
        if total > 0 {
            self.last = Some((now, total));
            self.cpu = Duration::from_nanos(total);
        }
        let pids = s
            .pids_stats
            .as_ref()
            .and_then(|p| p.current)
            .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX));
        (cores, now_mem, pids)
    }
}
