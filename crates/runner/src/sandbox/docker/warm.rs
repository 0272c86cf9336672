//! Warm containers of the Docker backend: per slot, one running container whose main
//! process is the fork server (`bootstrap.py serve-stdio`), kept while the slot's executions
//! share an input and limits, so no container is created per execution.
//!
//! - The container has every limit of a cold one (no network, memory, CPU and pids caps,
//!   read-only root, tmpfs /tmp, no-new-privileges). Its server runs as the container's root
//!   with only CAP_SETUID and CAP_SETGID, so that it can drop each fork to the sandbox user;
//!   the script runs as that user with no capability at all, as in a cold container.
//! - The first execution uploads `solution.py` and an empty `working/` (the sandbox user's)
//!   into the container's `/sandbox` volume; later ones send the code with the request and
//!   the server writes it (read-only, root's). The runner writes a request line to the
//!   server's stdin, and reads
//!   the server's frames from the attach stream: the script's output, then its end. The
//!   collected files are read from the running container. The server kills what the script
//!   left running and empties `working/`, `/tmp` and `/dev/shm` before the next fork.
//! - A time limit, a cancel or the disk quota kills the whole container: the execution ends
//!   as a cold one would, and the slot's next execution starts a new container.

use std::{
    pin::Pin,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use bollard::{
    container::LogOutput,
    query_parameters::{AttachContainerOptions, CreateContainerOptions, StatsOptions},
};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{
    BOOTSTRAP, DockerSandbox, ExecIo, ExecSpec, LABEL_KIND, LABEL_RUNNER, RawOutcome, SandboxInput,
    attempt,
    daemon::{lock, remove_container, remove_volume},
    inputs::Lease,
    stats::{StatsTracker, log_bytes},
};
use crate::{
    Error, Result,
    sandbox::warm::{ForkExit, ForkRequest, Reply, unexpected},
};

/// `aide.kind` of a warm container and its volume.
pub const KIND_WARM: &str = "warm";
/// Longest wait for a new container's server to import its preload list.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// What a warm container was made for: an execution with another key needs another one.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmKey {
    input: Option<String>,
    memory_bytes: u64,
    cpus: f64,
    pids: u32,
    allow_network: bool,
}

impl WarmKey {
    fn of(spec: &ExecSpec) -> Self {
        Self {
            input: spec.input.as_ref().map(|input| match input {
                SandboxInput::Bundle { digest, .. } => format!("bundle:{digest}"),
                SandboxInput::LocalDir(dir) => format!("dir:{}", dir.display()),
            }),
            memory_bytes: spec.limits.memory_bytes,
            cpus: spec.limits.cpus,
            pids: spec.limits.pids,
            allow_network: spec.allow_network,
        }
    }
}

type StatsStream = dyn Stream<
        Item = std::result::Result<bollard::models::ContainerStatsResponse, bollard::errors::Error>,
    > + Send;

type AttachOutput =
    Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

/// One slot's running container and the streams to its server.
pub struct WarmContainer {
    key: WarmKey,
    name: String,
    volume: String,
    /// The volume's `working/` when this host can see it (to watch the disk quota); asked
    /// once, after the first upload made it.
    working_on_host: Option<Option<std::path::PathBuf>>,
    /// Whether `/sandbox` holds `working/` (made by the first execution's upload).
    laid_out: bool,
    /// Keeps the input volume from being reaped while the container mounts it.
    _input: Option<Lease>,
    stdin: Pin<Box<dyn AsyncWrite + Send>>,
    output: AttachOutput,
    frames: Frames,
}

impl std::fmt::Debug for WarmContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarmContainer")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The slots' warm containers.
#[derive(Debug)]
pub struct WarmContainers {
    slots: Vec<tokio::sync::Mutex<Option<WarmContainer>>>,
    preload: String,
    started: AtomicU64,
}

impl WarmContainers {
    /// Room for `slots` containers whose servers import `preload`.
    pub fn new(slots: usize, preload: &[String]) -> Self {
        Self {
            slots: (0..slots).map(|_| tokio::sync::Mutex::new(None)).collect(),
            preload: preload.join(","),
            started: AtomicU64::new(0),
        }
    }

    /// Takes every container out (to remove them).
    pub async fn take_all(&self) -> Vec<WarmContainer> {
        let mut all = Vec::new();
        for slot in &self.slots {
            all.extend(slot.lock().await.take());
        }
        all
    }
}

/// One piece of what a server says.
#[derive(Debug)]
enum Frame {
    Output(Vec<u8>),
    Control(Reply),
}

/// Cuts the server's stdout into frames: a kind byte, a 4-byte big-endian length, the
/// payload.
#[derive(Debug, Default)]
struct Frames {
    pending: Vec<u8>,
}

impl Frames {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    fn next(&mut self) -> Result<Option<Frame>> {
        let Some(header) = self.pending.get(..5) else {
            return Ok(None);
        };
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if self.pending.len() < 5 + length {
            return Ok(None);
        }
        let kind = header[0];
        let payload: Vec<u8> = self.pending.drain(..5 + length).skip(5).collect();
        match kind {
            b'o' => Ok(Some(Frame::Output(payload))),
            b'c' => serde_json::from_slice(&payload)
                .map(|reply| Some(Frame::Control(reply)))
                .map_err(|e| protocol(format!("a reply that is not JSON: {e}"))),
            other => Err(protocol(format!("a frame of unknown kind {other}"))),
        }
    }
}

fn protocol(message: String) -> Error {
    Error::process("talking to a warm container")(std::io::Error::other(message))
}

impl WarmContainer {
    /// The next frame; None once the server's stdout has ended (the container is gone).
    async fn next(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.frames.next()? {
                return Ok(Some(frame));
            }
            match self.output.next().await {
                Some(Ok(LogOutput::StdOut { message })) => self.frames.push(&message),
                Some(Ok(other)) => {
                    let text = log_bytes(other);
                    warn!(container = %self.name, said = %String::from_utf8_lossy(&text).trim_end(), "warm container");
                }
                Some(Err(e)) => return Err(Error::docker("attach", &self.name)(e)),
                None => return Ok(None),
            }
        }
    }

    async fn reply(&mut self) -> Result<Reply> {
        loop {
            match self.next().await? {
                Some(Frame::Control(reply)) => return Ok(reply),
                Some(Frame::Output(text)) => warn!(
                    container = %self.name,
                    said = %String::from_utf8_lossy(&text).trim_end(),
                    "output between two executions"
                ),
                None => return Err(protocol("the container's server has ended".into())),
            }
        }
    }

    async fn send(&mut self, request: &ForkRequest<'_>) -> Result<()> {
        let mut line = serde_json::to_vec(request).map_err(|e| protocol(e.to_string()))?;
        line.push(b'\n');
        let written = async {
            self.stdin.write_all(&line).await?;
            self.stdin.flush().await
        };
        written
            .await
            .map_err(Error::process("writing to a warm container"))
    }
}

/// How an execution in a warm container ended.
enum Ending {
    /// The server reported the script's end; the container lives on.
    Ended(ForkExit),
    /// The container stopped (killed by the runner, or its server died).
    Stopped,
}

impl DockerSandbox {
    /// Runs `spec` in its slot's warm container (starting one when the slot has none for
    /// this input and these limits).
    pub(super) async fn run_warm(
        &self,
        spec: &ExecSpec,
        io: &mut ExecIo,
        cancel: &CancellationToken,
    ) -> Result<RawOutcome> {
        let (warm, Some((uid, _))) = (self.warm.as_ref().expect("checked"), self.owner()) else {
            return Err(Error::Config("warm containers need a numeric user".into()));
        };
        let cell = warm
            .slots
            .get(spec.slot)
            .ok_or_else(|| Error::Config(format!("no warm container for slot {}", spec.slot)))?;
        let mut slot = cell.lock().await;
        let key = WarmKey::of(spec);
        let mut container = match slot.take() {
            Some(c) if c.key == key => c,
            other => {
                if let Some(old) = other {
                    self.discard(old).await;
                }
                self.start_warm(spec, key, warm).await?
            }
        };
        match self
            .execute_warm(&mut container, spec, uid, io, cancel)
            .await
        {
            Ok((out, Ending::Ended(_))) => {
                *slot = Some(container);
                Ok(out)
            }
            Ok((out, Ending::Stopped)) => {
                self.discard(container).await;
                Ok(out)
            }
            Err(e) => {
                self.discard(container).await;
                Err(e)
            }
        }
    }

    /// One execution in `container`: upload, fork, relay, collect.
    async fn execute_warm(
        &self,
        container: &mut WarmContainer,
        spec: &ExecSpec,
        uid: u32,
        io: &mut ExecIo,
        cancel: &CancellationToken,
    ) -> Result<(RawOutcome, Ending)> {
        let code = tokio::fs::read_to_string(spec.attempt_dir.join(crate::workspace::SCRIPT))
            .await
            .map_err(Error::Workspace)?;
        let name = container.name.clone();
        // The first execution lays out /sandbox through the archive API (working/ owned by
        // the sandbox user); later ones hand the code to the server with the request, which
        // saves the daemon's extraction (tens of milliseconds).
        let script = if container.laid_out {
            Some(code.as_str())
        } else {
            attempt::upload(&self.docker, &name, code.as_bytes(), self.owner()).await?;
            container.laid_out = true;
            None
        };
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let file_size = clamp(spec.limits.file_size_limit());
        let request = ForkRequest {
            limits: [0, 0, file_size, 0, i64::from(uid)],
            isolate_network: false,
            cwd: std::path::Path::new("/sandbox"),
            env: None,
            script,
        };
        container.send(&request).await?;
        let pid = match container.reply().await? {
            Reply::Forked { pid } => pid,
            other => return Err(unexpected(&other)),
        };
        let start = Instant::now();
        io.started(format!("{name}/{pid}")).await;
        if container.working_on_host.is_none() {
            let seen = attempt::working_on_this_host(&self.docker, &container.volume).await;
            container.working_on_host = Some(seen);
        }
        let mut watchdog = container.working_on_host.clone().flatten().map(|working| {
            crate::quota::Watchdog::start(working, spec.limits.disk_bytes, super::QUOTA_CHECK_EVERY)
        });
        // Opened only once the script has run a sample interval: most scripts of a search
        // end sooner, and the stream costs a daemon call.
        let open_stats_at = tokio::time::Instant::now() + self.sample_every;
        let mut stats: Option<Pin<Box<StatsStream>>> = None;
        let mut stats_open = true;
        let mut usage = StatsTracker::default();
        let mut last_sample = Instant::now();
        let deadline = spec.limits.deadline();
        let mut out = RawOutcome::default();
        let ending = loop {
            tokio::select! {
                frame = container.next() => match frame? {
                    Some(Frame::Output(text)) => io.output(&text).await,
                    Some(Frame::Control(reply)) => match reply.exit() {
                        Some(exit) => break Ending::Ended(exit),
                        None => return Err(unexpected(&reply)),
                    },
                    None => break Ending::Stopped,
                },
                _ = tokio::time::sleep_until(open_stats_at), if stats.is_none() && stats_open => {
                    let opts = StatsOptions { stream: true, one_shot: false };
                    stats = Some(Box::pin(self.docker.stats(&name, Some(opts))));
                }
                item = async { stats.as_mut().expect("guarded").next().await },
                    if stats.is_some() && stats_open => match item {
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
                    info!(container = %name, "time limit reached, killing the warm container");
                    self.kill(&name).await;
                }
                _ = cancel.cancelled(), if !out.cancelled && !out.timed_out => {
                    out.cancelled = true;
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
        drop(stats);
        match ending {
            Ending::Ended(exit) => {
                out.exit_code = exit.code;
                out.cpu = exit.cpu;
                out.peak_memory = exit.peak_memory;
                // Inside the container only the kernel's OOM killer sends SIGKILL to a
                // script that the runner did not stop.
                out.oom_killed = exit.code.is_none() && !out.timed_out && !out.cancelled;
            }
            Ending::Stopped => {
                let inspect = self.docker.inspect_container(&name, None);
                let state = self.docker.op("inspect", &name, inspect).await?.state;
                out.oom_killed = state.and_then(|s| s.oom_killed).unwrap_or(false);
                out.cpu = usage.cpu;
                out.peak_memory = usage.peak;
            }
        }
        out.files = Some(attempt::collect_out(&self.docker, &name, &spec.collect).await?);
        Ok((out, ending))
    }

    /// Creates, starts and waits for a warm container for `spec`'s slot, input and limits.
    async fn start_warm(
        &self,
        spec: &ExecSpec,
        key: WarmKey,
        warm: &WarmContainers,
    ) -> Result<WarmContainer> {
        let started = Instant::now();
        let n = warm.started.fetch_add(1, Ordering::Relaxed);
        let name = crate::workspace::sanitize(
            &format!("aide-warm-{}-{}-{n}", self.runner_id, spec.slot),
            200,
        );
        remove_container(&self.docker, &name).await?;
        let volume = attempt::create_volume(&self.docker, &self.runner_id, &name).await?;
        lock(&self.live).insert(name.clone());
        let input = match &spec.input {
            Some(SandboxInput::Bundle { digest, dir }) => {
                Some(self.inputs.acquire(digest, dir).await?)
            }
            _ => None,
        };
        let mut body = self.body(spec, &volume, input.as_ref());
        body.cmd = Some(
            [
                "python3",
                "-u",
                "-s",
                "-c",
                BOOTSTRAP,
                "serve-stdio",
                &warm.preload,
            ]
            .map(String::from)
            .to_vec(),
        );
        body.user = Some("0:0".into());
        body.open_stdin = Some(true);
        body.attach_stdin = Some(true);
        body.stdin_once = Some(false);
        body.labels = Some(
            [
                (LABEL_RUNNER.to_string(), self.runner_id.clone()),
                (LABEL_KIND.to_string(), KIND_WARM.to_string()),
            ]
            .into(),
        );
        if let Some(host) = body.host_config.as_mut() {
            host.cap_add = Some(vec!["SETUID".into(), "SETGID".into()]);
        }
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let create = self.docker.create_container(Some(opts), body);
        self.docker.op("create", &name, create).await?;
        if let Some(lease) = &input {
            lease.verify_mounted().await?;
        }
        let attach = AttachContainerOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
            logs: true,
            ..Default::default()
        };
        let attach = self.docker.attach_container(&name, Some(attach));
        let attached = self.docker.op("attach", &name, attach).await?;
        self.docker
            .op("start", &name, self.docker.start_container(&name, None))
            .await?;
        let mut container = WarmContainer {
            key,
            name,
            volume,
            working_on_host: None,
            laid_out: false,
            _input: input,
            stdin: attached.input,
            output: attached.output,
            frames: Frames::default(),
        };
        match tokio::time::timeout(READY_TIMEOUT, container.reply()).await {
            Ok(Ok(Reply::Ready { missing })) => {
                if !missing.is_empty() {
                    warn!(?missing, "preloaded modules that did not import");
                }
            }
            Ok(Ok(other)) => {
                let e = unexpected(&other);
                self.discard(container).await;
                return Err(e);
            }
            Ok(Err(e)) => {
                self.discard(container).await;
                return Err(e);
            }
            Err(_) => {
                let name = container.name.clone();
                self.discard(container).await;
                return Err(Error::DockerTimeout {
                    op: "warm start",
                    container: name,
                });
            }
        }
        info!(
            container = %container.name,
            ms = started.elapsed().as_millis() as u64,
            "warm container ready"
        );
        Ok(container)
    }

    /// Removes a warm container and its volume.
    pub(super) async fn discard(&self, container: WarmContainer) {
        let WarmContainer { name, volume, .. } = container;
        if let Err(e) = remove_container(&self.docker, &name).await {
            warn!(container = %name, error = %e, "could not remove a warm container");
        }
        if let Err(e) = remove_volume(&self.docker, &volume).await {
            warn!(volume = %volume, error = %e, "could not remove a warm container's volume");
        }
        lock(&self.live).remove(&name);
    }
}
