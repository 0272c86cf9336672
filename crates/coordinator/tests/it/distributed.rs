//! The distributed deployment end to end, on real processes: `aide-gateway` (baseline
//! author), `aide-runner --backend docker` and `aide-coordinator` replicas over one fresh
//! Postgres database per test (see `distributed_support` for the services and how the
//! other packages' binaries are built). Each test runs the diabetes example task.
//!
//! - a run created over the API completes with exactly its steps, watched to the end;
//! - a coordinator killed with SIGKILL mid-run is replaced by a new process, which resumes
//!   the run to exactly `steps` nodes without duplicates;
//! - a runner killed with SIGKILL mid-execution costs one abandoned attempt, retried on the
//!   other runner, and never a buggy node;
//! - two replicas share ten runs: each completes exactly once;
//! - a coordinator stopped with SIGTERM exits 0 and releases its run, which another replica
//!   takes over at once (well within the lease ttl);
//! - a bad configuration exits with code 2.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::distributed_support::Cluster;
use aide_core::node::NodeStage;
use aide_core::{NodeId, RunId};
use aide_proto::v1;
use aide_store::{
    EventStore, ExecutionStatus, ExecutionStore, NodeStore, RunStatus, RunStore, RunnerStore,
};

/// Upper bound on one run in these tests.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(240);

fn run_id(run: &v1::Run) -> RunId {
    RunId(uuid::Uuid::parse_str(&run.id).expect("run id"))
}

/// Polls the store until the run is terminal.
pub(crate) async fn wait_terminal(
    cluster: &Cluster,
    run: RunId,
    timeout: Duration,
) -> aide_store::RunRecord {
    let deadline = Instant::now() + timeout;
    loop {
        let record = cluster.store.get_run(run).await.expect("get run");
        if record.status.is_terminal() {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} did not finish within {timeout:?} (status {:?}):\n{}",
            record.status,
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every event of a run.
async fn events(cluster: &Cluster, run: RunId) -> Vec<aide_store::EventRecord> {
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |e: &aide_store::EventRecord| e.seq);
        let page = cluster
            .store
            .events_after(run, after, 500)
            .await
            .expect("events");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// A completed run with exactly `steps` reviewed nodes at distinct steps and one
/// `run_finished` event.
async fn assert_completed_once(cluster: &Cluster, run: RunId, steps: usize) {
    let record = wait_terminal(cluster, run, RUN_TIMEOUT).await;
    assert_eq!(
        record.status,
        RunStatus::Completed,
        "run {run}: {:?}\n{}",
        record.stop_reason,
        cluster.logs()
    );
    let tree = cluster.store.load_tree(run).await.expect("tree");
    assert_eq!(tree.len(), steps, "run {run}: nodes {tree:#?}");
    let distinct: BTreeSet<u32> = tree.iter().map(|n| n.step).collect();
    assert_eq!(distinct.len(), steps, "run {run}: duplicate steps");
    assert!(
        tree.iter().all(|n| n.stage == NodeStage::Reviewed),
        "run {run}: unreviewed nodes"
    );
    // The engine appends `run_finished` just after it finishes the run: allow it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let finished = loop {
        let finished = events(cluster, run)
            .await
            .iter()
            .filter(|e| e.event.kind() == "run_finished")
            .count();
        if finished > 0 || Instant::now() > deadline {
            break finished;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished, 1, "run {run}: run_finished events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_completes_across_gateway_runners_and_coordinator_processes() {
    let Some(mut cluster) = Cluster::start(30).await else {
        return;
    };
    let mut api = cluster.start_coordinator(cluster.registry_port).await;
    cluster.start_runner(1).await;
    cluster.start_runner(1).await;

    let started = Instant::now();
    let run = api
        .create_run(cluster.diabetes_run("e2e", 4).await)
        .await
        .expect("create run")
        .into_inner();
    let id = run_id(&run);
    let mut stream = api
        .watch_run(v1::WatchRunRequest {
            run_id: run.id.clone(),
            after_seq: 0,
        })
        .await
        .expect("watch run")
        .into_inner();
    let mut kinds = Vec::new();
    let watched = tokio::time::timeout(RUN_TIMEOUT, async {
        while let Some(event) = stream.message().await.expect("watch stream") {
            kinds.push(event.kind);
        }
    })
    .await;
    assert!(
        watched.is_ok(),
        "the watch did not end:\n{}",
        cluster.logs()
    );
    let wall = started.elapsed();
    eprintln!("distributed e2e: 4 steps in {wall:.1?} (events: {kinds:?})");
    assert_eq!(kinds.last().map(String::as_str), Some("run_finished"));
    assert_eq!(kinds.iter().filter(|k| *k == "node_reviewed").count(), 4);

    let view = api
        .get_run(v1::GetRunRequest {
            run_id: run.id.clone(),
        })
        .await
        .expect("get run")
        .into_inner();
    assert_eq!(view.status(), v1::RunStatus::Completed, "{view:?}");
    assert_eq!((view.nodes, view.reviewed), (4, 4));
    assert_completed_once(&cluster, id, 4).await;

    let stream = api
        .export_run(v1::ExportRunRequest {
            run_id: run.id.clone(),
            format: v1::ExportFormat::Journal.into(),
        })
        .await
        .expect("export")
        .into_inner();
    let export = crate::api_support::collect_export(stream)
        .await
        .expect("the export's stream");
    let journal: serde_json::Value =
        serde_json::from_slice(&export.content).expect("the journal is JSON");
    let nodes = journal
        .get("nodes")
        .and_then(serde_json::Value::as_array)
        .map(Vec::len);
    assert_eq!(nodes, Some(4), "journal: {journal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_coordinator_is_replaced_and_the_run_completes_with_exactly_its_steps() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let port = cluster.registry_port;
    let mut api = cluster.start_coordinator(port).await;
    cluster.start_runner(1).await;
    let run = api
        .create_run(cluster.diabetes_run("coordinator-kill", 4).await)
        .await
        .expect("create run")
        .into_inner();
    let id = run_id(&run);

    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let reviewed = events(&cluster, id)
            .await
            .iter()
            .filter(|e| e.event.kind() == "node_reviewed")
            .count();
        if reviewed >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no node reviewed:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.coordinators[0].1.kill();
    let before = cluster.store.get_run(id).await.expect("run");
    assert!(
        !before.status.is_terminal(),
        "the run ended before the kill"
    );

    // A new process on the same port, so the runner's heartbeats find it again.
    cluster.start_coordinator(port).await;
    assert_completed_once(&cluster, id, 4).await;
    let resumed = events(&cluster, id)
        .await
        .iter()
        .filter(|e| e.event.kind() == "run_resumed")
        .count();
    assert!(resumed >= 1, "the new coordinator did not resume the run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_execution_costs_one_retry_on_the_other_runner() {
    let Some(mut cluster) = Cluster::start(30).await else {
        return;
    };
    let mut api = cluster.start_coordinator(cluster.registry_port).await;
    // Cold containers: their labels name the attempt each runner executes.
    cluster.start_runner_with(1, &["--warm", "false"]).await;
    cluster.start_runner_with(1, &["--warm", "false"]).await;
    let run = api
        .create_run(cluster.diabetes_run("runner-kill", 3).await)
        .await
        .expect("create run")
        .into_inner();
    let id = run_id(&run);

    // The first container of the run shows which runner executes which attempt.
    let deadline = Instant::now() + RUN_TIMEOUT;
    let (runner, node, attempt) = loop {
        if let Some(found) = cluster.running_containers().into_iter().next() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no execution started:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let victim = cluster
        .runners
        .iter()
        .position(|(r, _)| *r == runner)
        .expect("a test runner");
    cluster.runners[victim].1.kill();
    crate::distributed_support::remove_containers(&runner);
    let survivor = cluster.runners[1 - victim].0.clone();

    assert_completed_once(&cluster, id, 3).await;
    let node = NodeId(uuid::Uuid::parse_str(&node).expect("node label"));
    let attempt: u32 = attempt.parse().expect("attempt label");
    let attempts = cluster.store.list_executions(node).await.expect("attempts");
    let killed = attempts
        .iter()
        .find(|a| a.attempt == attempt)
        .expect("the killed attempt");
    assert_eq!(killed.status, ExecutionStatus::Abandoned, "{attempts:#?}");
    assert!(
        killed
            .abandon_reason
            .as_deref()
            .is_some_and(|r| r.contains(&runner)),
        "the reason names the lost runner: {killed:?}"
    );
    let last = attempts.last().expect("attempts");
    assert!(last.attempt > attempt, "no retry: {attempts:#?}");
    assert_eq!(last.status, ExecutionStatus::Finished, "{attempts:#?}");
    let record = cluster.store.get_node(node).await.expect("node");
    let review = record.review.expect("reviewed");
    assert!(!review.is_buggy, "the retried node is buggy: {review:?}");
    let live = cluster
        .store
        .live_runners(Duration::from_secs(3))
        .await
        .expect("live runners");
    assert!(live.iter().any(|r| r.info.id == survivor));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_complete_ten_runs_each_exactly_once() {
    let Some(mut cluster) = Cluster::start(5).await else {
        return;
    };
    let mut api = cluster.start_coordinator(cluster.registry_port).await;
    cluster.start_coordinator(aide_testkit::free_port()).await;
    cluster.start_runner(2).await;
    cluster.start_runner(2).await;

    let started = Instant::now();
    let mut runs = Vec::new();
    for i in 0..10 {
        let run = api
            .create_run(cluster.diabetes_run(&format!("replicas-{i}"), 2).await)
            .await
            .expect("create run")
            .into_inner();
        runs.push(run_id(&run));
    }
    for run in &runs {
        assert_completed_once(&cluster, *run, 2).await;
    }
    eprintln!(
        "two replicas: 10 runs of 2 steps in {:.1?}",
        started.elapsed()
    );
    // Both replicas took part (each logs its claims).
    for (_, proc) in &cluster.coordinators {
        let log = proc.log();
        let claims = log.matches("claimed a run").count();
        eprintln!("{}: {claims} claims", proc.name);
        assert!(
            claims >= 1,
            "{} claimed no run:\n{}",
            proc.name,
            cluster.logs()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_coordinator_releases_its_run_at_once_and_exits_cleanly() {
    // A long lease: a takeover within it proves the lease was released, not expired.
    let Some(mut cluster) = Cluster::start(60).await else {
        return;
    };
    let port = cluster.registry_port;
    let mut api = cluster.start_coordinator(port).await;
    cluster.start_runner(1).await;
    let run = api
        .create_run(cluster.diabetes_run("sigterm", 3).await)
        .await
        .expect("create run")
        .into_inner();
    let id = run_id(&run);
    let deadline = Instant::now() + RUN_TIMEOUT;
    while !events(&cluster, id)
        .await
        .iter()
        .any(|e| e.event.kind() == "node_reviewed")
    {
        assert!(
            Instant::now() < deadline,
            "no node reviewed:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let other = aide_testkit::free_port();
    cluster.start_coordinator(other).await;
    let first_owner = cluster.store.get_run(id).await.expect("run").owner;
    assert!(
        first_owner
            .as_deref()
            .is_some_and(|o| o.starts_with("coord-0-")),
        "{first_owner:?}"
    );

    let terminated = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &cluster.coordinators[0].1.pid().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = cluster.coordinators[0]
            .1
            .child_mut()
            .try_wait()
            .expect("wait")
        {
            break exit;
        }
        assert!(
            terminated.elapsed() < Duration::from_secs(30),
            "the coordinator did not stop:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}:\n{}", cluster.logs());
    // The runner's registry address comes back with a new process.
    cluster.start_coordinator(port).await;
    loop {
        let owner = cluster.store.get_run(id).await.expect("run").owner;
        if owner.as_deref().is_some_and(|o| !o.starts_with("coord-0-")) {
            break;
        }
        assert!(
            terminated.elapsed() < Duration::from_secs(20),
            "nobody took the run over within 20 s of SIGTERM (lease ttl 60 s): {owner:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("SIGTERM → taken over in {:.1?}", terminated.elapsed());
    assert_completed_once(&cluster, id, 3).await;
}

#[test]
fn a_bad_configuration_exits_with_code_2() {
    let program = env!("CARGO_BIN_EXE_aide-coordinator");
    for args in [
        &[][..],
        &["--database-url", "sqlite::memory:", "--max-runs", "0"][..],
        &["--database-url", "mysql://localhost/aide"][..],
    ] {
        let output = std::process::Command::new(program)
            .args(args)
            .env_remove("AIDE_DATABASE_URL")
            .output()
            .expect("run aide-coordinator");
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error: configuration"), "{stderr}");
    }
}

#[test]
fn print_config_layers_file_env_and_flags_and_hides_the_database_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("coordinator.toml");
    std::fs::write(
        &path,
        "max_runs = 7\nlease_ttl_secs = 11\ndatabase_url = \"postgres://aide:file-pw@db/aide\"\n\
         max_blob_bytes = 1000\n",
    )
    .expect("write");
    let print = |env: &[(&str, &str)], flags: &[&str]| {
        let program = env!("CARGO_BIN_EXE_aide-coordinator");
        let output = aide_testkit::binary::print_config(program, &path, env, flags);
        aide_testkit::binary::success_stdout(&output)
    };
    let file_only = print(&[], &[]);
    assert!(file_only.contains("max_runs = 7"), "{file_only}");
    assert!(file_only.contains("max_blob_bytes = 1000"), "{file_only}");
    assert!(
        file_only.contains("data_dir = \""),
        "a default: {file_only}"
    );
    assert!(
        file_only.contains("database_url = \"postgres://aide:[redacted]@db/aide\""),
        "{file_only}"
    );
    let env = [
        ("AIDE_COORDINATOR_MAX_RUNS", "8"),
        ("AIDE_DATABASE_URL", "postgres://aide:env-pw@db/aide"),
        ("AIDE_DATA_DIR", "/srv/aide"),
    ];
    let text = print(
        &env,
        &["--lease-ttl-secs", "12", "--blob-store", "s3://team/aide"],
    );
    assert!(text.contains("data_dir = \"/srv/aide\""), "{text}");
    assert!(text.contains("blob_store = \"s3://team/aide\""), "{text}");
    assert!(text.contains("max_runs = 8"), "env over file: {text}");
    assert!(
        text.contains("lease_ttl_secs = 12"),
        "flag over file: {text}"
    );
    let flagged = print(&env, &["--max-runs", "9"]);
    assert!(flagged.contains("max_runs = 9"), "flag over env: {flagged}");
    for secret in ["file-pw", "env-pw"] {
        assert!(
            !text.contains(secret) && !file_only.contains(secret),
            "{secret}"
        );
    }
}
