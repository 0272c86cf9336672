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
    assert_eq!(
        mounts_under(&h.work_root),
        0,
        "the quota file system is unmounted"
    );
    assert_disk_as_before(before, free_bytes(&h.work_root));
    assert!(
        h.leftover_dirs()
            .iter()
            .all(|d| !d.to_string_lossy().contains("aide-"))
    );
    h.stop().await;
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
