//! Provisioning of the process backend's interpreter: a virtualenv holding the pinned package
//! set solutions rely on (`deploy/sandbox/requirements.txt`), built once per host under a
//! cache directory and reused by every later start.
//!
//! - The venv lives at `<root>/<first 16 hex of its key>`; the key is the SHA-256 of the
//!   requirements text and the base interpreter (path and `major.minor`), so a changed package
//!   set or base Python gets a new venv instead of a mixed one.
//! - A marker file holding the full key is written (atomically, by rename) only after `venv`
//!   and `pip` succeeded. A venv without a valid marker is never used: it is removed and
//!   rebuilt (an interrupted provisioning is redone).
//! - Finding the base interpreter starts one per candidate, so once a request's venv is
//!   complete its plan is remembered in `<root>/plan-<hash of the request>`, and later starts
//!   start no interpreter to find it.
//! - Builders take an exclusive `flock` on `<root>/<prefix>.lock` and re-check the marker
//!   once they hold it, so concurrent runners or slots build one venv and the others reuse
//!   it. The venv is built in place (venvs are not relocatable: pip writes absolute shebangs)
//!   and the kernel drops the lock of a builder that dies.
//! - With `shared_with` (the runner is root and drops scripts to sandbox uids), the base
//!   interpreter must be usable by that uid and the venv is made world-readable.

use std::{
    collections::VecDeque,
    fs::{self, File},
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use sha2::{Digest, Sha256};
use tracing::{debug, info};

pub use crate::config::PYTHON_AUTO as AUTO;
use crate::{Error, Result, config::ProcessConfig};

/// The package set every sandbox installs, as pinned for the Docker image.
pub const REQUIREMENTS: &str = include_str!("../../../../deploy/sandbox/requirements.txt");

/// Name of the marker file written last; it holds the venv's key.
pub const MARKER: &str = ".aide-provisioned";

/// Oldest base interpreter accepted.
const MIN_PYTHON: (u32, u32) = (3, 9);

/// Lines of a failed command's output quoted in the error.
const TAIL_LINES: usize = 30;

/// What to provision, and where.
#[derive(Debug, Clone)]
pub struct VenvRequest {
    /// Requirements text (pip's `-r` format).
    pub requirements: String,
    /// Directory holding the venvs.
    pub root: PathBuf,
    /// Interpreter the venv is built from; `None` searches `PATH` for a usable `python3`.
    pub base_python: Option<String>,
    /// A uid that must be able to run the venv (the sandbox uid when the runner is root).
    pub shared_with: Option<u32>,
}

/// A virtualenv, provisioned or planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv {
    /// The venv directory.
    pub dir: PathBuf,
    /// Its interpreter (`<dir>/bin/python`).
    pub python: PathBuf,
    /// SHA-256 (hex) of the requirements and the base interpreter; the marker holds it.
    pub key: String,
    /// The base interpreter it is (to be) built from.
    pub base: PathBuf,
    /// Whether this call built it (false: an existing complete venv was reused).
    pub built: bool,
}

impl VenvRequest {
    /// The process backend's request: the embedded requirements, the configured or default
    /// cache root, and the slot-0 sandbox uid when the runner is root.
    pub fn from_config(config: &ProcessConfig) -> Self {
        let root_user = nix::unistd::geteuid().is_root();
        Self {
            requirements: REQUIREMENTS.to_string(),
            root: config
                .venv_root
                .clone()
                .unwrap_or_else(|| default_root(root_user)),
            base_python: config.venv_base_python.clone(),
            shared_with: root_user.then_some(config.uid_base),
        }
    }
}

/// The default cache root: `/var/cache/aide/venvs` as root (readable by sandbox uids), else
/// `$XDG_CACHE_HOME/aide/venvs`, else `~/.cache/aide/venvs`.
pub fn default_root(root_user: bool) -> PathBuf {
    cache_home(root_user).join("venvs")
}

/// [`cache_home`] of the user this process runs as.
pub fn own_cache_home() -> PathBuf {
    cache_home(nix::unistd::geteuid().is_root())
}

/// Where the runner keeps what it caches: `/var/cache/aide` as root (reachable by sandbox
/// uids), else `$XDG_CACHE_HOME/aide`, else `~/.cache/aide`.
pub fn cache_home(root_user: bool) -> PathBuf {
    if root_user {
        return PathBuf::from("/var/cache/aide");
    }
    let env_dir = |name| std::env::var_os(name).map(PathBuf::from);
    env_dir("XDG_CACHE_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| env_dir("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("aide")
}

/// Resolves the base interpreter and computes where the venv for `req` lives, without
/// building anything (`built` is false). A request whose venv was found complete before is
/// answered from what was remembered then, without starting an interpreter.
pub fn plan(req: &VenvRequest) -> Result<Venv> {
    if let Some(venv) = remembered(req) {
        return Ok(venv);
    }
    let venv = resolve(req)?;
    if is_complete(&venv) {
        remember(req, &venv);
    }
    Ok(venv)
}

/// [`plan`] the slow way: probes the candidate base interpreters.
fn resolve(req: &VenvRequest) -> Result<Venv> {
    let base = find_base(req)?;
    let mut hasher = Sha256::new();
    hasher.update(b"aide-venv-v1\n");
    hasher.update(base.executable.as_os_str().as_encoded_bytes());
    hasher.update(format!("\n{}.{}\n", base.version.0, base.version.1));
    hasher.update(req.requirements.as_bytes());
    let key = format!("{:x}", hasher.finalize());
    let dir = req.root.join(&key[..16]);
    Ok(Venv {
        python: dir.join("bin").join("python"),
        dir,
        key,
        base: base.executable,
        built: false,
    })
}

/// Returns a complete venv for `req`, building it first when there is none (this runs
/// `python -m venv` and `pip install` and can take minutes; it blocks).
pub fn provision(req: &VenvRequest) -> Result<Venv> {
    let mut venv = plan(req)?;
    if is_complete(&venv) {
        debug!(dir = %venv.dir.display(), "reusing the provisioned virtualenv");
        return Ok(venv);
    }
    fs::create_dir_all(&req.root).map_err(io_err("creating", &req.root))?;
    if req.shared_with.is_some() {
        fs::set_permissions(&req.root, fs::Permissions::from_mode(0o755))
            .map_err(io_err("opening to sandbox users", &req.root))?;
    }
    let lock_path = req.root.join(format!("{}.lock", &venv.key[..16]));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("opening the lock", &lock_path))?;
    if lock.try_lock().is_err() {
        info!(dir = %venv.dir.display(), "waiting for another runner provisioning this virtualenv");
        lock.lock().map_err(io_err("locking", &lock_path))?;
    }
    if is_complete(&venv) {
        return Ok(venv); // someone else built it while we waited
    }
    let started = Instant::now();
    info!(
        dir = %venv.dir.display(),
        base = %venv.base.display(),
        "provisioning the sandbox virtualenv (python -m venv, then pip install of the pinned \
         package set); this can take several minutes and happens once per host"
    );
    build(req, &venv)?;
    venv.built = true;
    remember(req, &venv);
    info!(dir = %venv.dir.display(), secs = started.elapsed().as_secs(), "virtualenv provisioned");
    drop(lock);
    Ok(venv)
}

/// Where the plan of `req` is remembered: named by everything that chooses the base
/// interpreter and the package set (the configured base, `PATH`, whether a sandbox uid
/// must run it: which uid does not matter, as they differ only in number).
fn remembered_at(req: &VenvRequest) -> PathBuf {
    let mut hasher = Sha256::new();
    hasher.update(b"aide-venv-plan-v1\n");
    hasher.update(req.base_python.as_deref().unwrap_or_default());
    hasher.update(b"\n");
    hasher.update(
        std::env::var_os("PATH")
            .unwrap_or_default()
            .as_encoded_bytes(),
    );
    hasher.update(format!("\n{}\n", req.shared_with.is_some()));
    hasher.update(req.requirements.as_bytes());
    req.root.join(format!(
        "plan-{}",
        &format!("{:x}", hasher.finalize())[..16]
    ))
}

/// Remembers that `req` plans `venv` (complete): its key, its base interpreter and the file
/// that interpreter resolves to, so an upgraded base Python is noticed. Best effort.
fn remember(req: &VenvRequest, venv: &Venv) {
    let Ok(real) = fs::canonicalize(&venv.base) else {
        return;
    };
    let path = remembered_at(req);
    let partial = path.with_extension("partial");
    let text = format!(
        "{}\n{}\n{}\n",
        venv.key,
        venv.base.display(),
        real.display()
    );
    if let Err(e) = fs::write(&partial, text).and_then(|()| fs::rename(&partial, &path)) {
        debug!(path = %path.display(), error = %e, "the venv plan was not remembered");
    }
}

/// The plan remembered for `req`, when its venv is still complete and its base interpreter
/// still resolves to the same file.
fn remembered(req: &VenvRequest) -> Option<Venv> {
    let text = fs::read_to_string(remembered_at(req)).ok()?;
    let mut lines = text.lines();
    let (key, base, real) = (lines.next()?, lines.next()?, lines.next()?);
    let base = PathBuf::from(base);
    if key.len() < 16 || fs::canonicalize(&base).ok()? != Path::new(real) {
        return None;
    }
    let dir = req.root.join(&key[..16]);
    let venv = Venv {
        python: dir.join("bin").join("python"),
        dir,
        key: key.to_string(),
        base,
        built: false,
    };
    is_complete(&venv).then_some(venv)
}

/// Whether the venv's marker holds its key and its interpreter exists.
pub fn is_complete(venv: &Venv) -> bool {
    fs::read_to_string(venv.dir.join(MARKER)).is_ok_and(|m| m.trim() == venv.key)
        && venv.python.exists()
}

/// Builds the venv in place (called with the lock held).
fn build(req: &VenvRequest, venv: &Venv) -> Result<()> {
    let dir = &venv.dir;
    if fs::symlink_metadata(dir).is_ok() {
        info!(dir = %dir.display(), "removing an incomplete virtualenv left by an interrupted provisioning");
        fs::remove_dir_all(dir).map_err(io_err("removing", dir))?;
    }
    let mut cmd = Command::new(&venv.base);
    cmd.args(["-m", "venv"]).arg(dir);
    run_quoted(cmd).map_err(|(status, tail)| {
        Error::Provision(format!(
            "`{} -m venv {}` failed ({status}); is the venv module installed (e.g. the \
             python3-venv package)? Its output ends with:\n{tail}",
            venv.base.display(),
            dir.display()
        ))
    })?;
    let reqs = dir.join("aide-requirements.txt");
    fs::write(&reqs, &req.requirements).map_err(io_err("writing", &reqs))?;
    let wanted = req
        .requirements
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .count();
    if wanted > 0 {
        info!(dir = %dir.display(), packages = wanted, "pip install into the virtualenv");
        let mut cmd = Command::new(&venv.python);
        cmd.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(["--progress-bar", "off", "--prefer-binary", "-r"])
        .arg(&reqs)
        .env("PIP_ROOT_USER_ACTION", "ignore");
        run_quoted(cmd).map_err(|(status, tail)| {
            Error::Provision(format!(
                "pip install into {} failed ({status}); the last lines of pip's output:\n{tail}",
                dir.display()
            ))
        })?;
    }
    if req.shared_with.is_some() {
        open_up(dir).map_err(io_err("opening to sandbox users", dir))?;
    }
    let tmp = dir.join(format!("{MARKER}.tmp"));
    fs::write(&tmp, format!("{}\n", venv.key)).map_err(io_err("writing", &tmp))?;
    let marker = dir.join(MARKER);
    fs::rename(&tmp, &marker).map_err(io_err("writing", &marker))?;
    Ok(())
}

/// A base interpreter that passed the probe.
#[derive(Debug)]
struct BasePython {
    executable: PathBuf,
    version: (u32, u32),
}

/// The configured base interpreter, or the first usable `python3` on `PATH` (then the usual
/// system locations).
fn find_base(req: &VenvRequest) -> Result<BasePython> {
    if let Some(python) = &req.base_python {
        return probe(python, req.shared_with).map_err(|why| {
            Error::Provision(format!(
                "the base python {python} cannot build the venv: {why}"
            ))
        });
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("python3"))
                .collect()
        })
        .unwrap_or_default();
    candidates.extend(["/usr/bin/python3", "/usr/local/bin/python3"].map(PathBuf::from));
    let mut tried = Vec::new();
    for candidate in candidates.into_iter().filter(|c| c.is_file()) {
        let shown = candidate.display().to_string();
        if tried.iter().any(|(c, _)| *c == shown) {
            continue;
        }
        match probe(&shown, req.shared_with) {
            Ok(base) => return Ok(base),
            Err(why) => tried.push((shown, why)),
        }
    }
    let tried = if tried.is_empty() {
        "no python3 on PATH".to_string()
    } else {
        tried
            .iter()
            .map(|(c, why)| format!("{c}: {why}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Err(Error::Provision(format!(
        "no python3 (>= {}.{}, with the venv module) to build the sandbox venv from ({tried}); \
         install one (e.g. apt install python3-venv), set --venv-base-python, or point \
         --python at an interpreter that already has the packages",
        MIN_PYTHON.0, MIN_PYTHON.1
    )))
}

/// Checks that `python` runs, is recent enough and has `venv`/`ensurepip`; with `uid`, that
/// it still imports them after dropping to that uid.
fn probe(python: &str, uid: Option<u32>) -> std::result::Result<BasePython, String> {
    let drop = uid.map_or(String::new(), |u| {
        format!("import os; os.setgroups([]); os.setgid({u}); os.setuid({u}); ")
    });
    let script = format!(
        "{drop}import sys, venv, ensurepip; print(sys.executable); \
         print('%d.%d' % sys.version_info[:2])"
    );
    let out = Command::new(python)
        .args(["-c", &script])
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("does not run ({e})"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(match uid {
            Some(u) if last.contains("Permission") => {
                format!("not usable by sandbox uid {u} ({last})")
            }
            _ => format!("lacks venv/ensurepip or fails ({last})"),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let executable = PathBuf::from(lines.next().unwrap_or("").trim());
    let version = lines
        .next()
        .and_then(|v| v.trim().split_once('.'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| "printed no version".to_string())?;
    if !executable.is_absolute() {
        return Err("reports no executable path".into());
    }
    if version < MIN_PYTHON {
        return Err(format!(
            "is Python {}.{}, older than {}.{}",
            version.0, version.1, MIN_PYTHON.0, MIN_PYTHON.1
        ));
    }
    Ok(BasePython {
        executable,
        version,
    })
}

/// Runs `cmd` with stdout and stderr merged, logging pip's per-package progress at info and
/// the rest at debug; on failure returns the exit status and the output's last lines.
fn run_quoted(mut cmd: Command) -> std::result::Result<(), (String, String)> {
    let failed = |e: std::io::Error| (format!("could not start: {e}"), String::new());
    let (reader, writer) = std::io::pipe().map_err(failed)?;
    let writer2 = writer.try_clone().map_err(failed)?;
    cmd.env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2);
    let mut child = cmd.spawn().map_err(failed)?;
    drop(cmd); // closes our copies of the write end
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        let progress = [
            "Collecting ",
            "Installing collected",
            "Successfully installed",
        ];
        if progress.iter().any(|p| line.starts_with(p)) {
            info!("{line}");
        } else {
            debug!("{line}");
        }
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    let status = child.wait().map_err(failed)?;
    if status.success() {
        return Ok(());
    }
    Err((status.to_string(), Vec::from(tail).join("\n")))
}

/// Adds read (and, where anyone may execute, execute) permission for everyone, recursively;
/// symlinks are left alone.
fn open_up(path: &Path) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    let want = if meta.is_dir() || mode & 0o100 != 0 {
        mode | 0o555
    } else {
        mode | 0o444
    };
    if want != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(want))?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            open_up(&entry?.path())?;
        }
    }
    Ok(())
}

/// Wraps an I/O failure on `path` into a provisioning error.
fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |e| Error::Provision(format!("{what} {}: {e}", path.display()))
}
