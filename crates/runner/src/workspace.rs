//! The per-attempt directory: `solution.py` (the code), `working/` (the only place the script
//! writes; a quota file system of its own when asked), and `input` (a symlink to the task
//! data, for the process backend). Removed when the attempt ends.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use tempfile::TempDir;

use crate::quota::QuotaMount;
use crate::{Error, Result};

/// The code's file name inside the attempt directory and the sandbox.
pub const SCRIPT: &str = "solution.py";

/// One attempt's directory; deleted on drop.
#[derive(Debug)]
pub struct Workspace {
    /// Dropped (unmounted) before the directory is removed.
    quota: Option<QuotaMount>,
    /// A slot's kept quota file system mounted on `working/` (detached before `dir` goes).
    lent: Option<crate::quota_pool::QuotaLease>,
    dir: TempDir,
}

impl Workspace {
    /// Creates `<root>/aide-<name>-XXXX` with the code, `working/` owned by (or open to)
    /// `owner` — a file system of `quota` bytes when given — and an `input` symlink to
    /// `input_dir` when given.
    pub fn create(
        root: &Path,
        name: &str,
        code: &str,
        input_dir: Option<&Path>,
        owner: Option<u32>,
        quota: Option<u64>,
    ) -> Result<Self> {
        fs::create_dir_all(root).map_err(Error::Workspace)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("aide-{name}-"))
            .tempdir_in(root)
            .map_err(Error::Workspace)?;
        // The sandbox user must be able to enter the directory and read the code.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .map_err(Error::Workspace)?;
        let script = dir.path().join(SCRIPT);
        fs::write(&script, code).map_err(Error::Workspace)?;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o444))
            .map_err(Error::Workspace)?;
        let working = dir.path().join("working");
        fs::create_dir(&working).map_err(Error::Workspace)?;
        match owner {
            Some(uid) if nix::unistd::geteuid().is_root() => {
                let id = Some(nix::unistd::Uid::from_raw(uid));
                let gid = Some(nix::unistd::Gid::from_raw(uid));
                nix::unistd::chown(&working, id, gid).map_err(|e| Error::Workspace(e.into()))?;
            }
            // Not root: the sandbox user can only write if everyone can.
            Some(_) => fs::set_permissions(&working, fs::Permissions::from_mode(0o777))
                .map_err(Error::Workspace)?,
            None => {}
        }
        if let Some(input) = input_dir {
            let target = fs::canonicalize(input).map_err(Error::Workspace)?;
            std::os::unix::fs::symlink(target, dir.path().join("input"))
                .map_err(Error::Workspace)?;
        }
        let quota = match quota {
            Some(bytes) => {
                let image = dir.path().join("working.img");
                Some(QuotaMount::create(&image, &working, bytes, owner).map_err(Error::Workspace)?)
            }
            None => None,
        };
        Ok(Self {
            quota,
            lent: None,
            dir,
        })
    }

    /// The attempt directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Mounts a slot's kept quota file system of `bytes` from `pool` on `working/`.
    pub fn lend_quota(
        &mut self,
        pool: &std::sync::Arc<crate::quota_pool::QuotaPool>,
        slot: usize,
        bytes: u64,
        owner: Option<u32>,
    ) -> Result<()> {
        let lease = pool
            .lend(slot, bytes, owner, &self.working())
            .map_err(Error::Workspace)?;
        self.lent = Some(lease);
        Ok(())
    }

    /// Whether `working/` is a quota file system (else a watchdog must bound it).
    pub fn has_quota(&self) -> bool {
        self.quota.is_some() || self.lent.is_some()
    }

    /// The writable directory.
    pub fn working(&self) -> PathBuf {
        self.dir.path().join("working")
    }

    /// The code file.
    pub fn script(&self) -> PathBuf {
        self.dir.path().join(SCRIPT)
    }
}

/// Turns ids into a name usable for containers and directories: `[a-zA-Z0-9_.-]`, at most
/// `max` characters.
pub fn sanitize(raw: &str, max: usize) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect();
    if s.is_empty() {
        s.push('_');
    }
    s
}
