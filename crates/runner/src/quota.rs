//! The disk quota of an attempt's `working/`.
//!
//! - [`QuotaMount`]: as root, `working/` is a file system of its own — an ext4 image of
//!   exactly the quota, sparse (it takes on the host only what the script writes), loop
//!   mounted `nosuid,nodev` — so a write past the quota fails with ENOSPC and the host's
//!   disk never holds more than the quota per attempt. Unmounted and deleted when the
//!   attempt ends, or kept per slot and lent again, emptied (`crate::quota_pool`).
//! - [`usage`] and [`Watchdog`]: the bytes a directory tree takes on disk, measured beside
//!   the execution where no such mount can be made (without root, or a Docker daemon's
//!   volume); a tree that cannot be measured whole counts as over the quota.
//! - [`sweep_mounts`]: quota mounts a crashed runner left under its work root, unmounted at
//!   start.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tracing::warn;

/// A quota file system mounted on a directory; unmounted and deleted on drop.
#[derive(Debug)]
pub struct QuotaMount {
    image: PathBuf,
    /// Set once the image is mounted there.
    mountpoint: Option<PathBuf>,
}

impl QuotaMount {
    /// Makes a `bytes` ext4 image at `image` and mounts it on `mountpoint`, its root owned
    /// by `owner` (uid = gid) and not readable by others.
    pub fn create(
        image: &Path,
        mountpoint: &Path,
        bytes: u64,
        owner: Option<u32>,
    ) -> io::Result<Self> {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(image)?
            .set_len(bytes)?;
        // From here on, dropping `mount` deletes the image (and unmounts it once mounted).
        let mut mount = Self {
            image: image.to_owned(),
            mountpoint: None,
        };
        run(Command::new("mkfs.ext4")
            .args([
                "-q",
                "-F",
                "-m",
                "0",
                "-O",
                "^has_journal",
                "-E",
                "nodiscard",
            ])
            .arg(image))?;
        run(Command::new("mount")
            // discard: what the script deletes (and what a kept file system is emptied of)
            // goes back to the host's disk.
            .args(["-o", "loop,nosuid,nodev,discard"])
            .arg(image)
            .arg(mountpoint))?;
        mount.mountpoint = Some(mountpoint.to_owned());
        let _ = fs::remove_dir(mountpoint.join("lost+found"));
        Self::own_root(mountpoint, owner)?;
        Ok(mount)
    }

    /// Gives the root of a quota file system mounted at `mountpoint` to `owner` (uid = gid),
    /// closed to others.
    pub fn own_root(mountpoint: &Path, owner: Option<u32>) -> io::Result<()> {
        if let Some(uid) = owner {
            let (uid, gid) = (
                nix::unistd::Uid::from_raw(uid),
                nix::unistd::Gid::from_raw(uid),
            );
            nix::unistd::chown(mountpoint, Some(uid), Some(gid)).map_err(io::Error::from)?;
        }
        fs::set_permissions(
            mountpoint,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
    }

    /// Whether this host can make quota mounts: root, with mkfs.ext4 and loop devices. The
    /// probe mounts a small image in `dir` once.
    pub fn available(dir: &Path) -> bool {
        if !nix::unistd::geteuid().is_root() {
            return false;
        }
        let probe = dir.join(".quota-probe");
        let image = dir.join(".quota-probe.img");
        // Left by a runner that was killed mid-probe.
        let _ = fs::remove_file(&image);
        let _ = fs::create_dir_all(&probe);
        let ok = match Self::create(&image, &probe, 4 << 20, None) {
            Ok(mount) => {
                drop(mount);
                true
            }
            Err(e) => {
                warn!(error = %e, "no loop-mounted quota for working/ (falling back to a watchdog)");
                false
            }
        };
        let _ = fs::remove_dir(&probe);
        ok
    }
}

impl Drop for QuotaMount {
    fn drop(&mut self) {
        if let Some(mountpoint) = &self.mountpoint {
            // Lazy: a process that escaped the kills cannot keep the attempt alive.
            if let Err(e) = run(Command::new("umount").arg("-l").arg(mountpoint)) {
                warn!(error = %e, mountpoint = %mountpoint.display(), "cannot unmount a quota");
            }
        }
        let _ = fs::remove_file(&self.image);
    }
}

fn run(command: &mut Command) -> io::Result<()> {
    let out = command.stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{:?} failed: {}",
        command.get_program(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Lazily unmounts every file system mounted under `root` (the quota mounts of attempts a
/// crashed runner left); returns how many.
pub fn sweep_mounts(root: &Path) -> usize {
    let Ok(root) = fs::canonicalize(root) else {
        return 0;
    };
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // Field 5 is the mount point (octal escapes for spaces and the like).
    let mut under: Vec<PathBuf> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(point.replace("\\040", " ")))
        .filter(|point| point.starts_with(&root) && *point != root)
        .collect();
    // Deepest first.
    under.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let mut swept = 0;
    for point in under {
        match run(Command::new("umount").arg("-l").arg(&point)) {
            Ok(()) => swept += 1,
            Err(e) => warn!(error = %e, mountpoint = %point.display(), "cannot unmount a leftover"),
        }
    }
    swept
}

/// Entries a usage walk reads at most; a tree with more counts as over any quota (so a script
/// cannot make the walk itself the problem).
const MAX_WALKED_ENTRIES: usize = 1_000_000;

/// The bytes the tree at `dir` takes on disk (allocated blocks; links are not followed, and
/// the walk stays on `dir`'s file system); `None` when the tree cannot be measured whole —
/// a directory the walker may not read, or more than [`MAX_WALKED_ENTRIES`] entries — which
/// a watchdog must treat as over the quota (a script could hide files there).
pub fn usage(dir: &Path) -> Option<u64> {
    let device = fs::symlink_metadata(dir).ok()?.dev();
    let mut total = 0u64;
    let mut walked = 0usize;
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        let entries = fs::read_dir(&next).ok()?;
        for entry in entries {
            walked += 1;
            if walked > MAX_WALKED_ENTRIES {
                return None;
            }
            let entry = entry.ok()?;
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            total = total.saturating_add(meta.blocks().saturating_mul(512));
            if meta.is_dir() && meta.dev() == device {
                pending.push(entry.path());
            }
        }
    }
    Some(total)
}

/// The line a script stopped by a watchdog leaves in its output.
pub fn note(quota: u64) -> String {
    format!("\n[aide] stopped: working/ passed its disk quota of {quota} bytes\n")
}

/// Watches a `working/` directory off the execution's own loop: resolves once it is over
/// the quota (or cannot be measured whole). Dropping it stops the watching.
#[derive(Debug)]
pub struct Watchdog {
    over: tokio::sync::oneshot::Receiver<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Watchdog {
    /// Measures `dir` every `every`.
    pub fn start(dir: PathBuf, quota: u64, every: std::time::Duration) -> Self {
        let (tell, over) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let dir = dir.clone();
                let measured = tokio::task::spawn_blocking(move || usage(&dir)).await;
                if matches!(measured, Ok(None)) || matches!(measured, Ok(Some(b)) if b > quota) {
                    let _ = tell.send(());
                    return;
                }
            }
        });
        Self { over, task }
    }

    /// Resolves when the directory went over the quota (poll it only until then).
    pub async fn over(&mut self) {
        if (&mut self.over).await.is_err() {
            // The watching task is gone without a verdict: nothing more will come.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.task.abort();
    }
}
