//! Quota file systems kept per slot between attempts. Making one (`mkfs.ext4` and a loop
//! mount) costs 100–250 ms, far more than a warm execution; so each slot keeps its own mounted
//! at `<work root>/quota/slot-<i>`, and an attempt gets it bind-mounted (`nosuid,nodev`) on
//! its `working/`. When the attempt ends the bind is detached and the file system emptied
//! before the slot's next attempt gets it; one that cannot be emptied is dropped (unmounted
//! and deleted) and the next attempt makes a new one.

use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use tracing::warn;

use crate::quota::QuotaMount;

/// One slot's file system, mounted at `at`.
#[derive(Debug)]
struct Kept {
    mount: QuotaMount,
    at: PathBuf,
    bytes: u64,
}

/// The slots' kept quota file systems.
#[derive(Debug)]
pub struct QuotaPool {
    root: PathBuf,
    slots: Vec<Mutex<Option<Kept>>>,
}

impl QuotaPool {
    /// A pool for `slots` slots keeping its file systems under `root`.
    pub fn new(root: PathBuf, slots: usize) -> Self {
        Self {
            root,
            slots: (0..slots).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Mounts slot `slot`'s file system of `bytes` (made now when it has none of that size)
    /// on `working`, its root owned by `owner`. Blocks.
    pub fn lend(
        self: &Arc<Self>,
        slot: usize,
        bytes: u64,
        owner: Option<u32>,
        working: &Path,
    ) -> io::Result<QuotaLease> {
        let cell = self
            .slots
            .get(slot)
            .ok_or_else(|| io::Error::other(format!("no quota file system for slot {slot}")))?;
        let kept = lock(cell).take().filter(|k| k.bytes == bytes);
        let kept = match kept {
            Some(kept) => kept,
            None => self.make(slot, bytes, owner)?,
        };
        QuotaMount::own_root(&kept.at, owner)?;
        bind(&kept.at, working)?;
        Ok(QuotaLease {
            pool: self.clone(),
            slot,
            kept: Some(kept),
            working: working.to_owned(),
        })
    }

    fn make(&self, slot: usize, bytes: u64, owner: Option<u32>) -> io::Result<Kept> {
        fs::create_dir_all(&self.root)?;
        let at = self.root.join(format!("slot-{slot}"));
        fs::create_dir_all(&at)?;
        let image = self.root.join(format!("slot-{slot}.img"));
        let mount = QuotaMount::create(&image, &at, bytes, owner)?;
        Ok(Kept { mount, at, bytes })
    }
}

impl QuotaPool {
    /// Unmounts and deletes the kept file systems, then their directory (the runner has
    /// stopped; a lease still out gives its file system back, and it is dropped with the
    /// pool).
    pub fn release(&self) {
        for cell in &self.slots {
            drop(lock(cell).take());
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

impl Drop for QuotaPool {
    fn drop(&mut self) {
        self.release();
    }
}

/// A slot's file system mounted on an attempt's `working/`; given back, emptied, on drop.
#[derive(Debug)]
pub struct QuotaLease {
    pool: Arc<QuotaPool>,
    slot: usize,
    kept: Option<Kept>,
    working: PathBuf,
}

impl Drop for QuotaLease {
    fn drop(&mut self) {
        // Detached: a process that escaped the kills cannot keep the attempt alive.
        if let Err(e) = umount2(&self.working, MntFlags::MNT_DETACH) {
            warn!(error = %e, working = %self.working.display(), "cannot detach a quota");
        }
        let Some(kept) = self.kept.take() else {
            return;
        };
        match empty(&kept.at) {
            Ok(()) => {
                if let Some(cell) = self.pool.slots.get(self.slot) {
                    *lock(cell) = Some(kept);
                }
            }
            Err(e) => {
                warn!(error = %e, at = %kept.at.display(), "cannot empty a quota; dropping it");
                drop(kept.mount);
            }
        }
    }
}

/// Bind-mounts `from` on `onto`, then makes that mount `nosuid,nodev`.
fn bind(from: &Path, onto: &Path) -> io::Result<()> {
    let none: Option<&str> = None;
    mount(Some(from), onto, none, MsFlags::MS_BIND, none).map_err(io::Error::from)?;
    let flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if let Err(e) = mount(none, onto, none, flags, none) {
        let _ = umount2(onto, MntFlags::MNT_DETACH);
        return Err(e.into());
    }
    Ok(())
}

/// Removes everything in `dir` (never following a symbolic link out of it).
fn empty(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
