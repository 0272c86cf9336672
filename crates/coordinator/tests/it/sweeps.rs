//! A sweep across processes: `aide bench run --server` creates a 3 task × 2 seed × 2 arm
//! sweep (baseline author, Docker runner) on two coordinator replicas over Postgres; the
//! client and one replica are killed mid-sweep; `aide bench watch` on the other replica then
//! sees every cell graded exactly once, each by one completed run.

use std::process::Command;
use std::time::{Duration, Instant};

use aide_core::sweep::{CellStatus, SweepStatus};
use aide_store::{RunFilter, RunStatus, RunStore, SweepStore};
use aide_testkit::{ChildGuard, free_port};

use crate::distributed_support::Cluster;
use crate::distributed_support::procs::bin_dir;

const SWEEP_TIMEOUT: Duration = Duration::from_secs(600);

/// `aide` with the member token and nothing else from this environment.
fn aide(cluster: &Cluster, port: u16) -> Command {
    let mut command = Command::new(bin_dir().join("aide"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AIDE_TOKEN", cluster.member.expose())
        .env("AIDE_SERVER", format!("http://127.0.0.1:{port}"));
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_survives_its_client_and_a_replica_and_grades_every_cell_once() {
    let Some(mut cluster) = Cluster::start(3).await else {
        return;
    };
    let first = cluster.registry_port;
    cluster.start_coordinator(first).await;
    let second = free_port();
    cluster.start_coordinator(second).await;
    cluster.start_runner(2).await;
    let spec = aide_testkit::mlebench::sweep_spec(
        cluster.dir.path(),
        "[3, 4]",
        "{ search = { num_drafts = 1 } }",
        4,
    );

    let log = cluster.dir.path().join("bench-client.log");
    let mut client = aide(&cluster, second);
    client.args(["bench", "run", "--watch"]).arg(&spec);
    let mut client = ChildGuard::spawn_logged("bench-client", &mut client, &log);

    // Both die once a few cells are graded and others are under way.
    let deadline = Instant::now() + SWEEP_TIMEOUT;
    let sweep_id = loop {
        let sweeps = cluster.store.list_sweeps(None, 10).await.expect("sweeps");
        if let Some(sweep) = sweeps.first()
            && sweep.cells.graded >= 2
            && sweep.cells.running > 0
        {
            break sweep.id;
        }
        assert!(
            Instant::now() < deadline,
            "no progress:\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    client.kill();
    cluster.coordinators[1].1.kill();

    let out = aide(&cluster, first)
        .args(["bench", "watch", &sweep_id.to_string()])
        .output()
        .expect("aide bench watch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}\n{}", cluster.logs());

    let sweep = cluster.store.get_sweep(sweep_id).await.expect("sweep");
    assert_eq!(sweep.status, SweepStatus::Completed);
    let cells = cluster.store.list_cells(sweep_id).await.expect("cells");
    assert_eq!(cells.len(), 12);
    for cell in &cells {
        assert_eq!(cell.status, CellStatus::Graded, "{cell:?}");
        assert_eq!(cell.attempts, 1, "{cell:?}");
        assert!(cell.grade.as_ref().is_some_and(|g| g.valid), "{cell:?}");
    }
    let runs = cluster
        .store
        .list_runs(RunFilter {
            limit: 1000,
            ..RunFilter::default()
        })
        .await
        .expect("runs");
    let of_sweep: Vec<_> = runs
        .iter()
        .filter(|r| r.sweep_id == Some(sweep_id))
        .collect();
    assert_eq!(of_sweep.len(), 12, "one run per cell");
    assert!(of_sweep.iter().all(|r| r.status == RunStatus::Completed));
    let mut cell_runs: Vec<_> = cells.iter().filter_map(|c| c.run_id).collect();
    cell_runs.sort();
    cell_runs.dedup();
    assert_eq!(cell_runs.len(), 12);
}
