//! The registry-backed executor against stand-in runners served over loopback gRPC and a
//! SQLite store: no runner is an infrastructure error, an unreachable runner is one too and
//! is avoided next time, a runner that leaves the registry mid-execution ends the execution
//! as lost, and reservations are always released.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_coordinator::dispatch::RegistryExecutor;
use aide_coordinator::engine::{Executor, ScriptRun};
use aide_coordinator::registry::RunnerRegistry;
use aide_core::{NodeId, RunId};
use aide_proto::v1::runner_server::{Runner, RunnerServer};
use aide_proto::v1::{
    CancelRequest, CancelResponse, ExecuteEvent, ExecuteRequest, Finished, execute_event::Event,
};
use aide_store::{AnyStore, RunnerInfo, RunnerLoad, RunnerStore};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// An execution to dispatch.
fn script() -> ScriptRun {
    ScriptRun {
        run_id: RunId::new(),
        node_id: NodeId::new(),
        attempt: 1,
        code: "print('ok')".into(),
        input: aide_coordinator::engine::ScriptInput::Local(std::env::temp_dir()),
        timeout: Duration::from_secs(60),
        submission_file: None,
        grading: None,
    }
}

/// A runner that answers every execution with a Finished event at once, or never.
#[derive(Debug, Clone, Copy)]
struct StandIn {
    hang: bool,
}

type Events = Pin<Box<dyn Stream<Item = Result<ExecuteEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Runner for StandIn {
    type ExecuteStream = Events;

    async fn execute(
        &self,
        _request: Request<ExecuteRequest>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        if self.hang {
            return Ok(Response::new(Box::pin(tokio_stream::pending())));
        }
        let finished = ExecuteEvent {
            event: Some(Event::Finished(Finished {
                exit_code: Some(0),
                output: "ok\n".into(),
                ..Default::default()
            })),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(finished)]))))
    }

    async fn cancel(
        &self,
        _request: Request<CancelRequest>,
    ) -> Result<Response<CancelResponse>, Status> {
        Ok(Response::new(CancelResponse::default()))
    }
}

/// A runner whose slots another coordinator filled: it refuses the first `full` executions
/// for want of a slot (as the runner does), then answers like [`StandIn`].
#[derive(Debug, Clone)]
struct FullAtFirst {
    refusals_left: Arc<std::sync::atomic::AtomicUsize>,
}

#[tonic::async_trait]
impl Runner for FullAtFirst {
    type ExecuteStream = Events;

    async fn execute(
        &self,
        request: Request<ExecuteRequest>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        use std::sync::atomic::Ordering;
        let refuse = self
            .refusals_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        match refuse {
            true => Err(Status::resource_exhausted("all 1 slots are busy")),
            false => StandIn { hang: false }.execute(request).await,
        }
    }

    async fn cancel(
        &self,
        request: Request<CancelRequest>,
    ) -> Result<Response<CancelResponse>, Status> {
        StandIn { hang: false }.cancel(request).await
    }
}

/// Serves a stand-in runner until `stop`; returns its address.
async fn serve<R: Runner>(runner: R, stop: CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RunnerServer::new(runner))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop.cancelled_owned()),
    );
    address
}

/// An address nothing listens on.
fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", listener.local_addr().expect("address"))
}

struct Fixture {
    store: Arc<AnyStore>,
    registry: Arc<RunnerRegistry<AnyStore>>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("store.db").display());
    let store = Arc::new(aide_store::connect(&url).await.expect("store"));
    let registry = Arc::new(RunnerRegistry::new(store.clone(), Duration::from_secs(1)));
    Fixture {
        store,
        registry,
        _dir: dir,
    }
}

async fn register(store: &AnyStore, id: &str, address: &str) {
    store
        .register_runner(RunnerInfo {
            id: id.into(),
            address: address.into(),
            slots: 1,
            labels: serde_json::json!({}),
        })
        .await
        .expect("register");
    store
        .heartbeat_runner(
            id,
            RunnerLoad {
                free_slots: 1,
                running: 0,
                cpu_load: 0.0,
                memory_load: 0.0,
                cache_bytes: None,
            },
        )
        .await
        .expect("heartbeat");
}

#[tokio::test]
async fn no_runner_is_an_infrastructure_error() {
    let f = fixture().await;
    let executor =
        RegistryExecutor::new(f.registry.clone()).with_slot_wait(Duration::from_millis(600));
    let started = Instant::now();
    let err = executor.execute(script()).await.expect_err("no runner");
    assert!(err.is_infrastructure(), "{err:?}");
    assert!(err.message.contains("no runner is registered"), "{err}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "it waited for a runner"
    );
}

/// A runner that says it is full (its heartbeat had not told yet) costs no attempt: the
/// execution waits for a slot and runs, in the same call.
#[tokio::test]
async fn a_runner_refusing_for_want_of_a_slot_is_waited_for_not_failed() {
    let f = fixture().await;
    let stop = CancellationToken::new();
    let refusals = Arc::new(std::sync::atomic::AtomicUsize::new(2));
    let runner = FullAtFirst {
        refusals_left: refusals.clone(),
    };
    let address = serve(runner, stop.clone()).await;
    register(&f.store, "full", &address).await;
    let executor = RegistryExecutor::new(f.registry.clone());
    let executed = tokio::time::timeout(Duration::from_secs(20), executor.execute(script()))
        .await
        .expect("it ran in the end")
        .expect("no error");
    assert_eq!(executed.output, "ok\n");
    assert_eq!(refusals.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(f.registry.reserved("full"), 0);
    stop.cancel();
}

/// A full fleet is a queue: while the only runner is busy an execution waits its turn, far
/// past the wait for a runner to exist, then runs when the slot frees.
#[tokio::test]
async fn an_execution_waits_its_turn_while_every_runner_is_busy() {
    let f = fixture().await;
    let stop = CancellationToken::new();
    let hanging = serve(StandIn { hang: true }, stop.clone()).await;
    register(&f.store, "only", &hanging).await;
    let executor = Arc::new(
        RegistryExecutor::new(f.registry.clone()).with_slot_wait(Duration::from_millis(300)),
    );
    let first = {
        let executor = executor.clone();
        tokio::spawn(async move { executor.execute(script()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.registry.reserved("only"), 1, "the first holds the slot");
    let second = {
        let executor = executor.clone();
        tokio::spawn(async move { executor.execute(script()).await })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!second.is_finished(), "a busy fleet is not an error");
    assert_eq!(executor.queue().depth(), 1, "the second is in the queue");
    first.abort();
    let _ = first.await;
    let turn = tokio::time::timeout(Duration::from_secs(5), async {
        while f.registry.reserved("only") == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(turn.is_ok(), "the second took the freed slot");
    assert_eq!(executor.queue().depth(), 0);
    second.abort();
    stop.cancel();
}

#[tokio::test]
async fn an_unreachable_runner_is_lost_and_avoided_for_the_next_execution() {
    let f = fixture().await;
    let stop = CancellationToken::new();
    let live = serve(StandIn { hang: false }, stop.clone()).await;
    register(&f.store, "dead", &dead_address()).await;
    register(&f.store, "live", &live).await;
    let executor = RegistryExecutor::new(f.registry.clone());
    let mut failures = 0;
    for _ in 0..3 {
        match executor.execute(script()).await {
            Ok(executed) => {
                assert_eq!(executed.output, "ok\n");
                // The stand-in sends no Started event: the registry's id is kept.
                assert!(executed.runner_id.is_some());
            }
            Err(e) => {
                assert!(e.is_infrastructure(), "{e:?}");
                assert!(e.message.contains("dead"), "{e}");
                failures += 1;
            }
        }
    }
    assert!(failures <= 1, "the failed runner was picked again");
    assert_eq!(f.registry.reserved("dead") + f.registry.reserved("live"), 0);
    stop.cancel();
}

#[tokio::test]
async fn a_runner_that_leaves_the_registry_mid_execution_loses_the_execution() {
    let f = fixture().await;
    let stop = CancellationToken::new();
    let hanging = serve(StandIn { hang: true }, stop.clone()).await;
    register(&f.store, "hanging", &hanging).await;
    let executor = Arc::new(RegistryExecutor::new(f.registry.clone()));
    let running = {
        let executor = executor.clone();
        tokio::spawn(async move { executor.execute(script()).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        f.registry.reserved("hanging"),
        1,
        "the slot is held while running"
    );
    let left = Instant::now();
    assert!(
        f.store
            .deregister_runner("hanging")
            .await
            .expect("deregister")
    );
    let err = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the execution ends")
        .expect("task")
        .expect_err("lost");
    assert!(err.is_infrastructure(), "{err:?}");
    assert!(err.message.contains("left the registry"), "{err}");
    assert!(
        left.elapsed() < Duration::from_secs(5),
        "{:?}",
        left.elapsed()
    );
    assert_eq!(f.registry.reserved("hanging"), 0);
    stop.cancel();
}
