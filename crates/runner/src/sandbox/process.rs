//! The process backend: the script runs on the host in its own process group under rlimits,
//! with a scrubbed environment and, when the runner is root, as a per-slot unprivileged uid
//! inside a fresh network namespace.
//!
//! By default a script is a fork of its slot's warm interpreter (`super::warm`), which has
//! already imported the preload list; the fork applies everything below itself before the
//! script runs. A script with the line `# aide: cold`, or a request asking for a cold start,
//! gets a freshly started interpreter instead.
//!
//! What it guarantees, and what it does not:
//! - Limits come from the Python bootstrap (`bootstrap.py`, safe Rust needs no `pre_exec`):
//!   RLIMIT_AS (memory: a MemoryError or a failed allocation, reported as OOM), RLIMIT_CPU,
//!   RLIMIT_FSIZE and RLIMIT_NPROC. CPU *share* is not limited (no cgroups), only CPU time.
//! - RLIMIT_NPROC counts every process of a uid and does not bind root, so it only contains a
//!   fork bomb when the runner is root and drops the script to its slot's uid
//!   (`uid_base + slot`); as an ordinary user it is applied to that user's whole count.
//! - Timeout and cancel kill the process group; as root every process of the slot uid is
//!   killed too, which also catches processes that escaped the group with setsid().
//! - The environment is rebuilt from nothing; as root the script cannot read the runner's
//!   /proc/<pid>/environ either (different uid). As the same user it could.
//! - Network: as root, `unshare --net` leaves only a downed loopback; otherwise none.
//! - Writes: as root the script's uid owns only `working/` (and may use /tmp); the input is
//!   a symlink and is read-only only through ordinary permissions (a task directory owned by
//!   root, not world-writable). A read-only bind mount needs privileges this backend avoids.
//!   What the slot's uid left at the top of /tmp and /dev/shm is removed after each
//!   execution.
//! - Disk: as root (with loop devices) `working/` is an ext4 file system of exactly the
//!   quota (`crate::quota`), so writes past it fail with ENOSPC. Otherwise RLIMIT_FSIZE caps
//!   each file at the quota and a watchdog measures `working/` every sample interval, killing
//!   the script once it is over or cannot be measured whole (it may overshoot by what it
//!   writes between two measures, and files deleted while still open escape the count);
//!   /tmp is the host's.

use std::{
    io::Read,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill, killpg},
    unistd::Pid,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use wait4::Wait4;

use super::{
    BOOTSTRAP, ExecIo, ExecSpec, RawOutcome, Sandbox, venv,
    warm::{ForkRequest, WarmPool},
};
use crate::{Config, Error, Result, procfs};

/// The process backend.
#[derive(Debug)]
pub struct ProcessSandbox {
    python: PathBuf,
    uid_base: Option<u32>,
    unshare: Option<PathBuf>,
    grace: Duration,
    sample_every: Duration,
    /// Whether attempts get a quota file system for `working/` (root, loop devices).
    quota_mounts: bool,
    /// The slots' warm interpreters, unless warm starts are off.
    warm: Option<Arc<WarmPool>>,
    /// Per slot: its last execution ended with no process of the slot's uid left, checked
    /// in a pass over `/proc`, so the next one need not check again before it starts.
    left_clean: Vec<AtomicBool>,
}

impl ProcessSandbox {
    /// Resolves the interpreter (with `--python auto`, provisions the virtualenv first: this
    /// blocks, for minutes on a host's first start) and decides on privilege drop and network
    /// isolation.
    pub fn new(config: &Config) -> Result<Self> {
        let configured = if config.process.python == crate::config::PYTHON_AUTO {
            let venv = venv::provision(&venv::VenvRequest::from_config(&config.process))?;
            venv.python.to_string_lossy().into_owned()
        } else {
            config.process.python.clone()
        };
        let probe = Command::new(&configured)
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .map_err(Error::process("probing the python interpreter"))?;
        let python = PathBuf::from(String::from_utf8_lossy(&probe.stdout).trim());
        if !probe.status.success() || !python.is_absolute() {
            return Err(Error::Config(format!(
                "{configured} does not run as a python interpreter"
            )));
        }
        let root = nix::unistd::geteuid().is_root();
        let uid_base = root.then_some(config.process.uid_base);
        if let Some(uid) = uid_base {
            let check = format!(
                "import os; os.setgroups([]); os.setgid({uid}); os.setuid({uid}); import json, runpy"
            );
            let ok = Command::new(&python)
                .args(["-c", &check])
                .env_clear()
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(Error::Config(format!(
                    "{} is not usable by the sandbox uid {uid} (is it under a private home?); \
                     point AIDE_RUNNER_PYTHON (or, with auto, AIDE_RUNNER_VENV_BASE_PYTHON and \
                     AIDE_RUNNER_VENV_ROOT) at shared places such as /usr/bin/python3",
                    python.display()
                )));
            }
        }
        if uid_base.is_some() {
            // Orphaned script processes re-parent to the runner, which reaps them at once;
            // otherwise their zombies would count against the next tenant's process limit.
            nix::sys::prctl::set_child_subreaper(true)
                .map_err(|e| Error::process("becoming a subreaper")(e.into()))?;
        }
        let unshare = if root && config.process.unshare_net {
            find_in_path("unshare").filter(|u| {
                Command::new(u)
                    .args(["--net", "true"])
                    .status()
                    .is_ok_and(|s| s.success())
            })
        } else {
            None
        };
        let work_root = config.work_root();
        let _ = std::fs::create_dir_all(&work_root);
        let warm = config.warm.then(|| {
            let pool = Arc::new(WarmPool::new(
                python.clone(),
                &config.preload,
                base_env(&python),
                config.slots,
            ));
            pool.prewarm(threads_for(config.limits.cpus));
            pool
        });
        Ok(Self {
            warm,
            python,
            uid_base,
            unshare,
            grace: config.grace(),
            sample_every: Duration::from_millis(config.sample_ms.max(50)),
            quota_mounts: crate::quota::QuotaMount::available(&work_root),
            left_clean: (0..config.slots).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    /// The interpreter the scripts run with.
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// The rlimits and uid the bootstrap applies: memory, CPU seconds, file size, processes
    /// (0: leave alone) and uid (-1: keep the runner's).
    fn limit_args(&self, spec: &ExecSpec) -> [i64; 5] {
        let limits = &spec.limits;
        let uid = self.sandbox_uid(spec.slot);
        let cpu_secs = limits.timeout.as_secs_f64() * limits.cpus.max(1.0).ceil() + 1.0;
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        [
            clamp(limits.memory_bytes),
            cpu_secs as i64,
            clamp(limits.file_size_limit()),
            if uid.is_some() {
                i64::from(limits.pids)
            } else {
                0
            },
            uid.map_or(-1, i64::from),
        ]
    }

    /// The script's whole environment, built from nothing.
    fn script_env(&self, spec: &ExecSpec) -> Vec<(String, String)> {
        let threads = threads_for(spec.limits.cpus).to_string();
        let home = spec.attempt_dir.join("working");
        let mut env = base_env(&self.python);
        env.push(("HOME".into(), home.to_string_lossy().into_owned()));
        env.extend(THREAD_VARS.map(|k| (k.to_string(), threads.clone())));
        env
    }

    /// Starts the script in a fresh interpreter.
    fn launch_cold(&self, spec: &ExecSpec, output: std::io::PipeWriter) -> Result<Launched> {
        let mut cmd = match (&self.unshare, spec.allow_network) {
            (Some(unshare), false) => {
                let mut c = Command::new(unshare);
                c.arg("--net").arg("--").arg(&self.python);
                c
            }
            _ => Command::new(&self.python),
        };
        cmd.args(["-u", "-s", "-c", BOOTSTRAP, "run"])
            .args(self.limit_args(spec).map(|a| a.to_string()))
            .env_clear()
            .envs(self.script_env(spec))
            .current_dir(&spec.attempt_dir)
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let errors = output
            .try_clone()
            .map_err(Error::process("creating the pipe"))?;
        cmd.stdout(output).stderr(errors);
        let child = cmd.spawn().map_err(Error::process("spawning python"))?;
        drop(cmd); // closes our copies of the pipe's write end
        let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let exit = tokio::task::spawn_blocking(move || {
            let res = child
                .wait4()
                .map_err(Error::process("waiting for the script"))?;
            Ok(ScriptEnd {
                code: res.status.code(),
                cpu: res.rusage.utime + res.rusage.stime,
                peak_memory: res.rusage.maxrss,
            })
        });
        Ok(Launched {
            pgid,
            forked: false,
            exit,
        })
    }

    /// Starts the script as a fork of the slot's warm interpreter.
    async fn launch_warm(
        &self,
        pool: &Arc<WarmPool>,
        spec: &ExecSpec,
        output: std::io::PipeWriter,
    ) -> Result<Launched> {
        let env = self.script_env(spec);
        let limits = self.limit_args(spec);
        let isolate_network = self.unshare.is_some() && !spec.allow_network;
        let cwd = spec.attempt_dir.clone();
        let (pool, slot, threads) = (pool.clone(), spec.slot, threads_for(spec.limits.cpus));
        let started = tokio::task::spawn_blocking(move || {
            let request = ForkRequest {
                limits,
                isolate_network,
                cwd: &cwd,
                env: Some(&env),
                script: None,
            };
            pool.launch(slot, threads, &request, OwnedFd::from(output))
        })
        .await
        .map_err(|e| Error::process("forking the warm interpreter")(std::io::Error::other(e)))?;
        let (pgid, waiting) = started?;
        let exit = tokio::task::spawn_blocking(move || {
            let end = waiting.wait()?;
            Ok(ScriptEnd {
                code: end.code,
                cpu: end.cpu,
                peak_memory: end.peak_memory,
            })
        });
        Ok(Launched {
            pgid,
            forked: true,
            exit,
        })
    }

    /// Kills everything the execution may have left: the group, and the slot uid's processes.
    /// The group's leader is also killed by pid: a warm fork is reported before it has made
    /// its own group (setsid) or dropped to the slot uid, and a cancel in that moment must
    /// still reach it. Returns whether the last pass saw no process of the uid at all.
    fn kill_all(&self, pgid: Option<i32>, uid: Option<u32>) -> bool {
        if let Some(pgid) = pgid.filter(|p| *p > 1) {
            signal_group(pgid, Signal::SIGKILL);
        }
        let Some(uid) = uid else {
            return false;
        };
        // Until a pass finds none alive (one pass when the script left nothing).
        for _ in 0..100 {
            let pass = procfs::kill_and_reap_uid(uid, pgid);
            if pass.alive == 0 {
                return pass.seen == 0;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

#[tonic::async_trait]
impl Sandbox for ProcessSandbox {
    fn backend(&self) -> &'static str {
        "process"
    }

    fn quota_mounts(&self) -> bool {
        self.quota_mounts
    }

    fn sandbox_uid(&self, slot: usize) -> Option<u32> {
        self.uid_base
            .map(|b| b + u32::try_from(slot).unwrap_or(u32::MAX - b))
    }

    /// One process group's whole life: spawn, stream, wait (timeout → TERM → KILL), collect,
    /// clean up. Long on purpose: every path out of it must kill the group and remove the
    /// workspace, and that guarantee is easiest to check when read in one place.
    #[tracing::instrument(name = "process_run", skip_all, fields(key = %spec.key))]
    async fn run(
        &self,
        spec: &ExecSpec,
        io: &mut ExecIo,
        cancel: &CancellationToken,
    ) -> Result<RawOutcome> {
        let uid = self.sandbox_uid(spec.slot);
        let left_clean = self.left_clean.get(spec.slot);
        let known_clean = left_clean.is_some_and(|c| c.swap(false, Ordering::AcqRel));
        if let Some(uid) = uid.filter(|_| !known_clean) {
            // A previous tenant of this slot must be gone before limits count processes.
            self.kill_all(None, Some(uid));
        }
        let (reader, writer) = std::io::pipe().map_err(Error::process("creating the pipe"))?;
        let launched = match &self.warm {
            Some(pool)
                if spec.warm && pool.ready_or_warming(spec.slot, threads_for(spec.limits.cpus)) =>
            {
                self.launch_warm(pool, spec, writer).await?
            }
            _ => self.launch_cold(spec, writer)?,
        };
        let start = Instant::now();
        let pgid = launched.pgid;
        debug!(pgid, ?uid, forked = launched.forked, "script started");
        io.started(format!("pgid-{pgid}")).await;

        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
        let read_task = tokio::task::spawn_blocking(move || pump(reader, tx));
        let mut waiter = launched.exit;

        let deadline = spec.limits.deadline();
        let mut kill_at: Option<tokio::time::Instant> = None;
        let mut out = RawOutcome::default();
        let mut ticker = tokio::time::interval(self.sample_every);
        ticker.tick().await;
        let mut last = (Instant::now(), Duration::ZERO);
        let mut peak_sampled = 0u64;
        let mut output_open = true;
        let mut watchdog = (!spec.working_has_quota).then(|| {
            crate::quota::Watchdog::start(
                spec.attempt_dir.join("working"),
                spec.limits.disk_bytes,
                self.sample_every,
            )
        });
        let status = loop {
            tokio::select! {
                res = &mut waiter => break res,
                chunk = rx.recv(), if output_open => match chunk {
                    Some(bytes) => io.output(&bytes).await,
                    None => output_open = false,
                },
                _ = tokio::time::sleep_until(deadline), if !out.timed_out && !out.cancelled => {
                    out.timed_out = true;
                    signal_group(pgid, Signal::SIGTERM);
                    kill_at = Some(tokio::time::Instant::now() + self.grace);
                }
                _ = tokio::time::sleep_until(kill_at.unwrap_or(deadline)), if kill_at.is_some() => {
                    kill_at = None;
                    self.kill_all(Some(pgid), uid);
                }
                _ = cancel.cancelled(), if !out.cancelled => {
                    out.cancelled = !out.timed_out;
                    self.kill_all(Some(pgid), uid);
                }
                () = async { watchdog.as_mut().expect("guarded").over().await },
                    if watchdog.is_some() && !out.disk_quota_exceeded =>
                {
                    out.disk_quota_exceeded = true;
                    self.kill_all(Some(pgid), uid);
                    io.output(crate::quota::note(spec.limits.disk_bytes).as_bytes()).await;
                }
                _ = ticker.tick() => {
                    let u = procfs::usage(pgid, uid);
                    let now = Instant::now();
                    let cores = (u.cpu.saturating_sub(last.1)).as_secs_f64()
                        / (now - last.0).as_secs_f64().max(1e-3);
                    last = (now, u.cpu);
                    peak_sampled = peak_sampled.max(u.rss_bytes);
                    io.sample(start.elapsed(), cores, u.rss_bytes, u.threads).await;
                }
            }
        };
        out.wall = start.elapsed();
        // Leftover children (daemons, escaped sessions) die with the script.
        let clean = self.kill_all(Some(pgid), uid);
        // Drain what is still in the pipe; a holder that survived the kills cannot stall us.
        let drain_until = tokio::time::Instant::now() + Duration::from_secs(1);
        while output_open {
            match tokio::time::timeout_at(drain_until, rx.recv()).await {
                Ok(Some(bytes)) => io.output(&bytes).await,
                Ok(None) => output_open = false,
                Err(_) => {
                    warn!(pgid, "output pipe still open after the script ended");
                    break;
                }
            }
        }
        drop(read_task);
        if let Some(uid) = uid {
            remove_temporary_files_of(uid);
        }
        if let Some(flag) = left_clean {
            flag.store(clean, Ordering::Release);
        }
        let end = status
            .map_err(|e| Error::process("waiting for the script")(std::io::Error::other(e)))??;
        out.exit_code = end.code;
        out.cpu = end.cpu;
        out.peak_memory = end.peak_memory.max(peak_sampled);
        Ok(out)
    }
}

/// Sends `signal` to the group led by `pgid` and to its leader by pid, which a warm fork is
/// before it has called setsid.
fn signal_group(pgid: i32, signal: Signal) {
    let _ = kill(Pid::from_raw(pgid), signal);
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// The thread-count variables of the numeric libraries, set to the execution's CPU count.
pub(crate) const THREAD_VARS: [&str; 4] = [
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
];

/// The thread count of an execution given `cpus` cores.
fn threads_for(cpus: f64) -> u64 {
    (cpus.ceil() as u64).max(1)
}

/// What every script and warm interpreter is given, besides HOME and the thread counts.
fn base_env(python: &Path) -> Vec<(String, String)> {
    let bin = python.parent().unwrap_or(Path::new("/usr/bin"));
    [
        (
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
        ),
        ("LANG", "C.UTF-8".into()),
        ("LC_ALL", "C.UTF-8".into()),
        ("PYTHONUNBUFFERED", "1".into()),
        ("PYTHONDONTWRITEBYTECODE", "1".into()),
        ("MPLBACKEND", "Agg".into()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec()
}

/// A started script: its process group and the task that waits for its end.
struct Launched {
    pgid: i32,
    /// Forked from the slot's warm interpreter rather than started cold.
    forked: bool,
    exit: tokio::task::JoinHandle<Result<ScriptEnd>>,
}

/// How a script ended.
struct ScriptEnd {
    code: Option<i32>,
    cpu: Duration,
    peak_memory: u64,
}

/// Removes what the slot's uid left at the top of /tmp and /dev/shm, so that the slot's next
/// tenant finds none of it (everything else the uid could write is its attempt directory).
fn remove_temporary_files_of(uid: u32) {
    use std::os::unix::fs::MetadataExt;
    let scratch = ["/tmp", "/dev/shm"]
        .into_iter()
        .filter_map(|d| std::fs::read_dir(d).ok());
    for entry in scratch.flatten().flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.uid() != uid {
            continue;
        }
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(e) = removed {
            warn!(path = %path.display(), error = %e, "could not remove a sandbox's temporary file");
        }
    }
}

/// Copies the pipe into the channel until EOF or until the receiver is gone.
fn pump(mut reader: std::io::PipeReader, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx.blocking_send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
