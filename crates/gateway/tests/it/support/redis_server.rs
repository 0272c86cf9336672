//! Test support: the shared Redis of the test environment, and private `redis-server` child
//! processes that a test may stop and restart.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The URL of the test Redis, or `None` (after a loud note) when it is unreachable outside
/// CI. Under CI (`CI` set) an unreachable Redis fails the test.
pub fn shared_redis_url() -> Option<String> {
    let url = std::env::var("AIDE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let reachable = redis::Client::open(url.as_str())
        .and_then(|client| {
            let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
            redis::cmd("PING").query::<String>(&mut conn)
        })
        .is_ok();
    if reachable {
        return Some(url);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "Redis at {url} is unreachable and CI is set: start Redis or set AIDE_TEST_REDIS_URL"
    );
    eprintln!(
        "\n!!! SKIPPED: Redis at {url} is unreachable; set AIDE_TEST_REDIS_URL or start redis-server !!!\n"
    );
    None
}

/// A key prefix no other test (or earlier run) uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("aide:test:{test}:{}:{nanos}:", std::process::id())
}

/// A `redis-server` child on a port of its own, killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    /// Working directory of the server, so nothing lands in the repository.
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("pick a free port")
            .port();
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (is it installed?)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
