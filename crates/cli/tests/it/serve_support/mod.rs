//! A real `aide serve` for the client-command tests: a fresh Postgres database per test
//! (`AIDE_TEST_POSTGRES_URL`, default postgres://aide:aide@127.0.0.1:5432/postgres), Redis
//! (`AIDE_TEST_REDIS_URL`, default redis://127.0.0.1:6379), the process sandbox, and the
//! built `aide` binary as a child process on a free port. A missing service fails the test
//! under `CI` and skips it loudly otherwise. Dropping the [`Server`] kills the process and
//! drops the database.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use tempfile::TempDir;

use crate::support::aide;

const DEFAULT_PG_URL: &str = "postgres://aide:aide@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A running `aide serve`.
#[derive(Debug)]
pub struct Server {
    pub url: String,
    pub dir: TempDir,
    child: Child,
    admin_url: String,
    db_name: String,
}

/// Skips (or, under CI, fails) a test whose service is missing.
fn missing(what: &str, why: &str) -> Option<Server> {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is unavailable and CI is set: {why}");
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED: {what} is unavailable ({why}).\n!!!!!!!! Set \
         AIDE_TEST_POSTGRES_URL / AIDE_TEST_REDIS_URL to run it (CI=1 makes this fatal).\n"
    );
    None
}

fn block_on<T>(fut: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(fut)
}

impl Server {
    /// Creates a database and starts `aide serve` on it; `None` when a service is missing
    /// outside CI.
    pub fn start() -> Option<Self> {
        let redis_url =
            std::env::var("AIDE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
        if let Err(why) = reachable(&redis_url) {
            return missing("Redis", &format!("{redis_url}: {why}"));
        }
        let admin_url =
            std::env::var("AIDE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
        let db_name = format!("aide_serve_{tag}");
        let created = block_on(async {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .connect(&admin_url)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
                .execute(&admin)
                .await
                .map_err(|e| e.to_string())?;
            admin.close().await;
            Ok::<_, String>(())
        });
        if let Err(why) = created {
            return missing("Postgres", &format!("{admin_url}: {why}"));
        }
        let db_url = with_database(&admin_url, &db_name);
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("serve.log")).expect("log file");
        let child = aide()
            .args([
                "serve",
                "--database-url",
                &db_url,
                "--redis-url",
                &redis_url,
                "--sandbox",
                "process",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--output-dir",
            ])
            .arg(dir.path().join("outputs"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn aide serve");
        let mut server = Self {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            child,
            admin_url,
            db_name,
        };
        server.wait_ready();
        Some(server)
    }

    /// The server's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }

    /// Waits for "ready" (the first start may provision the sandbox's virtualenv).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if self.log().contains("ready:") {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("aide serve exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "aide serve not ready in 300 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("--- aide serve log\n{}", self.log());
        let (admin_url, db_name) = (self.admin_url.clone(), self.db_name.clone());
        let dropped = std::thread::spawn(move || {
            block_on(async {
                let Ok(admin) = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(&admin_url)
                    .await
                else {
                    return;
                };
                let drop = format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)");
                if let Err(e) = sqlx::query(AssertSqlSafe(drop)).execute(&admin).await {
                    eprintln!("cannot drop the test database {db_name}: {e}");
                }
                admin.close().await;
            });
        });
        let _ = dropped.join();
    }
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `base` with its database replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (url, query) = match base.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base, None),
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &url[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Whether a TCP connection to the URL's host and port succeeds.
fn reachable(url: &str) -> Result<(), String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:6379")
    };
    let addr = host_port
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map(drop)
        .map_err(|e| e.to_string())
}
