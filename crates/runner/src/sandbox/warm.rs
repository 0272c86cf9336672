//! Warm interpreters for the process backend: per slot, one fork server (`bootstrap.py
//! serve`) that has already imported the preload list. An execution is a fork of it; the
//! child applies the slot's limits, uid, network namespace, directory and environment itself
//! before the script runs (see `bootstrap.py`). The server never runs a script, so each fork
//! starts from the same clean copy.
//!
//! The runner talks to a server over a Unix socket pair: a request is a length-prefixed JSON
//! object carrying the script's output pipe as an attached descriptor; the replies are JSON
//! lines (the child's pid, then its exit status and resource usage). A server that dies or
//! answers out of turn is dropped, and the next execution of its slot starts a new one.

use std::{
    io::{BufRead, BufReader, IoSlice},
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::net::UnixStream,
    },
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::BOOTSTRAP;
use crate::{Error, Result};

/// What the preload list is when none is configured: the libraries nearly every solution
/// imports, down to the scikit-learn modules that cost most to load.
pub const DEFAULT_PRELOAD: &[&str] = &[
    "numpy",
    "pandas",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.preprocessing",
    "sklearn.linear_model",
    "sklearn.ensemble",
];

/// The comment line with which a script asks to run in a fresh interpreter.
pub const COLD_PRAGMA: &str = "# aide: cold";

/// Whether `code` carries the cold pragma on a line of its own.
pub fn asks_for_cold_start(code: &str) -> bool {
    code.lines().any(|line| line.trim() == COLD_PRAGMA)
}

/// Longest wait for a new server to import its preload list.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// One execution as the forked child must set it up.
#[derive(Debug, Serialize)]
pub struct ForkRequest<'a> {
    /// Memory, CPU seconds, file size, processes (0: leave alone) and uid (-1: keep).
    pub limits: [i64; 5],
    /// Enter a fresh network namespace (the runner is root and the script has no network).
    pub isolate_network: bool,
    /// The attempt directory.
    pub cwd: &'a Path,
    /// The script's whole environment; None: the server's own (a warm container's, which
    /// is the one a cold container gets).
    pub env: Option<&'a [(String, String)]>,
    /// The solution's code, for the server to write as `cwd/solution.py` (read-only) before
    /// the fork; None: it is there already.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<&'a str>,
}

/// How a forked script ended, as its server saw it.
#[derive(Debug, Clone, Copy)]
pub struct ForkExit {
    /// Exit code; None when a signal ended it.
    pub code: Option<i32>,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident memory, bytes (the pages it shares with its server included).
    pub peak_memory: u64,
}

/// What a fork server says, in order: once `Ready`, then per request `Forked` and `Ended`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Reply {
    /// The preload list is imported; `missing` did not import.
    Ready { missing: Vec<String> },
    /// The script runs as `pid`.
    Forked { pid: i32 },
    /// The script ended with `code` (negative: killed by that signal).
    Ended {
        code: i32,
        utime: f64,
        stime: f64,
        maxrss: u64,
    },
}

impl Reply {
    /// The end of a script as its server reported it, or None for any other reply.
    pub(crate) fn exit(&self) -> Option<ForkExit> {
        match *self {
            Reply::Ended {
                code,
                utime,
                stime,
                maxrss,
            } => Some(ForkExit {
                code: (code >= 0).then_some(code),
                cpu: Duration::from_secs_f64((utime + stime).max(0.0)),
                peak_memory: maxrss.saturating_mul(1024),
            }),
            _ => None,
        }
    }
}

/// One slot's server and the thread count its libraries were loaded with.
#[derive(Debug)]
struct ForkServer {
    child: Child,
    control: UnixStream,
    replies: BufReader<UnixStream>,
    threads: u64,
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type SlotServer = Arc<Mutex<Option<ForkServer>>>;

/// The fork servers of a process runner, one per slot, started in the background.
#[derive(Debug)]
pub struct WarmPool {
    python: PathBuf,
    preload: String,
    base_env: Vec<(String, String)>,
    slots: Vec<SlotServer>,
}

impl WarmPool {
    /// A pool for `slots` slots whose servers run `python` with `base_env` (the thread
    /// variables are added per server) and import `preload`. Nothing is started yet.
    pub fn new(
        python: PathBuf,
        preload: &[String],
        base_env: Vec<(String, String)>,
        slots: usize,
    ) -> Self {
        Self {
            python,
            preload: preload.join(","),
            base_env,
            slots: (0..slots).map(|_| SlotServer::default()).collect(),
        }
    }

    /// Starts every slot's server on a background thread, loaded for `threads` threads.
    pub fn prewarm(self: &Arc<Self>, threads: u64) {
        let pool = self.clone();
        std::thread::spawn(move || {
            for slot in 0..pool.slots.len() {
                pool.start_unless_ready(slot, threads);
            }
        });
    }

    /// Whether slot `slot` has a live server loaded for `threads` threads, so an execution
    /// forks at once. When it has not (still importing, never started, died, or loaded for
    /// another thread count), one is started on a background thread and the caller runs
    /// its script cold meanwhile: no script waits for imports it may not even need.
    pub fn ready_or_warming(self: &Arc<Self>, slot: usize, threads: u64) -> bool {
        let Some(cell) = self.slots.get(slot) else {
            return false;
        };
        let ready = match cell.try_lock() {
            Ok(mut held) => held
                .as_mut()
                .is_some_and(|s| s.threads == threads && s.is_alive()),
            // Held while a server is being started.
            Err(std::sync::TryLockError::WouldBlock) => return false,
            Err(std::sync::TryLockError::Poisoned(_)) => false,
        };
        if !ready {
            let pool = self.clone();
            std::thread::spawn(move || pool.start_unless_ready(slot, threads));
        }
        ready
    }

    /// Starts slot `slot`'s server for `threads` threads unless a live one is there, holding
    /// the slot meanwhile.
    fn start_unless_ready(&self, slot: usize, threads: u64) {
        let mut held = lock(&self.slots[slot]);
        if held
            .as_mut()
            .is_some_and(|s| s.threads == threads && s.is_alive())
        {
            return;
        }
        *held = None;
        match self.start(threads) {
            Ok(server) => *held = Some(server),
            Err(e) => warn!(slot, error = %e, "warm interpreter did not start"),
        }
    }

    /// Forks slot `slot`'s server (starting one first when it has none, or one loaded for
    /// another thread count) into the script `request` describes, its output going to
    /// `output`. Blocks; returns the script's pid and the handle that waits for its end.
    pub fn launch(
        &self,
        slot: usize,
        threads: u64,
        request: &ForkRequest<'_>,
        output: OwnedFd,
    ) -> Result<(i32, WarmExit)> {
        let cell = self
            .slots
            .get(slot)
            .ok_or_else(|| Error::Config(format!("no warm interpreter for slot {slot}")))?;
        let taken = lock(cell)
            .take()
            .filter(|s| s.threads == threads)
            .and_then(|mut s| s.is_alive().then_some(s));
        let reused = taken.is_some();
        let mut server = match taken {
            Some(server) => server,
            None => self.start(threads)?,
        };
        let pid = match server.fork(request, &output) {
            Ok(pid) => pid,
            Err(e) if reused => {
                warn!(slot, error = %e, "warm interpreter lost; starting another");
                server = self.start(threads)?;
                server.fork(request, &output)?
            }
            Err(e) => return Err(e),
        };
        drop(output);
        let exit = WarmExit {
            server,
            home: cell.clone(),
        };
        Ok((pid, exit))
    }

    fn start(&self, threads: u64) -> Result<ForkServer> {
        let started = std::time::Instant::now();
        let (ours, theirs) = UnixStream::pair().map_err(Error::process("creating a socket"))?;
        let threads_text = threads.to_string();
        let mut cmd = Command::new(&self.python);
        cmd.args(["-u", "-s", "-c", BOOTSTRAP, "serve", &self.preload])
            .env_clear()
            .envs(self.base_env.iter().map(|(k, v)| (k, v)))
            .envs(super::process::THREAD_VARS.map(|k| (k, &threads_text)))
            .current_dir("/")
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(Error::process("starting a warm interpreter"))?;
        let replies = BufReader::new(
            ours.try_clone()
                .map_err(Error::process("creating a socket"))?,
        );
        let mut server = ForkServer {
            child,
            control: ours,
            replies,
            threads,
        };
        server
            .control
            .set_read_timeout(Some(READY_TIMEOUT))
            .map_err(Error::process("waiting for a warm interpreter"))?;
        match server.read_reply()? {
            Reply::Ready { missing } => {
                if !missing.is_empty() {
                    warn!(?missing, "preloaded modules that did not import");
                }
            }
            other => return Err(unexpected(&other)),
        }
        server
            .control
            .set_read_timeout(None)
            .map_err(Error::process("waiting for a warm interpreter"))?;
        info!(
            pid = server.child.id(),
            threads,
            ms = started.elapsed().as_millis() as u64,
            "warm interpreter ready"
        );
        Ok(server)
    }
}

impl ForkServer {
    fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn fork(&mut self, request: &ForkRequest<'_>, output: &OwnedFd) -> Result<i32> {
        let body = serde_json::to_vec(request).map_err(|e| Error::Config(e.to_string()))?;
        let length = u32::try_from(body.len())
            .map_err(|_| Error::Config("a fork request is too large".into()))?;
        let mut message = length.to_be_bytes().to_vec();
        message.extend_from_slice(&body);
        let fds = [output.as_raw_fd()];
        let sent = sendmsg::<()>(
            self.control.as_raw_fd(),
            &[IoSlice::new(&message)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| Error::process("sending a fork request")(e.into()))?;
        if sent != message.len() {
            // The descriptor went with the first part; the rest follows as plain bytes.
            std::io::Write::write_all(&mut self.control, &message[sent..])
                .map_err(Error::process("sending a fork request"))?;
        }
        match self.read_reply()? {
            Reply::Forked { pid } => Ok(pid),
            other => Err(unexpected(&other)),
        }
    }

    fn read_reply(&mut self) -> Result<Reply> {
        let mut line = String::new();
        let read = self
            .replies
            .read_line(&mut line)
            .map_err(Error::process("reading from a warm interpreter"))?;
        if read == 0 {
            return Err(Error::process("reading from a warm interpreter")(
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "it has exited"),
            ));
        }
        serde_json::from_str(&line).map_err(|e| {
            Error::process("reading from a warm interpreter")(std::io::Error::other(e))
        })
    }
}

/// A forked script in progress; `wait` blocks until its server reports its end, then gives
/// the server back to its slot.
#[derive(Debug)]
pub struct WarmExit {
    server: ForkServer,
    home: SlotServer,
}

impl WarmExit {
    /// Waits for the script's end (blocking).
    pub fn wait(mut self) -> Result<ForkExit> {
        let reply = self.server.read_reply()?;
        let exit = reply.exit().ok_or_else(|| unexpected(&reply))?;
        let mut home = lock(&self.home);
        if home.is_none() {
            *home = Some(self.server);
        }
        Ok(exit)
    }
}

/// A reply that does not fit the protocol's order.
pub(crate) fn unexpected(reply: &Reply) -> Error {
    Error::process("talking to a warm interpreter")(std::io::Error::other(format!(
        "unexpected reply {reply:?}"
    )))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
