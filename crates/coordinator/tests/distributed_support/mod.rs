//! A real aide deployment for the distributed tests, all on 127.0.0.1 free ports: the
//! `aide-gateway` (baseline author, Redis cache), `aide-runner --backend docker` processes
//! and `aide-coordinator` replicas over one fresh Postgres database per test.
//!
//! Binaries: `aide-coordinator` is this crate's (`CARGO_BIN_EXE_…`). The gateway and runner
//! binaries belong to other packages, which `cargo test -p aide-coordinator` does not build
//! (they are dev-dependencies for their libraries only), so the first test that needs them
//! runs `cargo build -p aide-gateway -p aide-runner --bins` once per test binary (guarded by
//! a `OnceLock`; a no-op when they are up to date) into the target directory this test runs
//! from, and starts them from there (`current_exe()/../../aide-gateway`).
//!
//! Services: Postgres (`AIDE_TEST_POSTGRES_URL`), Redis (`AIDE_TEST_REDIS_URL`) and Docker
//! with the `aide-sandbox:py311` image. When one is missing the test fails under `CI` and
//! is skipped loudly otherwise. Every child process is killed (SIGKILL) when the
//! [`Cluster`] is dropped, the database is dropped, and containers of the test's runners
//! are removed.
#![allow(dead_code)]

mod procs;

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use aide_store::{AnyStore, RunnerStore};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPoolOptions;
use tempfile::TempDir;
use tonic::transport::Channel;

use procs::bin_dir;
pub use procs::{Proc, free_port, remove_containers};

const DEFAULT_PG_URL: &str = "postgres://aide:aide@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
pub const SANDBOX_IMAGE: &str = "aide-sandbox:py311";

/// The absolute path of the diabetes example task.
pub fn diabetes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/diabetes")
        .canonicalize()
        .expect("examples/diabetes")
}

/// Skips (or, under CI, fails) a test whose service is missing.
fn missing<T>(what: &str, why: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is unavailable and CI is set: {why}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: distributed test, {what} is unavailable ({why}).\n\
         !!!!!!!! Set AIDE_TEST_POSTGRES_URL / AIDE_TEST_REDIS_URL, start Docker and build \
         {SANDBOX_IMAGE} to run it (CI=1 makes this fatal).\n"
    );
    None
}

/// One deployment: a database, a gateway, runners and coordinators.
#[derive(Debug)]
pub struct Cluster {
    pub tag: String,
    pub db_url: String,
    admin_url: String,
    db_name: String,
    pub store: Arc<AnyStore>,
    pub gateway: SocketAddr,
    redis_url: String,
    pub runners: Vec<(String, Proc)>,
    pub coordinators: Vec<(u16, Proc)>,
    gateway_proc: Option<Proc>,
    /// The port runners register with (the first coordinator's).
    pub registry_port: u16,
    pub lease_ttl_secs: u64,
    pub dir: TempDir,
}

impl Cluster {
    /// A database and a gateway; `None` (after a loud message) when a service is missing
    /// outside CI.
    pub async fn start(lease_ttl_secs: u64) -> Option<Self> {
        let redis_url =
            std::env::var("AIDE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
        if let Err(why) = reachable(&redis_url) {
            return missing("Redis", &format!("{redis_url}: {why}"));
        }
        match Command::new("docker")
            .args(["image", "inspect", SANDBOX_IMAGE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => {}
            Ok(_) => return missing("Docker", &format!("image {SANDBOX_IMAGE} not found")),
            Err(e) => return missing("Docker", &e.to_string()),
        }
        let admin_url =
            std::env::var("AIDE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let admin = match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&admin_url)
            .await
        {
            Ok(pool) => pool,
            Err(e) => return missing("Postgres", &format!("{admin_url}: {e}")),
        };
        let tag = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
        let db_name = format!("aide_dist_{tag}");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {db_name}")))
            .execute(&admin)
            .await
            .expect("create the test database");
        admin.close().await;
        let db_url = with_database(&admin_url, &db_name);
        let store = Arc::new(aide_store::connect(&db_url).await.expect("test store"));
        let dir = tempfile::tempdir().expect("temp dir");
        let gateway_port = free_port();
        let gateway = SocketAddr::from(([127, 0, 0, 1], gateway_port));
        let mut cluster = Self {
            tag,
            db_url,
            admin_url,
            db_name,
            store,
            gateway,
            redis_url,
            runners: Vec::new(),
            coordinators: Vec::new(),
            gateway_proc: None,
            registry_port: free_port(),
            lease_ttl_secs,
            dir,
        };
        let args = vec![
            "--listen".into(),
            gateway.to_string(),
            "--redis-url".into(),
            cluster.redis_url.clone(),
        ];
        let program = bin_dir().join("aide-gateway");
        cluster.gateway_proc = Some(Proc::spawn("gateway", &program, &args, cluster.dir.path()));
        cluster.wait_port(gateway_port, "gateway").await;
        Some(cluster)
    }

    /// Starts a coordinator replica on `port` (the registry port for the first one).
    pub async fn start_coordinator(&mut self, port: u16) -> CoordinatorClient<Channel> {
        let n = self.coordinators.len();
        let args = vec![
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--database-url".into(),
            self.db_url.clone(),
            "--gateway".into(),
            format!("http://{}", self.gateway),
            "--owner".into(),
            format!("coord-{n}-{}", self.tag),
            "--lease-ttl-secs".into(),
            self.lease_ttl_secs.to_string(),
            "--runner-heartbeat-secs".into(),
            "1".into(),
        ];
        let program = PathBuf::from(env!("CARGO_BIN_EXE_aide-coordinator"));
        let proc = Proc::spawn(
            &format!("coordinator-{n}"),
            &program,
            &args,
            self.dir.path(),
        );
        self.coordinators.push((port, proc));
        self.wait_port(port, "coordinator").await;
        client(port).await
    }

    /// Starts a Docker runner with `slots` that registers with the registry port and waits
    /// until it is registered.
    pub async fn start_runner(&mut self, slots: u32) -> String {
        let n = self.runners.len();
        let id = format!("dist-{}-r{n}", self.tag);
        let work_root = self.dir.path().join(format!("work-{n}"));
        let args = vec![
            "--listen".into(),
            format!("127.0.0.1:{}", free_port()),
            "--runner-id".into(),
            id.clone(),
            "--coordinator".into(),
            format!("http://127.0.0.1:{}", self.registry_port),
            "--backend".into(),
            "docker".into(),
            "--slots".into(),
            slots.to_string(),
            "--work-root".into(),
            work_root.to_string_lossy().into_owned(),
            "--drain-secs".into(),
            "1".into(),
        ];
        let program = bin_dir().join("aide-runner");
        let proc = Proc::spawn(&format!("runner-{n}"), &program, &args, self.dir.path());
        self.runners.push((id.clone(), proc));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let live = self
                .store
                .live_runners(Duration::from_secs(10))
                .await
                .expect("live runners");
            if live.iter().any(|r| r.info.id == id) {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "runner {id} never registered:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_port(&self, port: u16, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{what} never listened on {port}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The tails of every process log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let procs = self
            .gateway_proc
            .iter()
            .chain(self.runners.iter().map(|(_, p)| p))
            .chain(self.coordinators.iter().map(|(_, p)| p));
        for proc in procs {
            out.push_str(&format!("---- {} ----\n{}\n", proc.name, proc.tail(40)));
        }
        out
    }

    /// Ids of the test runners' containers that are running, with their labels
    /// (runner, node, attempt).
    pub fn running_containers(&self) -> Vec<(String, String, String)> {
        let mut found = Vec::new();
        for (id, _) in &self.runners {
            let Ok(out) = Command::new("docker")
                .args(["ps", "--filter"])
                .arg(format!("label=aide.runner={id}"))
                .args([
                    "--format",
                    "{{.Label \"aide.node\"}} {{.Label \"aide.attempt\"}}",
                ])
                .output()
            else {
                continue;
            };
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                if let Some((node, attempt)) = line.trim().split_once(' ') {
                    found.push((id.clone(), node.to_owned(), attempt.to_owned()));
                }
            }
        }
        found
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, proc) in &mut self.coordinators {
            proc.kill();
        }
        for (_, proc) in &mut self.runners {
            proc.kill();
        }
        if let Some(proc) = &mut self.gateway_proc {
            proc.kill();
        }
        for (id, _) in &self.runners {
            remove_containers(id);
        }
        // The store's pool belongs to the test's runtime; drop the database from a thread
        // with its own.
        let (admin_url, db_name) = (self.admin_url.clone(), self.db_name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
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

/// A gRPC client of the coordinator on `port`, retried until it connects.
pub async fn client(port: u16) -> CoordinatorClient<Channel> {
    let address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match CoordinatorClient::connect(address.clone()).await {
            Ok(client) => return client.max_decoding_message_size(64 << 20),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot connect to the coordinator at {address}: {e}"),
        }
    }
}

/// A CreateRun request for the diabetes example with the baseline model.
pub fn diabetes_run(name: &str, steps: u32) -> v1::CreateRunRequest {
    v1::CreateRunRequest {
        name: name.to_owned(),
        task: Some(v1::TaskSource {
            source: Some(v1::task_source::Source::Path(
                diabetes_dir().to_string_lossy().into_owned(),
            )),
            ..Default::default()
        }),
        settings: Some(v1::RunSettings {
            steps: Some(steps),
            k_fold_validation: Some(3),
            exec_timeout_secs: Some(120),
            workers: Some(1),
            ..Default::default()
        }),
    }
}

/// `base` (a server URL) with its database replaced by `name`.
fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base, None),
    };
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let path_start = without_query[scheme_end..]
        .find('/')
        .map_or(without_query.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &without_query[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Checks that the host and port of a `redis://` URL accept connections.
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
