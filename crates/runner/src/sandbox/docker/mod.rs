//! The Docker backend: one container per execution attempt, named `aide-<run>-<node>-<attempt>`
//! and labelled with the runner id, created with every limit of the sandbox (no network, no
//! swap, CPU and pids caps, read-only root with a tmpfs /tmp, uid 10001, no capabilities,
//! no-new-privileges), streamed through attach, stopped at the time limit, and always removed
//! (explicitly, and by a drop guard on any early return). A sweep removes this runner's
//! labelled leftovers at start and periodically.
//!
//! No path of the runner's filesystem is bind-mounted for a bundle input, so the runner may
//! live in a container, under Docker-in-Docker, or talk to a daemon on another machine
//! (`DOCKER_HOST`): every file crosses the daemon's API as a tar.
//! - `/sandbox` is a per-attempt named volume (`<container>-work`, mounted `nocopy`, so its
//!   root is root-owned 0755 and the script cannot add files beside its code). Before the
//!   start, `solution.py` (root, 0444) and an empty `working/` (the sandbox user, 0755) are
//!   uploaded into it ([`attempt`]).
//! - A bundle input is a read-only volume at `/sandbox/input`, filled once per digest
//!   ([`inputs`]).
//! - A `LocalDir` input (only the embedded `aide run`, whose daemon is on the same host by
//!   construction) stays a read-only bind mount: copying a 10 GB dataset for a laptop run
//!   would cost minutes and the disk space twice, for no isolation gained.
//! - After the script ends, the submission and collect-glob matches are downloaded from the
//!   stopped container, then the container and the attempt volume are removed.
//!
//! What this relies on, checked against Docker 20.10 (API 1.41): the archive API extracts
//! into a volume of a created, never-started container even when its root filesystem is
//! read-only (a path on the read-only root itself is refused: "container rootfs is marked
//! read-only"); extracted entries get the owner and mode written in the tar header; the
//! archive of a stopped container's volume can be read; a named volume mounted `nocopy` starts
//! as an empty root-owned 0755 directory. Write limits: the bootstrap's RLIMIT_FSIZE caps
//! each file (`max_write_bytes`, at most the disk quota), `/tmp` is a tmpfs of `tmpfs_size`,
//! and the attempt volume has no size of its own: when the runner can see the daemon's
//! volume directory it measures `working/` every second and kills the container once it is
//! over the quota (an overshoot of at most what the script writes in that second).

mod archive;
mod attempt;
mod daemon;
pub mod inputs;
mod janitor;
mod stats;
pub mod warm;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aide_telemetry::Metrics;
use bollard::{
    Docker,
    models::{ContainerCreateBody, HostConfig, Mount, MountBindOptions, MountType},
    query_parameters::{
        AttachContainerOptions, CreateContainerOptions, KillContainerOptions, StatsOptions,
        StopContainerOptions,
    },
};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::{
    daemon::{Daemon, RemoveGuard, lock, remove_container, remove_volume},
    inputs::{InputVolumes, Lease},
    stats::{StatsTracker, log_bytes},
};
use super::{BOOTSTRAP, ExecIo, ExecKey, ExecSpec, RawOutcome, Sandbox, SandboxInput};
use crate::{Config, Error, Result, config::DockerConfig, workspace::sanitize};

/// Label naming the runner that owns a container or volume.
pub const LABEL_RUNNER: &str = "aide.runner";
/// Label telling what a volume or helper container is for (attempt, input, ...).
pub const LABEL_KIND: &str = "aide.kind";
/// Where the task input appears in the container.
const INPUT: &str = "/sandbox/input";
/// How often an attempt volume's size is checked against the disk quota.
const QUOTA_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The Docker backend.
#[derive(Debug, Clone)]
pub struct DockerSandbox {
    docker: Daemon,
    runner_id: String,
    config: DockerConfig,
    grace: Duration,
    sample_every: Duration,
    /// Containers of executions in progress; the sweep leaves them alone.
    live: Arc<Mutex<HashSet<String>>>,
    inputs: InputVolumes,
    /// The slots' warm containers, unless warm starts are off.
    warm: Option<Arc<warm::WarmContainers>>,
}

impl DockerSandbox {
    /// Connects to the daemon (`DOCKER_HOST`, or the local socket; negotiating the API
    /// version) and checks the image.
    /// Its daemon calls are timed into `metrics`.
    pub async fn connect(config: &Config, runner_id: &str, metrics: Arc<Metrics>) -> Result<Self> {
        let client = Docker::connect_with_defaults()
            .map_err(Error::docker("connect", "-"))?
            .negotiate_version()
            .await
            .map_err(Error::docker("version", "-"))?;
        let docker = Daemon::new(client, metrics);
        if docker.inspect_image(&config.docker.image).await.is_err() {
            return Err(Error::ImageMissing(config.docker.image.clone()));
        }
        if let Some(runtime) = &config.docker.runtime {
            daemon::check_runtime(&docker, runtime).await?;
        }
        let live: Arc<Mutex<HashSet<String>>> = Arc::default();
        Ok(Self {
            inputs: InputVolumes::new(
                docker.clone(),
                runner_id,
                &config.docker.image,
                live.clone(),
            ),
            docker,
            runner_id: runner_id.to_string(),
            config: config.docker.clone(),
            grace: config.grace(),
            sample_every: Duration::from_millis(config.sample_ms.max(50)),
            live,
            warm: config
                .warm
                .then(|| Arc::new(warm::WarmContainers::new(config.slots, &config.preload))),
        })
    }

    /// The daemon client (tests use it to look for leftovers).
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// The sandbox user as numeric (uid, gid), when it is numeric.
    fn owner(&self) -> Option<(u32, u32)> {
        let mut parts = self.config.user.split(':');
        let uid = parts.next()?.parse().ok()?;
        let gid = parts.next().map_or(Some(uid), |g| g.parse().ok())?;
        Some((uid, gid))
    }

    /// Kills a container whose `working/` passed its disk quota of `disk_bytes`, and says so
    /// in the script's output.
    async fn stop_over_quota(&self, name: &str, io: &mut ExecIo, disk_bytes: u64) {
        info!(container = %name, "working/ passed its disk quota, killing");
        self.kill(name).await;
        io.output(crate::quota::note(disk_bytes).as_bytes()).await;
    }

    /// SIGKILLs the container (it may have exited already).
    async fn kill(&self, name: &str) {
        let opts = KillContainerOptions {
            signal: "SIGKILL".into(),
        };
        if let Err(e) = self.docker.kill_container(name, Some(opts)).await {
            debug!(error = %e, "docker kill (container may have exited)");
        }
    }

    fn body(&self, spec: &ExecSpec, volume: &str, input: Option<&Lease>) -> ContainerCreateBody {
        let l = &spec.limits;
        let mut mounts = vec![inputs::volume_mount(volume, "/sandbox", false)];
        match (&spec.input, input) {
            (Some(SandboxInput::Bundle { .. }), Some(lease)) => {
                mounts.push(inputs::volume_mount(&lease.volume, INPUT, true));
            }
            (Some(SandboxInput::LocalDir(dir)), _) => mounts.push(Mount {
                target: Some(INPUT.into()),
                source: Some(dir.to_string_lossy().into_owned()),
                typ: Some(MountType::BIND),
                read_only: Some(true),
                // A recursive bind would carry file systems mounted under the directory
                // along, writable (the read-only flag covers only the top one before API
                // 1.44): leave them out, so the input is read-only all the way down.
                bind_options: Some(MountBindOptions {
                    non_recursive: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            _ => {}
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
            mounts: Some(mounts),
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
            device_requests: self.config.gpus.as_deref().map(daemon::gpu_request),
            runtime: self.config.runtime.clone(),
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
                    "run",
                    "0",
                    "0",
                    &l.file_size_limit().to_string(),
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

    /// Creates the attempt's volume and container and fills `/sandbox`; the container is
    /// ready to start.
    async fn prepare(&self, spec: &ExecSpec, name: &str, input: Option<&Lease>) -> Result<()> {
        let code = tokio::fs::read(spec.attempt_dir.join(crate::workspace::SCRIPT))
            .await
            .map_err(Error::Workspace)?;
        let volume = attempt::create_volume(&self.docker, &self.runner_id, name).await?;
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let create = self
            .docker
            .create_container(Some(opts), self.body(spec, &volume, input));
        self.docker.op("create", name, create).await?;
        if let Some(lease) = input {
            lease.verify_mounted().await?;
        }
        attempt::upload(&self.docker, name, &code, self.owner()).await
    }
}

/// The container name of an attempt: `aide-<run>-<node>-<attempt>`, sanitised.
pub fn container_name(key: &ExecKey) -> String {
    sanitize(
        &format!("aide-{}-{}-{}", key.run_id, key.node_id, key.attempt),
        200,
    )
}

/// The attempt volume of an execution's container.
pub fn attempt_volume(container: &str) -> String {
    attempt::volume_name(container)
}

#[tonic::async_trait]
impl Sandbox for DockerSandbox {
    fn backend(&self) -> &'static str {
        "docker"
    }

    fn sandbox_uid(&self, _slot: usize) -> Option<u32> {
        self.owner().map(|(uid, _)| uid)
    }

    /// One container's whole life: fill, create, start, stream, wait (timeout → stop →
    /// kill), collect, remove. Long on purpose: every path out of it must remove the
    /// container and its volume, and that guarantee is easiest to check when the lifecycle
    /// is read in one place.
    #[tracing::instrument(name = "docker_run", skip_all, fields(key = %spec.key))]
    async fn run(
        &self,
        spec: &ExecSpec,
        io: &mut ExecIo,
        cancel: &CancellationToken,
    ) -> Result<RawOutcome> {
        if spec.warm && self.warm.is_some() && self.owner().is_some() {
            return self.run_warm(spec, io, cancel).await;
        }
        let name = container_name(&spec.key);
        let volume = attempt::volume_name(&name);
        // A leftover of a crashed earlier try of the same attempt would block the names.
        remove_container(&self.docker, &name).await?;
        remove_volume(&self.docker, &volume).await?;
        lock(&self.live).insert(name.clone());
        let mut guard = RemoveGuard {
            docker: self.docker.clone(),
            name: Some(name.clone()),
            volume: Some(volume.clone()),
            live: self.live.clone(),
        };
        let input = match &spec.input {
            Some(SandboxInput::Bundle { digest, dir }) => {
                Some(self.inputs.acquire(digest, dir).await?)
            }
            _ => None,
        };
        self.prepare(spec, &name, input.as_ref()).await?;
        let mut watchdog = attempt::working_on_this_host(&self.docker, &volume)
            .await
            .map(|working| {
                crate::quota::Watchdog::start(working, spec.limits.disk_bytes, QUOTA_CHECK_EVERY)
            });
        let attach = AttachContainerOptions {
            stream: true,
            stdout: true,
            stderr: true,
            logs: true,
            ..Default::default()
        };
        let attach = self.docker.attach_container(&name, Some(attach));
        let mut output = self.docker.op("attach", &name, attach).await?.output;
        self.docker
            .op("start", &name, self.docker.start_container(&name, None))
            .await?;
        let start = Instant::now();
        io.started(name.clone()).await;

        let mut wait = Box::pin(self.docker.wait_container(&name, None));
        let stats_opts = StatsOptions {
            stream: true,
            one_shot: false,
        };
        let mut stats = Box::pin(self.docker.stats(&name, Some(stats_opts)));
        let deadline = spec.limits.deadline();
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
                    self.kill(&name).await;
                }
                () = async { watchdog.as_mut().expect("guarded").over().await },
                    if watchdog.is_some() && !out.disk_quota_exceeded =>
                {
                    out.disk_quota_exceeded = true;
                    self.stop_over_quota(&name, io, spec.limits.disk_bytes).await;
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
        let state = self
            .docker
            .op("inspect", &name, inspect)
            .await?
            .state
            .unwrap_or_default();
        out.oom_killed = state.oom_killed.unwrap_or(false);
        let code = state.exit_code.unwrap_or(-1);
        let killed = out.timed_out || out.cancelled || out.oom_killed || out.disk_quota_exceeded;
        out.exit_code = if killed && code > 128 {
            None
        } else {
            i32::try_from(code).ok()
        };
        out.cpu = usage.cpu;
        out.peak_memory = usage.peak;
        drop(stats);
        drop(output);
        out.files = Some(attempt::collect_out(&self.docker, &name, &spec.collect).await?);
        remove_container(&self.docker, &name).await?;
        remove_volume(&self.docker, &volume).await?;
        (guard.name, guard.volume) = (None, None);
        lock(&self.live).remove(&name);
        Ok(out)
    }

    async fn shutdown(&self) {
        if let Some(warm) = &self.warm {
            for container in warm.take_all().await {
                self.discard(container).await;
            }
        }
    }

    async fn sweep(&self) -> Result<usize> {
        let removed = janitor::sweep(&self.docker, &self.runner_id, &self.live).await?;
        let idle = Duration::from_secs(self.config.input_idle_secs);
        let inputs = self
            .inputs
            .reap(idle, self.config.input_volumes_max)
            .await?;
        Ok(removed + inputs)
    }
}
