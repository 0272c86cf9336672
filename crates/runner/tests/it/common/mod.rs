//! Shared test harness: a runner served in-process on loopback, a client, and helpers that
//! run one script and gather its events.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use aide_proto::v1::{
    CancelRequest, ExecuteEvent, ExecuteRequest, Finished, Limits, OutputChunk, ResourceSample,
    Started, WorkContext, execute_event::Event, runner_client::RunnerClient,
};
use aide_runner::Config;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A runner serving on loopback for one test.
pub struct Harness {
    pub url: String,
    pub client: RunnerClient<Channel>,
    pub work_root: PathBuf,
    pub config: Config,
    /// The registry the runner counts into (what its `/metrics` would serve).
    pub metrics: std::sync::Arc<aide_telemetry::Metrics>,
    shutdown: CancellationToken,
    task: JoinHandle<aide_runner::Result<()>>,
    _dir: tempfile::TempDir,
}

pub use aide_testkit::is_root;

/// Skips loudly (or fails under CI) when Docker or the sandbox image is missing.
pub async fn docker_available(image: &str) -> bool {
    let problem = match bollard::Docker::connect_with_local_defaults() {
        Err(e) => Some(format!("no docker client: {e}")),
        Ok(d) => match d.negotiate_version().await {
            Err(e) => Some(format!("docker daemon unreachable: {e}")),
            Ok(d) => d
                .inspect_image(image)
                .await
                .err()
                .map(|e| format!("image {image} missing: {e}")),
        },
    };
    match problem {
        None => true,
        Some(p) => aide_testkit::unavailable::<()>("Docker", p).is_some(),
    }
}

impl Harness {
    /// Starts a runner with `args` added to a baseline config; like the runner of `aide run`,
    /// it takes host directories as input.
    pub async fn start(args: &[&str]) -> Harness {
        Harness::start_with(args, true).await
    }

    /// Starts a runner as the `aide-runner` binary does from `args`: host directories are
    /// refused as input.
    pub async fn as_service(args: &[&str]) -> Harness {
        Harness::start_with(args, false).await
    }

    async fn start_with(args: &[&str], accept_local_input: bool) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let work_root = dir.path().join("work");
        // The tempdir itself is private; sandbox users must traverse it.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .expect("chmod");
        let root = work_root.to_string_lossy().into_owned();
        let mut argv = vec![
            "aide-runner",
            "--plaintext",
            "--listen",
            "127.0.0.1:0",
            "--work-root",
            &root,
            "--grace-secs",
            "1",
            "--sample-ms",
            "200",
            "--drain-secs",
            "2",
        ];
        argv.extend_from_slice(args);
        let mut config = Config::from_argv(argv).expect("config");
        config.accept_local_input = accept_local_input;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let metrics = aide_telemetry::Metrics::new();
        let task = tokio::spawn(aide_runner::serve_in(
            aide_service::Shell::new(metrics.clone()),
            config.clone(),
            listener,
            shutdown.clone(),
        ));
        let client = connect(&url).await;
        wait_serving(&url).await;
        Harness {
            url,
            client,
            work_root,
            config,
            metrics,
            shutdown,
            task,
            _dir: dir,
        }
    }

    /// A process-backend runner; `uid_base` keeps parallel tests apart.
    pub async fn process(slots: usize, uid_base: u32) -> Harness {
        let slots = slots.to_string();
        let uid = uid_base.to_string();
        Harness::start(&[
            "--backend",
            "process",
            "--slots",
            &slots,
            "--python",
            "/usr/bin/python3",
            "--uid-base",
            &uid,
        ])
        .await
    }

    /// Runs one script to the end.
    pub async fn run(&self, req: ExecuteRequest) -> Outcome {
        let mut client = self.client.clone();
        let stream = client.execute(req).await.expect("execute").into_inner();
        collect(stream).await
    }

    /// Cancels `work`.
    pub async fn cancel(&self, work: WorkContext) -> bool {
        let mut client = self.client.clone();
        client
            .cancel(CancelRequest { work: Some(work) })
            .await
            .expect("cancel")
            .into_inner()
            .found
    }

    /// Stops the runner and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("join").expect("runner result");
    }

    /// Entries left in the work root.
    pub fn leftover_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.work_root)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

/// Connects, retrying while the server comes up.
pub async fn connect(url: &str) -> RunnerClient<Channel> {
    for _ in 0..100 {
        if let Ok(c) = RunnerClient::connect(url.to_string()).await {
            return c.max_decoding_message_size(64 << 20);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("runner at {url} never came up");
}

/// Waits until gRPC health reports aide.v1.Runner as SERVING (start-up sweep done).
pub async fn wait_serving(url: &str) {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let endpoint = tonic::transport::Endpoint::from_shared(url.to_string()).expect("url");
    for _ in 0..200 {
        let Ok(channel) = endpoint.connect().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut health = HealthClient::new(channel);
        let req = HealthCheckRequest {
            service: "aide.v1.Runner".into(),
        };
        if let Ok(r) = health.check(req).await
            && r.into_inner().status() == ServingStatus::Serving
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("runner at {url} never became healthy");
}

/// Everything an execution streamed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub started: Option<Started>,
    pub chunks: Vec<OutputChunk>,
    pub samples: Vec<ResourceSample>,
    pub finished: Finished,
}

impl Outcome {
    /// The streamed chunks joined.
    pub fn streamed(&self) -> String {
        self.chunks.iter().map(|c| c.text.as_str()).collect()
    }
}

/// Reads a stream to its end; Finished must come last.
pub async fn collect(mut stream: tonic::Streaming<ExecuteEvent>) -> Outcome {
    let mut out = Outcome::default();
    let mut finished = None;
    while let Some(ev) = stream.next().await {
        let ev = ev.expect("event");
        assert!(finished.is_none(), "event after Finished");
        match ev.event.expect("event body") {
            Event::Started(s) => out.started = Some(s),
            Event::Output(c) => out.chunks.push(c),
            Event::Sample(s) => out.samples.push(s),
            Event::Finished(f) => finished = Some(f),
        }
    }
    out.finished = finished.expect("stream ended without Finished");
    out
}

/// A request for `code` with a fresh work id.
pub fn request(code: &str) -> ExecuteRequest {
    ExecuteRequest {
        work: Some(work()),
        code: code.to_string(),
        limits: Some(Limits {
            timeout: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A unique work context.
pub fn work() -> WorkContext {
    WorkContext {
        run_id: format!("run{}", rand_id()),
        node_id: format!("node{}", rand_id()),
        attempt: 1,
        deadline: None,
        grading: None,
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish() % 1_000_000_000
}

/// Sets the timeout of `req`.
pub fn with_timeout(mut req: ExecuteRequest, secs: i64) -> ExecuteRequest {
    req.limits.get_or_insert_default().timeout = Some(prost_types::Duration {
        seconds: secs,
        nanos: 0,
    });
    req
}

/// A read-only task input directory with one file.
pub fn input_dir(root: &Path) -> PathBuf {
    let input = root.join("input");
    std::fs::create_dir_all(&input).expect("input");
    std::fs::write(input.join("train.csv"), "x,y\n1,2\n3,4\n").expect("train");
    std::fs::set_permissions(&input, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    input
}

/// Seconds of a proto duration.
pub fn secs(d: &Option<prost_types::Duration>) -> f64 {
    d.as_ref()
        .map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9)
}

/// A temporary directory sandbox users can traverse and read.
pub fn shared_tempdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    d
}
