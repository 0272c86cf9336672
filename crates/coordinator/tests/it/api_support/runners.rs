//! RegisterRunner, RunnerHeartbeat (and its cancel list) and the runner registry's choice
//! and reaping.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aide_coordinator::registry::RunnerRegistry;
use aide_core::NodeId;
use aide_proto::v1;
use aide_store::{ExecutionStore, Lease, RunStatus, RunStore, RunnerStore};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::Harness;

fn registration(id: &str, slots: u32) -> v1::RegisterRunnerRequest {
    v1::RegisterRunnerRequest {
        runner_id: id.into(),
        address: format!("http://{id}.local:50061"),
        slots,
        backend: "process".into(),
        labels: HashMap::from([("zone".to_owned(), "a".to_owned())]),
    }
}

fn heartbeat(
    id: &str,
    free: u32,
    cpu: f64,
    running: Vec<v1::ExecutionRef>,
) -> v1::RunnerHeartbeatRequest {
    v1::RunnerHeartbeatRequest {
        runner_id: id.into(),
        free_slots: free,
        running,
        cpu_load: cpu,
        memory_load: 0.1,
        cache_bytes: Some(u64::from(free) << 20),
    }
}

fn execution(lease: &Lease, node: NodeId, attempt: u32) -> v1::ExecutionRef {
    v1::ExecutionRef {
        work: Some(v1::WorkContext {
            run_id: lease.run_id.to_string(),
            node_id: node.to_string(),
            attempt,
            deadline: None,
            grading: None,
        }),
    }
}

pub async fn runners_register_heartbeat_and_the_least_loaded_is_picked(h: Arc<Harness>) {
    let mut client = h.client();
    let reply = client
        .register_runner(registration("r1", 4))
        .await
        .expect("register")
        .into_inner();
    assert_eq!(
        u64::from(reply.heartbeat_interval_secs),
        h.config.heartbeat_interval.as_secs()
    );
    client
        .register_runner(registration("r2", 2))
        .await
        .expect("register");
    let stored = h
        .store
        .live_runners(Duration::from_secs(60))
        .await
        .expect("live");
    let r1 = stored
        .iter()
        .find(|r| r.info.id == "r1")
        .expect("r1 stored");
    assert_eq!(r1.info.labels["backend"], "process");
    assert_eq!(r1.info.labels["zone"], "a");

    client
        .runner_heartbeat(heartbeat("r1", 1, 0.5, vec![]))
        .await
        .expect("beat");
    client
        .runner_heartbeat(heartbeat("r2", 2, 0.9, vec![]))
        .await
        .expect("beat");
    let beaten = h
        .store
        .live_runners(Duration::from_secs(60))
        .await
        .expect("live");
    let r1 = beaten.iter().find(|r| r.info.id == "r1").expect("r1");
    assert_eq!(r1.load.cache_bytes, Some(1 << 20), "the cache size is kept");
    let registry = RunnerRegistry::new(h.store.clone(), Duration::from_secs(2));
    let picked = registry.pick().await.expect("pick").expect("a runner");
    assert_eq!(picked.id, "r2", "most free slots first");

    // Dispatches since the last heartbeat count against the runner's free slots.
    let first = registry.reserve("r2");
    assert_eq!(
        registry.pick().await.expect("pick").expect("runner").id,
        "r2"
    );
    let second = registry.reserve("r2");
    assert_eq!(
        registry.pick().await.expect("pick").expect("runner").id,
        "r1"
    );
    let (runner, third) = registry
        .acquire()
        .await
        .expect("acquire")
        .expect("r1 has one");
    assert_eq!((runner.id.as_str(), third.runner_id()), ("r1", "r1"));
    assert!(
        registry.pick().await.expect("pick").is_none(),
        "every slot is taken"
    );
    assert!(registry.acquire().await.expect("acquire").is_none());
    drop(first);
    assert_eq!(registry.reserved("r2"), 1);
    assert_eq!(
        registry.pick().await.expect("pick").expect("runner").id,
        "r2"
    );

    // The next heartbeat reports what the runner runs; earlier reservations are in it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    client
        .runner_heartbeat(heartbeat("r2", 1, 0.9, vec![]))
        .await
        .expect("beat");
    client
        .runner_heartbeat(heartbeat("r1", 0, 0.5, vec![]))
        .await
        .expect("beat");
    let live = registry.live().await.expect("live");
    let free: HashMap<&str, u32> = live.iter().map(|(r, f)| (r.info.id.as_str(), *f)).collect();
    assert_eq!(free, HashMap::from([("r1", 0), ("r2", 1)]));
    drop((second, third));
    assert_eq!((registry.reserved("r1"), registry.reserved("r2")), (0, 0));

    let unknown = client
        .runner_heartbeat(heartbeat("ghost", 1, 0.0, vec![]))
        .await
        .expect_err("unknown runner");
    assert_eq!(
        unknown.code(),
        Code::NotFound,
        "tells the runner to register again"
    );
    let invalid = client
        .register_runner(registration("r3", 0))
        .await
        .expect_err("no slots");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(invalid.message().contains("slots"), "{}", invalid.message());
}

pub async fn silent_runners_are_reaped(h: Arc<Harness>) {
    let mut client = h.client();
    client
        .register_runner(registration("quiet", 2))
        .await
        .expect("register");
    client
        .register_runner(registration("chatty", 1))
        .await
        .expect("register");
    let registry = Arc::new(RunnerRegistry::new(
        h.store.clone(),
        Duration::from_millis(500),
    ));
    assert_eq!(registry.stale_after(), Duration::from_millis(1500));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    client
        .runner_heartbeat(heartbeat("chatty", 1, 0.0, vec![]))
        .await
        .expect("beat");
    tokio::time::sleep(Duration::from_millis(700)).await;
    // quiet: silent 1.7 s > 1.5 s; chatty: 0.7 s.
    assert_eq!(
        registry.pick().await.expect("pick").expect("runner").id,
        "chatty"
    );
    assert_eq!(registry.reap().await.expect("reap"), ["quiet"]);
    let gone = client
        .runner_heartbeat(heartbeat("quiet", 2, 0.0, vec![]))
        .await
        .expect_err("reaped");
    assert_eq!(gone.code(), Code::NotFound);

    // The periodic reaper removes chatty once it falls silent, and stops when told.
    let cancel = CancellationToken::new();
    let reaper = registry.clone().spawn_reaper(cancel.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !h
        .store
        .live_runners(Duration::from_secs(60))
        .await
        .expect("live")
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reaper never reaped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), reaper)
        .await
        .expect("the reaper stops")
        .expect("no panic");
}

pub async fn heartbeat_lists_executions_to_stop(h: Arc<Harness>) {
    let mut client = h.client();
    client
        .register_runner(registration("r1", 4))
        .await
        .expect("register");
    let a = h.running_run("a").await;
    let b = h.running_run("b").await;
    let a1 = h.generated_node(&a, 0, None, "print(1)\n").await;
    let b1 = h.generated_node(&b, 0, None, "print(2)\n").await;
    assert_eq!(h.store.start_execution(&a, a1).await.expect("start"), 1);
    assert_eq!(h.store.start_execution(&b, b1).await.expect("start"), 1);
    assert_eq!(h.store.start_execution(&b, b1).await.expect("restart"), 2);

    let running = vec![
        execution(&a, a1, 1),
        execution(&b, b1, 1),
        execution(&b, b1, 2),
        v1::ExecutionRef {
            work: Some(v1::WorkContext {
                run_id: "garbage".into(),
                ..Default::default()
            }),
        },
    ];
    let cancel = client
        .runner_heartbeat(heartbeat("r1", 0, 0.2, running.clone()))
        .await
        .expect("beat")
        .into_inner()
        .cancel;
    assert_eq!(
        cancel,
        [execution(&b, b1, 1)],
        "the superseded attempt only"
    );

    // Run a is cancelled: its owner finishes it; its execution must stop.
    client
        .cancel_run(v1::CancelRunRequest {
            run_id: a.run_id.to_string(),
        })
        .await
        .expect("cancel");
    let still = client
        .runner_heartbeat(heartbeat("r1", 0, 0.2, running.clone()))
        .await
        .expect("beat")
        .into_inner()
        .cancel;
    assert_eq!(
        still,
        [execution(&b, b1, 1)],
        "a cancel request alone stops nothing"
    );
    h.store
        .finish_run(&a, RunStatus::Cancelled, "cancelled on request")
        .await
        .expect("finish");
    let cancel = client
        .runner_heartbeat(heartbeat("r1", 0, 0.2, running))
        .await
        .expect("beat")
        .into_inner()
        .cancel;
    assert_eq!(cancel, [execution(&a, a1, 1), execution(&b, b1, 1)]);

    // An attempt given up by the coordinator stops too.
    h.store
        .abandon_execution(b1, 2, "runner lost")
        .await
        .expect("abandon");
    let cancel = client
        .runner_heartbeat(heartbeat("r1", 0, 0.2, vec![execution(&b, b1, 2)]))
        .await
        .expect("beat")
        .into_inner()
        .cancel;
    assert_eq!(cancel, [execution(&b, b1, 2)]);
}

/// A process-backend runner is refused unless the deployment allows it, and nothing of it is
/// stored; a Docker runner registers either way.
pub async fn process_runners_are_refused_unless_allowed(h: Arc<Harness>) {
    let (mut strict, _) = h
        .another_server(aide_coordinator::api::ApiConfig::default())
        .await;
    let refused = strict
        .register_runner(registration("plain", 1))
        .await
        .expect_err("a process runner");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("--allow-process-runners"),
        "{refused:?}"
    );
    let live = h
        .store
        .live_runners(Duration::from_secs(60))
        .await
        .expect("runners");
    assert!(live.iter().all(|r| r.info.id != "plain"), "{live:?}");
    let mut docker = registration("boxed", 1);
    docker.backend = "docker".into();
    strict
        .register_runner(docker)
        .await
        .expect("a docker runner");
}
