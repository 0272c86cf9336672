//! Database servers a test owns outright, to stop and restart them as faults (the shared
//! ones of [`crate::postgres`] and [`crate::redis`] serve every other test at once): a
//! PostgreSQL cluster made with `initdb` in a temporary directory and run as the
//! `postgres` user, and a `redis-server` without persistence, each on a free loopback port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::ChildGuard;
use crate::{free_port, require::unavailable, wait_for_port};

/// How long a server may take to accept connections after a start.
const START_WITHIN: Duration = Duration::from_secs(30);

/// A PostgreSQL cluster of the test's own; the role `aide` may connect without a password.
#[derive(Debug)]
pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: (u32, u32),
    port: u16,
    server: Option<ChildGuard>,
    starts: u32,
}

impl PrivatePostgres {
    /// Makes and starts a cluster; `None` (after the loud message, or a panic under CI)
    /// when PostgreSQL's programs or its `postgres` user are missing.
    pub fn start() -> Option<Self> {
        let Some(bin) = postgres_bin() else {
            return unavailable("PostgreSQL", "no /usr/lib/postgresql/<version>/bin");
        };
        let Some(user) = postgres_user() else {
            return unavailable("PostgreSQL", "no `postgres` user to run the server as");
        };
        let dir = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::chown(dir.path(), Some(user.0), Some(user.1)).expect("chown");
        let initdb = Command::new(bin.join("initdb"))
            .args(["-A", "trust", "-U", "aide", "-E", "UTF8", "--no-sync", "-D"])
            .arg(dir.path().join("data"))
            .uid(user.0)
            .gid(user.1)
            .output()
            .expect("initdb");
        assert!(
            initdb.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let mut postgres = Self {
            dir,
            bin,
            user,
            port: free_port(),
            server: None,
            starts: 0,
        };
        postgres.start_server();
        Some(postgres)
    }

    /// The URL of its `postgres` database as the role `aide`.
    pub fn url(&self) -> String {
        format!("postgres://aide@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as `pg_ctl stop -m fast` does (SIGINT: sessions are cut, then a
    /// clean shutdown) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            signal(&mut server, nix::sys::signal::Signal::SIGINT);
        }
    }

    /// Stops the server (fast) and starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.start_server();
    }

    fn start_server(&mut self) {
        self.starts += 1;
        let socket_dir = self.dir.path().join("socket");
        std::fs::create_dir_all(&socket_dir).expect("socket dir");
        std::os::unix::fs::chown(&socket_dir, Some(self.user.0), Some(self.user.1)).expect("chown");
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .args(["-c", "fsync=off", "-c", "max_connections=200", "-k"])
            .arg(&socket_dir)
            .uid(self.user.0)
            .gid(self.user.1);
        let log = self
            .dir
            .path()
            .join(format!("postgres-{}.log", self.starts));
        self.server = Some(start_listening("postgres", command, &log, self.port));
    }
}

/// A `redis-server` of the test's own, without persistence.
#[derive(Debug)]
pub struct PrivateRedis {
    logs: tempfile::TempDir,
    port: u16,
    server: Option<ChildGuard>,
    starts: u32,
}

impl PrivateRedis {
    /// Starts one; `None` (after the loud message, or a panic under CI) without
    /// `redis-server`.
    pub fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            return unavailable("Redis", "no redis-server on PATH");
        }
        let mut redis = Self {
            logs: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            server: None,
            starts: 0,
        };
        redis.start_server();
        Some(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM) and waits for it; everything it held is gone.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            signal(&mut server, nix::sys::signal::Signal::SIGTERM);
        }
    }

    /// Starts it again on the same port (empty), after [`PrivateRedis::stop`].
    pub fn start_server(&mut self) {
        self.starts += 1;
        let mut command = Command::new("redis-server");
        command.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        let log = self.logs.path().join(format!("redis-{}.log", self.starts));
        self.server = Some(start_listening("redis", command, &log, self.port));
    }
}

/// Starts `command` (its output in `log`) and waits until it listens on `port`.
fn start_listening(name: &str, mut command: Command, log: &Path, port: u16) -> ChildGuard {
    let server = ChildGuard::spawn_logged(name, &mut command, log);
    let address = ([127, 0, 0, 1], port).into();
    assert!(
        wait_for_port(address, START_WITHIN),
        "{name} did not listen on {port}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    server
}

/// Sends `signal` to the server and waits for it to exit.
fn signal(server: &mut ChildGuard, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(server.pid() as i32);
    let _ = nix::sys::signal::kill(pid, signal);
    let _ = server.child_mut().wait();
}

/// The newest PostgreSQL's programs directory.
fn postgres_bin() -> Option<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let bin = root.join(versions.last()?.to_string()).join("bin");
    bin.join("postgres").exists().then_some(bin)
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> Option<(u32, u32)> {
    let user = nix::unistd::User::from_name("postgres").ok()??;
    Some((user.uid.as_raw(), user.gid.as_raw()))
}
