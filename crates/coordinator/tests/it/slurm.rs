//! Runners as a Slurm job array, for real: `deploy/slurm/aide-runners.sbatch` submitted to
//! the single-host cluster `deploy/dev/slurm.sh` starts (slurmctld and slurmd on localhost,
//! munge), each array task an `aide-runner --backend docker` that registers with a real
//! coordinator. A run completes on them; then `scancel` stops the array while a second run
//! is mid-flight, and that run finishes on a runner started outside Slurm with every node
//! there exactly once and none made buggy by the lost runners.
//!
//! Needs Slurm (`sinfo`, a node up), besides the distributed tests' Postgres, Redis and
//! Docker; a missing one fails under `CI` and skips loudly otherwise.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::distributed::{RUN_TIMEOUT, wait_terminal};
use crate::distributed_support::Cluster;
use crate::distributed_support::procs::bin_dir;
use aide_core::RunId;
use aide_core::node::NodeStage;
use aide_store::{ExecutionStatus, ExecutionStore, NodeStore, RunStatus, RunnerStore};

const TASKS: usize = 2;

/// `Some(())` when a Slurm controller answers and has a node that takes jobs.
fn slurm_ready() -> Option<()> {
    let out = match Command::new("sinfo").args(["-h", "-o", "%T"]).output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            return aide_testkit::unavailable("Slurm", why);
        }
        Err(e) => return aide_testkit::unavailable("Slurm", format!("sinfo: {e}")),
    };
    let states = String::from_utf8_lossy(&out.stdout).into_owned();
    match states
        .lines()
        .any(|s| s.starts_with("idle") || s.starts_with("mix"))
    {
        true => Some(()),
        false => aide_testkit::unavailable("Slurm", format!("no node takes jobs: {states}")),
    }
}

/// A Slurm command without the variables of an enclosing job, which sbatch would read.
fn slurm(program: &str) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("SLURM_") || name.starts_with("SBATCH_") {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// Submits the runner array for `cluster` with `tasks` and the extra sbatch `options`;
/// returns the array job id.
fn submit_array(cluster: &Cluster, tasks: usize, options: &[&str]) -> String {
    let dir = cluster.dir.path();
    let script = aide_testkit::repo_root().join("deploy/slurm/aide-runners.sbatch");
    let out = slurm("sbatch")
        .arg("--parsable")
        .arg(format!("--array=0-{}", tasks - 1))
        .args(options)
        .arg(format!("--job-name=aide-test-{}", cluster.tag))
        .arg(format!("--chdir={}", dir.display()))
        .arg(format!("--output={}/slurm-%A_%a.out", dir.display()))
        .arg(&script)
        .env("AIDE_RUNNER_BIN", bin_dir().join("aide-runner"))
        .env(
            "AIDE_COORDINATOR_ADDR",
            format!("http://127.0.0.1:{}", cluster.registry_port),
        )
        .env("AIDE_RUNNER_PLAINTEXT", "1")
        .env("AIDE_RUNNER_PORT_BASE", "0")
        .env("AIDE_RUNNER_SLOTS", "1")
        .env("AIDE_RUNNER_BACKEND", "docker")
        .env(
            "AIDE_RUNNER_IMAGE",
            crate::distributed_support::SANDBOX_IMAGE,
        )
        .env("AIDE_RUNNER_CACHE_DIR", dir.join("slurm-bundles"))
        .env("AIDE_RUNNER_WORK_ROOT", dir.join("slurm-work"))
        .env("AIDE_RUNNER_LOG_DIR", dir.join("slurm-logs"))
        .env("AIDE_RUNNER_DRAIN_SECS", "5")
        .output()
        .expect("sbatch");
    assert!(
        out.status.success(),
        "sbatch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `id` or `id;cluster`.
    text.trim().split(';').next().unwrap_or_default().to_owned()
}

/// The live runners this array started.
async fn array_runners(cluster: &Cluster, job: &str) -> Vec<aide_store::RunnerInfo> {
    let prefix = format!("slurm-{job}-");
    let live = cluster
        .store
        .live_runners(Duration::from_secs(10))
        .await
        .expect("live runners");
    live.into_iter()
        .map(|r| r.info)
        .filter(|info| info.id.starts_with(&prefix))
        .collect()
}

/// Whether a container of one of the array's runners is running (an execution in flight).
fn array_executing(job: &str) -> bool {
    let out = Command::new("docker")
        .args(["ps", "--format", "{{.Label \"aide.runner\"}}"])
        .output()
        .expect("docker ps");
    let prefix = format!("slurm-{job}-");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|runner| runner.starts_with(&prefix))
}

/// Whether the job still has tasks in the queue (pending or running).
fn queued(job: &str) -> bool {
    let out = slurm("squeue")
        .args(["-h", "-o", "%i", "-j", job])
        .output()
        .expect("squeue");
    // After a while an ended job is unknown to squeue (exit 1): gone as well.
    out.status.success() && !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// Waits until the job has left the queue (its runners drained and exited).
async fn wait_dequeued(job: &str) {
    let within = Duration::from_secs(90);
    aide_testkit::wait::until("the array leaves the queue", within, || {
        std::future::ready(!queued(job))
    })
    .await;
}

/// The array's runner logs, for failure messages.
fn array_logs(cluster: &Cluster) -> String {
    let dir = cluster.dir.path().join("slurm-logs");
    let mut out = String::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        out.push_str(&format!("---- {} ----\n", entry.path().display()));
        out.extend(tail.into_iter().rev().map(|l| format!("{l}\n")));
    }
    out
}

/// What became of a run's executions: the runners of each node's finished attempt, and how
/// many attempts were abandoned (handed back or lost with a runner).
struct Attempts {
    finished_on: Vec<String>,
    abandoned: usize,
}

/// A completed run with exactly `steps` reviewed nodes, none buggy for want of a runner:
/// every node's last attempt finished with a result, and attempts lost with the array were
/// abandoned, not failed.
async fn assert_every_node_once(cluster: &Cluster, run: RunId, steps: usize) -> Attempts {
    let record = wait_terminal(cluster, run, RUN_TIMEOUT).await;
    assert_eq!(
        record.status,
        RunStatus::Completed,
        "{:?}\n{}",
        record.stop_reason,
        cluster.logs()
    );
    let tree = cluster.store.load_tree(run).await.expect("tree");
    assert_eq!(tree.len(), steps, "{tree:#?}");
    let mut attempts_of_run = Attempts {
        finished_on: Vec::new(),
        abandoned: 0,
    };
    for node in &tree {
        assert_eq!(node.stage, NodeStage::Reviewed, "{node:#?}");
        let attempts = cluster
            .store
            .list_executions(node.id)
            .await
            .expect("attempts");
        let last = attempts.last().expect("an attempt");
        assert_eq!(last.status, ExecutionStatus::Finished, "{attempts:#?}");
        let result = last.result.as_ref().expect("a result");
        let runner = result.runner_id.clone().expect("the runner that ran it");
        attempts_of_run.finished_on.push(runner);
        attempts_of_run.abandoned += attempts
            .iter()
            .filter(|a| a.status == ExecutionStatus::Abandoned)
            .count();
        let review = node.review.as_ref().expect("reviewed");
        assert!(!review.is_buggy, "a buggy node: {node:#?}\n{attempts:#?}");
    }
    attempts_of_run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_of_a_slurm_array_register_work_and_drain_on_scancel() {
    if slurm_ready().is_none() {
        return;
    }
    let Some(mut cluster) = Cluster::start(30).await else {
        return;
    };
    let mut api = cluster.start_coordinator(cluster.registry_port).await;
    let job = submit_array(&cluster, TASKS, &[]);
    aide_testkit::wait::until(
        "the array's runners register",
        Duration::from_secs(120),
        || async { array_runners(&cluster, &job).await.len() == TASKS },
    )
    .await;

    // A run on the array alone.
    let first = api
        .create_run(cluster.diabetes_run("on-slurm", 2).await)
        .await
        .expect("create run")
        .into_inner();
    let first = RunId(uuid::Uuid::parse_str(&first.id).expect("run id"));
    let on_array = assert_every_node_once(&cluster, first, 2).await;
    let prefix = format!("slurm-{job}-");
    assert!(
        on_array.finished_on.iter().all(|r| r.starts_with(&prefix)),
        "{:?}",
        on_array.finished_on
    );
    assert_eq!(
        on_array.abandoned, 0,
        "nothing is lost while the array runs"
    );

    // A second run, and scancel while one of its executions is in flight on the array.
    let steps = 5;
    let second = api
        .create_run(cluster.diabetes_run("drained", steps as u32).await)
        .await
        .expect("create run")
        .into_inner();
    let second = RunId(uuid::Uuid::parse_str(&second.id).expect("run id"));
    let deadline = Instant::now() + RUN_TIMEOUT;
    while !array_executing(&job) {
        assert!(
            Instant::now() < deadline,
            "no execution on the array:\n{}",
            array_logs(&cluster)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled = slurm("scancel").arg(&job).status().expect("scancel");
    assert!(cancelled.success());
    let outside = cluster.start_runner(1).await;
    let drained = assert_every_node_once(&cluster, second, steps).await;
    assert!(
        drained.finished_on.contains(&outside),
        "the run went on outside Slurm: {:?}",
        drained.finished_on
    );
    eprintln!(
        "attempts handed back by the drained array: {}",
        drained.abandoned
    );

    wait_dequeued(&job).await;
    let logs = array_logs(&cluster);
    assert_eq!(logs.matches("runner stopped").count(), TASKS, "{logs}");
}

/// `--gres=gpu:1` makes a GPU runner: labelled `gpu=true` beside its Slurm labels. (The
/// one-host cluster declares a stand-in GPU device, so Slurm grants it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gpu_array_labels_its_runners() {
    if slurm_ready().is_none() {
        return;
    }
    let Some(mut cluster) = Cluster::start(30).await else {
        return;
    };
    cluster.start_coordinator(cluster.registry_port).await;
    let job = submit_array(&cluster, 1, &["--gres=gpu:1"]);
    aide_testkit::wait::until(
        "the GPU runner registers",
        Duration::from_secs(120),
        || async { !array_runners(&cluster, &job).await.is_empty() },
    )
    .await;
    let runner = array_runners(&cluster, &job).await.remove(0);
    let _ = slurm("scancel").arg(&job).status();
    let labels = &runner.labels;
    assert_eq!(labels["gpu"], "true", "{labels}");
    assert_eq!(labels["slurm_job"], job.as_str(), "{labels}");
    wait_dequeued(&job).await;
}
