//! The harness of the API tests: a real `aide.v1.Coordinator` tonic server on loopback over
//! a real store, SQLite in a temporary directory or a fresh Postgres database per test
//! (`aide_api_test_<uuid>` on `AIDE_TEST_POSTGRES_URL`, dropped afterwards; without a
//! reachable server the Postgres tests fail when `CI` is set and are skipped loudly
//! otherwise), and helpers that write a run's history straight into the store under a lease.
#![allow(dead_code)]

pub mod access;
pub mod caps;
pub mod nodes;
pub mod runners;
pub mod runs;
pub mod steer;
pub mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aide_bundle::push::{Quiet, push_task};
use aide_coordinator::access::Access;
use aide_coordinator::access::admin::AdminService;
use aide_coordinator::api::sweeps::SweepsService;
use aide_coordinator::api::{ApiConfig, CoordinatorService, EventNotifier, TaskIntake};
use aide_coordinator::blobs::{BlobStore, BlobsService, DEFAULT_MAX_BLOB_BYTES};
use aide_coordinator::task_roots::{TaskRootArg, TaskRoots};
use aide_core::access::{Role, Token};
use aide_core::bundle::Limits;
use aide_core::task::ReferenceTask;
use aide_core::{Action, NodeId, RunSettings, Task};
use aide_proto::bearer::{AuthedChannel, Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use aide_store::{AnyStore, ExecutionStore, Lease, NewNode, NewRun, NodeStore, RunStore};
use aide_testkit::TestDatabase;
pub use aide_testkit::fixtures::mint;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// A Coordinator client sending a token.
pub type Client = CoordinatorClient<AuthedChannel>;

/// One test's server, client and store.
pub struct Harness {
    pub store: Arc<AnyStore>,
    /// A client with a member token of the `default` project.
    pub client: Client,
    /// That member's token, and an admin token of the same project.
    pub member: Token,
    pub admin: Token,
    pub notifier: EventNotifier,
    pub config: ApiConfig,
    pub dir: TempDir,
    /// The blob store the server takes tasks into.
    pub blobs: BlobStore,
    /// The server's address, for its Blobs service.
    pub address: String,
    shutdown: CancellationToken,
    /// Dropped (from the server) with the harness.
    postgres: Option<TestDatabase>,
}

/// The API settings of the tests: short polls and grace so streams end quickly.
pub fn test_config() -> ApiConfig {
    ApiConfig {
        heartbeat_interval: Duration::from_secs(2),
        watch_poll: Duration::from_millis(50),
        finish_grace: Duration::from_millis(300),
        watch_page: 2,
        // The runner tests register process-backend runners, as a trusted deployment allows.
        allow_process_runners: true,
        ..ApiConfig::default()
    }
}

impl Harness {
    pub async fn sqlite() -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite:{}", dir.path().join("aide.db").display());
        let store = aide_store::connect(&url).await.expect("open SQLite store");
        Some(Self::serve(store, dir, None).await)
    }

    pub async fn postgres() -> Option<Self> {
        let database = TestDatabase::create("aide_api_test").await?;
        let store = aide_store::connect(database.url())
            .await
            .expect("open the Postgres store");
        let dir = tempfile::tempdir().expect("temporary directory");
        Some(Self::serve(store, dir, Some(database)).await)
    }

    async fn serve(store: AnyStore, dir: TempDir, postgres: Option<TestDatabase>) -> Self {
        let store = Arc::new(store);
        let config = test_config();
        let shutdown = CancellationToken::new();
        let blobs = BlobStore::from_url(None, &dir.path().join("data")).expect("blob store");
        let roots_dir = dir.path().join("roots");
        std::fs::create_dir_all(&roots_dir).expect("roots");
        let root = TaskRootArg {
            name: "bench".into(),
            dir: roots_dir,
        };
        let intake = TaskIntake {
            blobs: Some(blobs.clone()),
            roots: TaskRoots::new([root]).expect("task roots"),
        };
        let (notifier, address) =
            start_server(store.clone(), config.clone(), intake, &shutdown).await;
        let member = mint(&*store, "default", Role::Member).await;
        let admin = mint(&*store, "default", Role::Admin).await;
        let client = connect(&address, Some(&member)).await;
        Self {
            store,
            client,
            member,
            admin,
            notifier,
            config,
            dir,
            blobs,
            address,
            shutdown,
            postgres,
        }
    }

    /// The Postgres database's URL, when the harness has one.
    pub fn database_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(TestDatabase::url)
    }

    /// The directory of the server's task root `bench`.
    pub fn task_root(&self) -> std::path::PathBuf {
        self.dir.path().join("roots")
    }

    /// Uploads a task loaded here, as `aide submit` does; the request's task source.
    pub async fn upload(&self, task: &Task) -> v1::TaskSource {
        let channel = authed_channel(&self.address, Some(&self.member)).await;
        let (bundle, _) = push_task(channel, task, Limits::default(), &Quiet)
            .await
            .expect("upload the task");
        v1::TaskSource {
            source: Some(v1::task_source::Source::Bundle(bundle)),
            ..Default::default()
        }
    }

    /// A second server on the same store with other settings; stops with the harness.
    pub async fn another_server(&self, config: ApiConfig) -> (Client, EventNotifier) {
        let intake = TaskIntake {
            blobs: Some(self.blobs.clone()),
            ..TaskIntake::default()
        };
        let (notifier, address) =
            start_server(self.store.clone(), config, intake, &self.shutdown).await;
        (connect(&address, Some(&self.member)).await, notifier)
    }

    /// A client of this test's server (a member of `default`).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A client of this test's server sending `token`, or none.
    pub async fn client_with(&self, token: Option<&Token>) -> Client {
        connect(&self.address, token).await
    }

    pub async fn cleanup(&self) {
        self.shutdown.cancel();
        self.store.close().await;
    }

    // ---- writing history through the store ----

    /// A queued run of the house-prices task, straight into the store.
    pub async fn queued_run(&self, name: &str) -> aide_store::RunRecord {
        self.store
            .create_run(NewRun {
                project: aide_core::access::ProjectName::default_project(),
                name: name.into(),
                task: house_prices_task(),
                settings: RunSettings::default(),
                direction: Some(aide_core::Direction::Minimize),
                seed: 0,
                fork_of: None,
            })
            .await
            .expect("create run")
    }

    /// Claims the oldest claimable run (tests create one at a time before claiming).
    pub async fn claim(&self) -> Lease {
        self.store
            .claim_run("test-owner", Duration::from_secs(60))
            .await
            .expect("claim")
            .expect("a claimable run")
    }

    /// A queued run, claimed.
    pub async fn running_run(&self, name: &str) -> Lease {
        let run = self.queued_run(name).await;
        let lease = self.claim().await;
        assert_eq!(lease.run_id, run.id);
        lease
    }

    /// A node at `step` carried to `generated` with `code`.
    pub async fn generated_node(
        &self,
        lease: &Lease,
        step: u32,
        parent: Option<NodeId>,
        code: &str,
    ) -> NodeId {
        let id = NodeId::new();
        let action = if parent.is_some() {
            Action::Improve
        } else {
            Action::Draft
        };
        self.store
            .insert_node(
                lease,
                NewNode {
                    id,
                    parent,
                    partner: None,
                    action,
                    step,
                    debug_depth: 0,
                },
            )
            .await
            .expect("insert node");
        self.store
            .mark_generated(
                lease,
                id,
                aide_store::Generation {
                    plan: format!("plan of step {step}"),
                    code: Some(code.into()),
                    raw_reply: None,
                },
            )
            .await
            .expect("mark generated");
        id
    }

    /// A node carried through one execution attempt to `reviewed`; `metric` None makes
    /// it buggy.
    pub async fn reviewed_node(
        &self,
        lease: &Lease,
        step: u32,
        parent: Option<NodeId>,
        metric: Option<f64>,
    ) -> NodeId {
        let code = format!("print('step {step}')\n");
        let id = self.generated_node(lease, step, parent, &code).await;
        let attempt = self
            .store
            .start_execution(lease, id)
            .await
            .expect("start execution");
        let output = match metric {
            Some(m) => format!("validation rmse: {m}\n"),
            None => "Traceback (most recent call last):\nValueError: bad\n".into(),
        };
        self.store
            .finish_execution(
                id,
                attempt,
                aide_store::ExecutionResult {
                    exit_code: Some(i32::from(metric.is_none())),
                    timed_out: false,
                    oom_killed: false,
                    wall_secs: 1.5,
                    cpu_secs: Some(1.0),
                    peak_memory_bytes: None,
                    output: output.clone(),
                    output_bytes: output.len() as u64,
                    exc_type: metric.is_none().then(|| "ValueError".into()),
                    exc_message: None,
                    runner_id: Some("r1".into()),
                },
            )
            .await
            .expect("finish execution");
        self.store
            .mark_executed(
                lease,
                id,
                aide_store::ExecutionSummary {
                    term_out: output,
                    exit_code: Some(i32::from(metric.is_none())),
                    exec_time_secs: 1.5,
                    timed_out: false,
                    exc_type: metric.is_none().then(|| "ValueError".into()),
                    exc_info: None,
                    wrote_submission: metric.is_some(),
                },
            )
            .await
            .expect("mark executed");
        let bug_reasons = match metric {
            Some(_) => vec![],
            None => vec![
                aide_core::BugReason::Exception("ValueError".into()),
                aide_core::BugReason::NonZeroExit(1),
            ],
        };
        self.store
            .mark_reviewed(
                lease,
                id,
                aide_store::Review {
                    is_buggy: metric.is_none(),
                    bug_reasons,
                    metric,
                    summary: format!("summary of step {step}"),
                },
            )
            .await
            .expect("mark reviewed");
        id
    }
}

/// Serves the API (Coordinator, Blobs, Admin, Sweeps) over `store` on a loopback port until
/// `shutdown`; its notifier and URL.
async fn start_server(
    store: Arc<AnyStore>,
    config: ApiConfig,
    intake: TaskIntake,
    shutdown: &CancellationToken,
) -> (EventNotifier, String) {
    let access = Access::new(store.clone());
    let blobs = intake.blobs.clone();
    let admin = AdminService::new(store.clone(), access.clone()).into_server();
    let sweeps = SweepsService::new(
        store.clone(),
        access.clone(),
        intake.clone(),
        config.caps.clone(),
    )
    .into_server();
    let service = CoordinatorService::new(store, config)
        .with_intake(intake)
        .with_access(access.clone());
    let notifier = service.notifier().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let stop = shutdown.clone();
    let blobs = blobs.map(|b| {
        BlobsService::new(b, DEFAULT_MAX_BLOB_BYTES, Arc::new(access.clone())).into_server()
    });
    tokio::spawn(async move {
        let mut shell = aide_service::Shell::default()
            .add_service(service.into_server())
            .add_service(admin)
            .add_service(sweeps);
        if let Some(blobs) = blobs {
            shell = shell.add_service(blobs);
        }
        shell.serve(listener, stop, async {}).await.expect("serve");
    });
    (notifier, format!("http://{addr}"))
}

/// A channel to `address` sending `token` (or none).
pub async fn authed_channel(address: &str, token: Option<&Token>) -> AuthedChannel {
    let channel = Channel::from_shared(address.to_owned())
        .expect("address")
        .connect()
        .await
        .expect("connect to the coordinator");
    authed(channel, token.map_or_else(Bearer::none, Bearer::new))
}

/// A Coordinator client of `address` sending `token` (or none).
pub async fn connect(address: &str, token: Option<&Token>) -> Client {
    CoordinatorClient::new(authed_channel(address, token).await)
}

/// Runs one test body against a harness and cleans up even when the body panics.
pub async fn run_test<F, Fut>(harness: Option<Harness>, body: F)
where
    F: FnOnce(Arc<Harness>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(harness) = harness else { return };
    let harness = Arc::new(harness);
    let outcome = tokio::spawn(body(harness.clone())).await;
    harness.cleanup().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

// ---- the shared task data ----

pub fn house_prices_task() -> Task {
    Task::from_reference(&ReferenceTask {
        data_dir: Some(aide_testkit::house_prices_dir()),
        goal: Some("Predict the sales price for each house.".into()),
        eval: None,
        desc_file: None,
    })
    .expect("house-prices task")
}

/// A CreateRun request for the task directory at `path`, uploaded.
pub async fn create_from_path(
    h: &Harness,
    path: &std::path::Path,
    settings: Option<v1::RunSettings>,
) -> v1::CreateRunRequest {
    let task = Task::load(path).expect("a valid task");
    v1::CreateRunRequest {
        name: String::new(),
        task: Some(h.upload(&task).await),
        settings,
    }
}

/// A CreateRun request for a house-prices run in the reference's style, uploaded.
pub async fn create_reference(h: &Harness, name: &str) -> v1::CreateRunRequest {
    let mut task = house_prices_task();
    task.eval = Some("RMSE of the log prices.".into());
    let mut source = h.upload(&task).await;
    source.metric_name = "rmse".into();
    v1::CreateRunRequest {
        name: name.into(),
        task: Some(source),
        settings: None,
    }
}

/// Parses a run id from the API.
pub fn run_id(run: &v1::Run) -> aide_core::RunId {
    aide_core::RunId(run.id.parse().expect("run id is a UUID"))
}

/// An ExportRun stream gathered into one message: the name, and every piece's bytes.
pub async fn collect_export(
    mut stream: tonic::Streaming<v1::ExportRunResponse>,
) -> Result<v1::ExportRunResponse, tonic::Status> {
    let mut whole = v1::ExportRunResponse::default();
    let mut first = true;
    while let Some(piece) = stream.message().await? {
        assert!(
            piece.content.len() <= 1 << 20,
            "a message holds at most 1 MiB"
        );
        if first {
            assert!(
                !piece.file_name.is_empty(),
                "the first message names the file"
            );
            whole.file_name = piece.file_name;
            first = false;
        } else {
            assert!(
                piece.file_name.is_empty(),
                "only the first message names the file"
            );
        }
        whole.content.extend_from_slice(&piece.content);
    }
    Ok(whole)
}
