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
//! with the `aide-sandbox:py311` image, under aide-testkit's rule (a missing one fails the
//! test under `CI` and skips it loudly otherwise). Every child process is killed (SIGKILL)
//! when the [`Cluster`] is dropped, the database is dropped, and containers of the test's
//! runners are removed.
#![allow(dead_code)]

pub mod procs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_core::access::{Role, Token};
use aide_proto::bearer::{AuthedChannel, Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use aide_store::{AnyStore, RunnerStore};
use aide_testkit::{ChildGuard, TestDatabase, free_port, unavailable};
use tempfile::TempDir;
use tonic::transport::Channel;

pub use procs::remove_containers;
use procs::{bin_dir, command, spawn};

pub const SANDBOX_IMAGE: &str = "aide-sandbox:py311";

/// One deployment: a database, a gateway, runners and coordinators.
#[derive(Debug)]
pub struct Cluster {
    pub tag: String,
    pub db_url: String,
    pub store: Arc<AnyStore>,
    pub gateway: SocketAddr,
    redis_url: String,
    pub runners: Vec<(String, ChildGuard)>,
    pub coordinators: Vec<(u16, ChildGuard)>,
    /// How each runner and coordinator was started, to start it again after a kill.
    runner_args: Vec<Vec<String>>,
    coordinator_args: Vec<Vec<String>>,
    /// Starts of each process so far, so that a restart logs to a file of its own.
    restarts: usize,
    gateway_proc: Option<ChildGuard>,
    /// The port runners register with (the first coordinator's).
    pub registry_port: u16,
    pub lease_ttl_secs: u64,
    /// A member token of the `default` project, which the clients send.
    pub member: Token,
    pub dir: TempDir,
    /// Dropped after the processes (fields drop after [`Cluster`]'s `drop`); `None` when
    /// the test brought its own database server.
    database: Option<TestDatabase>,
}

impl Cluster {
    /// A database and a gateway (offline baseline author); `None` (after a loud message) when
    /// a service is missing outside CI.
    pub async fn start(lease_ttl_secs: u64) -> Option<Self> {
        Self::start_with_provider(lease_ttl_secs, None).await
    }

    /// As [`Cluster::start`], the gateway's `openai` provider at `openai_base_url` when given
    /// (bare model names go there, no key needed).
    pub async fn start_with_provider(
        lease_ttl_secs: u64,
        openai_base_url: Option<&str>,
    ) -> Option<Self> {
        let redis_url = aide_testkit::redis::require()?;
        sandbox_image_present()?;
        let database = TestDatabase::create("aide_dist").await?;
        let tag = database.name()[database.name().len() - 12..].to_owned();
        let db_url = database.url().to_owned();
        let servers = Servers {
            db_url,
            redis_url,
            database: Some(database),
        };
        Some(Self::start_on(servers, &tag, lease_ttl_secs, openai_base_url).await)
    }

    /// A deployment over database servers the test owns (to stop and restart them): the
    /// `postgres` database at `db_url` and the Redis at `redis_url`.
    pub async fn start_with_servers(
        db_url: String,
        redis_url: String,
        lease_ttl_secs: u64,
    ) -> Option<Self> {
        sandbox_image_present()?;
        let tag = format!("{:012x}", rand_tag());
        let servers = Servers {
            db_url,
            redis_url,
            database: None,
        };
        Some(Self::start_on(servers, &tag, lease_ttl_secs, None).await)
    }

    async fn start_on(
        servers: Servers,
        tag: &str,
        lease_ttl_secs: u64,
        openai_base_url: Option<&str>,
    ) -> Self {
        let Servers {
            db_url,
            redis_url,
            database,
        } = servers;
        let store = Arc::new(aide_store::connect(&db_url).await.expect("test store"));
        let member = crate::api_support::mint(&*store, "default", Role::Member).await;
        let dir = tempfile::tempdir().expect("temp dir");
        // Runners keep their bundle caches in it, which must be reachable by other users.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .expect("chmod");
        let gateway_port = free_port();
        let gateway = SocketAddr::from(([127, 0, 0, 1], gateway_port));
        let mut cluster = Self {
            tag: tag.to_owned(),
            db_url,
            store,
            gateway,
            redis_url,
            runners: Vec::new(),
            coordinators: Vec::new(),
            runner_args: Vec::new(),
            coordinator_args: Vec::new(),
            restarts: 0,
            gateway_proc: None,
            registry_port: free_port(),
            lease_ttl_secs,
            member,
            dir,
            database,
        };
        let args = vec![
            "--plaintext".into(),
            "--listen".into(),
            gateway.to_string(),
            "--redis-url".into(),
            cluster.redis_url.clone(),
        ];
        let program = bin_dir().join("aide-gateway");
        let mut gateway = command(&program, &args);
        if let Some(url) = openai_base_url {
            gateway.env("OPENAI_BASE_URL", url);
        }
        cluster.gateway_proc = Some(spawn("gateway", gateway, cluster.dir.path()));
        cluster.wait_port(gateway_port, "gateway").await;
        cluster
    }

    /// Starts a coordinator replica on `port` (the registry port for the first one).
    pub async fn start_coordinator(&mut self, port: u16) -> CoordinatorClient<AuthedChannel> {
        let n = self.coordinators.len();
        let args = vec![
            "--plaintext".into(),
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
            // Replicas share one blob store, as they would share a bucket.
            "--data-dir".into(),
            self.dir.path().join("data").display().to_string(),
        ];
        let program = PathBuf::from(env!("CARGO_BIN_EXE_aide-coordinator"));
        let proc = spawn(
            &format!("coordinator-{n}"),
            command(&program, &args),
            self.dir.path(),
        );
        self.coordinators.push((port, proc));
        self.coordinator_args.push(args);
        self.wait_port(port, "coordinator").await;
        client(port, &self.member).await
    }

    /// Starts a Docker runner with `slots` that registers with the registry port and waits
    /// until it is registered.
    pub async fn start_runner(&mut self, slots: u32) -> String {
        self.start_runner_with(slots, &[]).await
    }

    /// `start_runner` with `extra` runner flags.
    pub async fn start_runner_with(&mut self, slots: u32, extra: &[&str]) -> String {
        let n = self.runners.len();
        let id = format!("dist-{}-r{n}", self.tag);
        let work_root = self.dir.path().join(format!("work-{n}"));
        let args = vec![
            "--plaintext".into(),
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
            "--cache-dir".into(),
            self.dir
                .path()
                .join(format!("bundles-{n}"))
                .display()
                .to_string(),
            "--drain-secs".into(),
            "1".into(),
        ];
        let args: Vec<String> = args
            .into_iter()
            .chain(extra.iter().map(|a| a.to_string()))
            .collect();
        let program = bin_dir().join("aide-runner");
        let proc = spawn(
            &format!("runner-{n}"),
            command(&program, &args),
            self.dir.path(),
        );
        self.runners.push((id.clone(), proc));
        self.runner_args.push(args);
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

    /// Starts runner `i` again as it was first started (after a kill); it registers again
    /// by itself.
    pub fn restart_runner(&mut self, i: usize) {
        self.restarts += 1;
        let name = format!("runner-{i}-{}", self.restarts);
        let program = bin_dir().join("aide-runner");
        let proc = spawn(
            &name,
            command(&program, &self.runner_args[i]),
            self.dir.path(),
        );
        self.runners[i].1 = proc;
    }

    /// Starts coordinator `i` again as it was first started (after a kill) and waits until
    /// it listens.
    pub async fn restart_coordinator(&mut self, i: usize) {
        self.restarts += 1;
        let name = format!("coordinator-{i}-{}", self.restarts);
        let program = PathBuf::from(env!("CARGO_BIN_EXE_aide-coordinator"));
        let args = &self.coordinator_args[i];
        let proc = spawn(&name, command(&program, args), self.dir.path());
        self.coordinators[i].1 = proc;
        let port = self.coordinators[i].0;
        self.wait_port(port, "coordinator").await;
    }

    async fn wait_port(&self, port: u16, what: &str) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if !aide_testkit::wait_for_port(addr, Duration::from_secs(60)) {
            panic!("{what} never listened on {port}:\n{}", self.logs());
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
    }
}

/// Where a [`Cluster`] keeps its state.
struct Servers {
    db_url: String,
    redis_url: String,
    database: Option<TestDatabase>,
}

/// `Some(())` when Docker has the sandbox image (else the testkit's rule for a missing
/// service).
fn sandbox_image_present() -> Option<()> {
    match Command::new("docker")
        .args(["image", "inspect", SANDBOX_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Some(()),
        Ok(_) => unavailable("Docker", format!("image {SANDBOX_IMAGE} not found")),
        Err(e) => unavailable("Docker", e),
    }
}

/// A tag for the names of a deployment's runners and replicas.
fn rand_tag() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

/// A gRPC client of the coordinator on `port`, retried until it connects.
pub async fn client(port: u16, token: &Token) -> CoordinatorClient<AuthedChannel> {
    let address = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Channel::from_shared(address.clone())
            .expect("address")
            .connect()
            .await
        {
            Ok(channel) => {
                return CoordinatorClient::new(authed(channel, Bearer::new(token)))
                    .max_decoding_message_size(64 << 20);
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot connect to the coordinator at {address}: {e}"),
        }
    }
}

impl Cluster {
    /// A CreateRun request for the diabetes example with the baseline model, its task uploaded
    /// to the registry coordinator as `aide submit` does.
    pub async fn diabetes_run(&self, name: &str, steps: u32) -> v1::CreateRunRequest {
        let settings = v1::RunSettings {
            steps: Some(steps),
            k_fold_validation: Some(3),
            exec_timeout_secs: Some(120),
            workers: Some(1),
            ..Default::default()
        };
        self.pushed_run(name, &aide_testkit::example_dir("diabetes"), settings)
            .await
    }

    /// A CreateRun request for the task in `task_dir`, uploaded to the registry coordinator as
    /// `aide submit` does.
    pub async fn pushed_run(
        &self,
        name: &str,
        task_dir: &std::path::Path,
        settings: v1::RunSettings,
    ) -> v1::CreateRunRequest {
        let task = aide_core::Task::load(task_dir).expect("task");
        let channel = Channel::from_shared(format!("http://127.0.0.1:{}", self.registry_port))
            .expect("address")
            .connect()
            .await
            .expect("connect");
        let channel = authed(channel, Bearer::new(&self.member));
        let (bundle, _) = aide_bundle::push::push_task(
            channel,
            &task,
            aide_core::bundle::Limits::default(),
            &aide_bundle::push::Quiet,
        )
        .await
        .expect("upload the task");
        v1::CreateRunRequest {
            name: name.to_owned(),
            task: Some(v1::TaskSource {
                source: Some(v1::task_source::Source::Bundle(bundle)),
                ..Default::default()
            }),
            settings: Some(settings),
        }
    }
}
