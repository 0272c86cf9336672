//! Child processes of the tests (services started as binaries, private `redis-server`s...):
//! a [`ChildGuard`] kills its child (SIGKILL) and reaps it when dropped, so a failing test
//! leaves nothing running; optionally the child's output goes to a log file to show on
//! failure.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// A spawned child, killed and reaped on drop.
#[derive(Debug)]
pub struct ChildGuard {
    /// What the test calls it, for messages.
    pub name: String,
    child: Child,
    log: Option<PathBuf>,
}

impl ChildGuard {
    /// Spawns `command` as is; panics when it cannot start.
    pub fn spawn(name: &str, command: &mut Command) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Self {
            name: name.to_owned(),
            child,
            log: None,
        }
    }

    /// Spawns `command` with no stdin and its stdout and stderr in the file `log`.
    pub fn spawn_logged(name: &str, command: &mut Command, log: &Path) -> Self {
        let out = File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().expect("clone the log file");
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        let mut guard = Self::spawn(name, command);
        guard.log = Some(log.to_owned());
        guard
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child itself, for signals and waits of a test's own.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// SIGKILL and reap; harmless when it has already exited.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its exit status when it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The log file, when spawned with one.
    pub fn log_path(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The whole log so far (empty without one).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
