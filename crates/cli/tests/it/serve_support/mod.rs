//! A real `aide serve` for the client-command tests: a fresh Postgres database per test and
//! the test Redis (from aide-testkit: a missing service fails the test under `CI` and skips
//! it loudly otherwise), the process sandbox, and the built `aide` binary as a child process
//! on a free port. Dropping the [`Server`] kills the process and drops the database.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use aide_testkit::{ChildGuard, TestDatabase, free_port};
use tempfile::TempDir;

use crate::support::aide;

/// A running `aide serve`.
#[derive(Debug)]
pub struct Server {
    pub url: String,
    /// The CA of the server's certificate when it serves TLS.
    pub ca: Option<PathBuf>,
    /// The deployment's first admin token, from the file `aide serve` wrote.
    pub token: String,
    /// Where `--metrics-listen` serves `/metrics`.
    pub metrics: std::net::SocketAddr,
    /// The web UI's URL, when `--http-listen` was given.
    pub web: Option<String>,
    pub dir: TempDir,
    child: ChildGuard,
    /// Dropped after the process is killed.
    database: TestDatabase,
}

/// Starts of `aide serve` tried before a port taken by another test fails the test.
const PORT_ATTEMPTS: u32 = 3;

impl Server {
    /// Creates a database and starts `aide serve` on it in plaintext on loopback; `None`
    /// when a service is missing outside CI.
    pub fn start() -> Option<Self> {
        Self::start_with(false, None)
    }

    /// [`Server::start`] serving TLS with a coordinator certificate made by `aide certs`.
    pub fn start_tls() -> Option<Self> {
        Self::start_with(true, None)
    }

    /// [`Server::start`] serving the web UI too (`--http-listen`), after `seed` wrote into
    /// the fresh database (given its URL) what the test needs already there.
    pub fn start_web(seed: &dyn Fn(&str)) -> Option<Self> {
        Self::start_with(false, Some(seed))
    }

    /// [`Server::start_tls`] serving the web UI too, over HTTPS with the same certificate.
    pub fn start_web_tls() -> Option<Self> {
        Self::start_with(true, Some(&|_| {}))
    }

    fn start_with(tls: bool, web: Option<&dyn Fn(&str)>) -> Option<Self> {
        let redis_url = aide_testkit::redis::require()?;
        let database = aide_testkit::block_on(TestDatabase::create("aide_serve"))?;
        let db_url = database.url().to_owned();
        if let Some(seed) = web {
            seed(&db_url);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let transport = match tls {
            true => certificate_flags(&dir.path().join("certs")),
            false => vec!["--plaintext".to_owned()],
        };
        let scheme = if tls { "https" } else { "http" };
        // A port picked free may be taken by another test before the server binds it: such
        // a start is tried again on other ports.
        for attempt in 1..=PORT_ATTEMPTS {
            let web_port = web.map(|_| free_port());
            let web_flags = web_port
                .map(|port| vec!["--http-listen".to_owned(), format!("127.0.0.1:{port}")])
                .unwrap_or_default();
            let port = free_port();
            let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
            let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
            let child = ChildGuard::spawn(
                "aide serve",
                aide()
                    .arg("serve")
                    .args(&transport)
                    .args(&web_flags)
                    .args([
                        "--database-url",
                        &db_url,
                        "--redis-url",
                        &redis_url,
                        "--sandbox",
                        "process",
                        "--listen",
                        &format!("127.0.0.1:{port}"),
                        "--metrics-listen",
                        &metrics.to_string(),
                        "--output-dir",
                    ])
                    .arg(dir.path().join("outputs"))
                    .arg("--data-dir")
                    .arg(dir.path().join("data"))
                    .stdout(Stdio::null())
                    .stderr(log),
            );
            let mut child = child;
            match wait_ready(&mut child, &dir.path().join("serve.log")) {
                Ok(()) => {
                    let mut server = Self {
                        url: format!("{scheme}://127.0.0.1:{port}"),
                        ca: tls.then(|| dir.path().join("certs/ca.pem")),
                        token: String::new(),
                        metrics,
                        web: web_port.map(|port| format!("{scheme}://127.0.0.1:{port}")),
                        dir,
                        child,
                        database,
                    };
                    let token_file = server.token_file();
                    server.token = std::fs::read_to_string(&token_file)
                        .unwrap_or_else(|e| {
                            panic!("{}: {e}\n{}", token_file.display(), server.log())
                        })
                        .trim()
                        .to_owned();
                    return Some(server);
                }
                Err(log) if log.contains("cannot listen on") && attempt < PORT_ATTEMPTS => {
                    eprintln!("aide serve lost a port to another test, trying again:\n{log}");
                }
                Err(log) => panic!("aide serve exited with {log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// The server's database (to read what the API does not show).
    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// The file of the bootstrap admin token in the server's data directory.
    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("data/bootstrap-admin-token")
    }

    /// `aide` sending this server's admin token (`AIDE_TOKEN`).
    pub fn aide(&self) -> std::process::Command {
        let mut command = aide();
        command.env("AIDE_TOKEN", &self.token);
        command
    }

    /// Runs `aide <args> --server <url>` with the admin token, echoing its stderr.
    pub fn client(&self, args: &[&str]) -> Output {
        self.client_as(&self.token, args)
    }

    /// Runs `aide <args> --server <url>` sending `token`, echoing its stderr.
    pub fn client_as(&self, token: &str, args: &[&str]) -> Output {
        let mut command = aide();
        command.env("AIDE_TOKEN", token);
        if let Some(ca) = &self.ca {
            command.env("AIDE_CA", ca);
        }
        run_client(command, &self.url, args)
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }
}

/// Waits for "ready" in the log at `log` (the first start may provision the sandbox's
/// virtualenv); the exit status and log of a server that exited instead.
fn wait_ready(child: &mut ChildGuard, log: &std::path::Path) -> Result<(), String> {
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if read().contains("ready:") {
            return Ok(());
        }
        if let Some(status) = child.try_wait() {
            return Err(format!("{status}:\n{}", read()));
        }
        assert!(
            Instant::now() < deadline,
            "aide serve not ready in 300 s:\n{}",
            read()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill();
        eprintln!("--- aide serve log\n{}", self.log());
    }
}

/// A CA and a coordinator certificate in `dir`, made as a team would (`aide certs`), as
/// `aide serve`'s TLS flags.
fn certificate_flags(dir: &std::path::Path) -> Vec<String> {
    let dir_text = dir.display().to_string();
    for args in [
        vec!["certs", "init", "--dir", &dir_text],
        vec![
            "certs",
            "issue",
            "--dir",
            &dir_text,
            "--role",
            "coordinator",
            "--name",
            "coordinator",
        ],
    ] {
        let out = aide().args(&args).output().expect("aide certs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ["cert", "key", "ca"]
        .iter()
        .zip(["coordinator.pem", "coordinator.key", "ca.pem"])
        .flat_map(|(flag, file)| {
            [
                format!("--tls-{flag}"),
                dir.join(file).display().to_string(),
            ]
        })
        .collect()
}

/// Runs `aide <args> --server <url>` without a token, echoing its stderr.
pub fn client(server: &str, args: &[&str]) -> Output {
    run_client(aide(), server, args)
}

fn run_client(mut command: std::process::Command, server: &str, args: &[&str]) -> Output {
    let out = command
        .args(args)
        .args(["--server", server])
        .output()
        .expect("spawn aide");
    eprintln!(
        "$ aide {} --server {server}\n--- exit {:?}\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
