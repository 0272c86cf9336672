//! The disk quota of an attempt's `working/` (issue 10): a script that tries to write
//! 20 GiB is stopped at the quota, and the host's disk holds afterwards what it held before.
//! The process backend as root gets a quota file system (ENOSPC at the quota); the Docker
//! backend with the runner on the daemon's host is watched from outside and killed.

use std::path::Path;

use crate::common::*;

const QUOTA: u64 = 64 << 20;

/// Writes up to 20 GiB as 16 MiB files (each under the per-file limit, so only the total
/// can stop it), printing how much got written before the error.
const WRITE_20_GIB: &str = "\
import os, sys
written = 0
block = os.urandom(1 << 20)
try:
    for i in range(20 * 1024 // 16):
        with open(f'working/part{i}', 'wb') as f:
            for _ in range(16):
                f.write(block)
                written += 1 << 20
            f.flush()
            os.fsync(f.fileno())
except OSError as e:
    print('stopped errno', e.errno, 'after', written, flush=True)
    sys.exit(3)
print('wrote everything', written, flush=True)
";

/// Free bytes of the file system holding `path`.
fn free_bytes(path: &Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(path).expect("statvfs");
    stat.blocks_available() as u64 * stat.fragment_size() as u64
}

/// Free space may move with other tests writing beside this one, but not by the gigabytes
/// an unbounded write would leave.
fn assert_disk_as_before(before: u64, after: u64) {
    let drift = before.abs_diff(after);
    assert!(
        drift < 1 << 30,
        "free space moved by {drift} bytes ({before} → {after})"
    );
}

fn mounts_under(dir: &Path) -> usize {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    mounts.lines().filter(|l| l.contains(dir.as_ref())).count()
}

#[tokio::test]
async fn process_backend_as_root_stops_a_20_gib_write_at_the_quota() {
    if !is_root() {
        eprintln!("skipped: the quota file system needs root (the watchdog covers other users)");
        return;
    }
    let quota = QUOTA.to_string();
    let h = Harness::start(&[
        "--backend",
        "process",
        "--slots",
        "1",
        "--python",
        "/usr/bin/python3",
        "--uid-base",
        "21600",
        "--disk-bytes",
        &quota,
    ])
    .await;
    let before = free_bytes(&h.work_root);
    let out = h.run(request(WRITE_20_GIB)).await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(3), "{}", f.output);
    // ENOSPC (28): the file system of exactly the quota is full.
    assert!(f.output.contains("stopped errno 28"), "{}", f.output);
    let written: u64 = f
        .output
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .expect("bytes written");
    assert!(
        written <= QUOTA,
        "wrote {written} bytes past a {QUOTA}-byte quota"
    );
    // The slot keeps its file system, emptied (and its blocks discarded), for its next
    // attempt, and unmounts it when the runner stops.
    assert_eq!(mounts_under(&h.work_root), 1, "the slot's kept quota");
    assert_disk_as_before(before, free_bytes(&h.work_root));
    assert!(
        h.leftover_dirs()
            .iter()
            .all(|d| !d.to_string_lossy().contains("aide-"))
    );
    let work_root = h.work_root.clone();
    h.stop().await;
    assert_eq!(mounts_under(&work_root), 0, "the kept quota is unmounted");
}

#[tokio::test]
async fn docker_backend_kills_a_20_gib_write_past_the_quota() {
    if !docker_available("aide-sandbox:py311").await {
        return;
    }
    let quota = QUOTA.to_string();
    let h = Harness::start(&[
        "--backend",
        "docker",
        "--slots",
        "1",
        "--image",
        "aide-sandbox:py311",
        "--runner-id",
        "quota-test",
        "--disk-bytes",
        &quota,
    ])
    .await;
    let docker_root = Path::new("/var/lib/docker");
    let before = free_bytes(docker_root);
    let out = h.run(with_timeout(request(WRITE_20_GIB), 300)).await;
    let f = &out.finished;
    assert!(f.disk_quota_exceeded, "{}", f.output);
    assert!(f.output.contains("passed its disk quota"), "{}", f.output);
    assert!(!f.output.contains("wrote everything"), "{}", f.output);
    assert_eq!(f.exit_code, None, "killed: {}", f.output);
    assert_disk_as_before(before, free_bytes(docker_root));
    h.stop().await;
}

/// Where no quota file system can be made (a runner that is not root), the process backend
/// watches `working/` at every sample and kills the script once it passes the quota.
#[tokio::test]
async fn process_backend_without_a_quota_mount_kills_past_the_quota() {
    use aide_runner::sandbox::{ExecIo, ExecKey, ExecSpec, ResolvedLimits};
    use aide_runner::{ProcessSandbox, Sandbox, collect::CollectSpec, workspace::Workspace};

    let root = shared_tempdir();
    let work_root = root.path().join("work").to_string_lossy().into_owned();
    let config = aide_runner::Config::from_argv([
        "aide-runner",
        "--plaintext",
        "--backend",
        "process",
        "--python",
        "/usr/bin/python3",
        "--uid-base",
        "21610",
        "--work-root",
        &work_root,
        "--sample-ms",
        "100",
    ])
    .expect("config");
    let sandbox = ProcessSandbox::new(&config).expect("sandbox");
    let before = free_bytes(root.path());
    // No quota mount: as a runner that is not root would run it.
    let ws = Workspace::create(
        &config.work_root(),
        "q",
        WRITE_20_GIB,
        None,
        sandbox.sandbox_uid(0),
        None,
    )
    .expect("workspace");
    let w = work();
    let spec = ExecSpec {
        key: ExecKey {
            run_id: w.run_id,
            node_id: w.node_id,
            attempt: 1,
        },
        attempt_dir: ws.path().to_path_buf(),
        input: None,
        limits: ResolvedLimits {
            timeout: std::time::Duration::from_secs(300),
            memory_bytes: 1 << 30,
            cpus: 1.0,
            pids: 64,
            max_output_bytes: 1 << 20,
            max_file_bytes: 2 << 20,
            max_write_bytes: 8 << 30,
            disk_bytes: QUOTA,
        },
        allow_network: false,
        slot: 0,
        working_has_quota: false,
        warm: true,
        collect: CollectSpec {
            submission: String::new(),
            globs: Vec::new(),
            max_file: 1 << 20,
            max_total: 1 << 20,
        },
    };
    let (events, mut received) = tokio::sync::mpsc::channel(64);
    let draining = tokio::spawn(async move { while received.recv().await.is_some() {} });
    let mut io = ExecIo::new("t".into(), events, 1 << 20);
    let raw = sandbox
        .run(&spec, &mut io, &tokio_util::sync::CancellationToken::new())
        .await
        .expect("run");
    let (output, _) = io.finish_output().await;
    drop(io);
    draining.await.expect("drain");
    assert!(raw.disk_quota_exceeded, "{output}");
    assert!(output.contains("passed its disk quota"), "{output}");
    assert!(!output.contains("wrote everything"), "{output}");
    drop(ws);
    assert_disk_as_before(before, free_bytes(root.path()));
}

/// Quota file systems a crashed runner left under its work root are unmounted at start.
#[test]
fn leftover_mounts_under_the_work_root_are_swept() {
    if !is_root() {
        eprintln!("skipped: mounting needs root");
        return;
    }
    let root = shared_tempdir();
    let left = root.path().join("aide-crashed-attempt").join("working");
    std::fs::create_dir_all(&left).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&left)
        .status()
        .expect("mount");
    assert!(mounted.success());
    assert_eq!(mounts_under(root.path()), 1);
    assert_eq!(aide_runner::quota::sweep_mounts(root.path()), 1);
    assert_eq!(mounts_under(root.path()), 0, "nothing stays mounted");
}
