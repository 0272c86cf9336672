//! Private `redis-server` child processes that a test may stop and restart (the shared
//! Redis of the test environment comes from aide-testkit), and unique key prefixes.

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use aide_testkit::ChildGuard;

/// A key prefix no other test (or earlier run) uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("aide:test:{test}:{}:{nanos}:", std::process::id())
}

/// A `redis-server` child on a port of its own, killed when dropped (its [`ChildGuard`]).
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<ChildGuard>,
    /// Working directory of the server, so nothing lands in the repository.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let port = aide_testkit::free_port();
        let dir = tempfile::tempdir().expect("create a directory for redis-server");
        let mut server = Self {
            port,
            child: None,
            dir,
        };
        server.restart();
        server
    }

    /// The URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (no persistence: it comes back empty).
    pub fn stop(&mut self) {
        self.child = None;
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let child = ChildGuard::spawn(
            "redis-server",
            Command::new("redis-server")
                .args(["--port", &self.port.to_string()])
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .current_dir(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        self.child = Some(child);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let listening = aide_testkit::wait_for_port(addr, std::time::Duration::from_secs(10));
        assert!(listening, "redis-server did not start");
    }
}
