//! Provisioning of the process backend's virtualenv with real `venv` and real `pip` (PyPI must
//! be reachable): build, reuse without pip, a new venv for new requirements, redo after an
//! interrupted build, concurrent builders, a clear pip error, a remembered plan, and (only with
//! AIDE_TEST_FULL_VENV=1, it takes minutes) the full pinned package set.

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use aide_runner::{
    Config, Error,
    sandbox::venv::{self, MARKER, VenvRequest},
};

const SIX: &str = "six==1.16.0\n";

/// A request for `requirements` into a fresh cache root; as root, shared with a sandbox uid
/// as the runner would (the root must then be reachable by that uid).
fn request(requirements: &str) -> (tempfile::TempDir, VenvRequest) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root_user = aide_testkit::is_root();
    let req = VenvRequest {
        requirements: requirements.to_string(),
        root: dir.path().join("venvs"),
        base_python: None,
        shared_with: root_user.then_some(21900),
    };
    (dir, req)
}

/// Runs `code` with `python` (as `uid` when given) and returns its stdout.
fn python_says(python: &Path, uid: Option<u32>, code: &str) -> String {
    let drop = uid.map_or(String::new(), |u| {
        format!("import os; os.setgroups([]); os.setgid({u}); os.setuid({u})\n")
    });
    let out = Command::new(python)
        .args(["-c", &format!("{drop}{code}")])
        .env_clear()
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn six_version(python: &Path, uid: Option<u32>) -> String {
    python_says(python, uid, "import six; print(six.__version__)")
}

#[test]
fn provisions_a_venv_whose_python_imports_the_package_and_marks_it() {
    let (_dir, req) = request(SIX);
    let venv = venv::provision(&req).expect("provision");
    assert!(venv.built);
    assert_eq!(venv.dir, req.root.join(&venv.key[..16]));
    assert_eq!(venv.python, venv.dir.join("bin/python"));
    assert_eq!(six_version(&venv.python, None), "1.16.0");
    // The interpreter really is the venv's (not the base's with a lucky six).
    let prefix = python_says(&venv.python, None, "import sys; print(sys.prefix)");
    assert_eq!(Path::new(&prefix), venv.dir);
    let marker = std::fs::read_to_string(venv.dir.join(MARKER)).expect("marker");
    assert_eq!(marker.trim(), venv.key);
    assert_eq!(venv.key.len(), 64);
    if let Some(uid) = req.shared_with {
        // As root the sandbox uid runs the venv and imports from it.
        assert_eq!(six_version(&venv.python, Some(uid)), "1.16.0");
    }
}

#[test]
fn a_second_call_reuses_the_venv_without_running_pip() {
    let (_dir, req) = request(SIX);
    let first = venv::provision(&req).expect("provision");
    let marker = first.dir.join(MARKER);
    let mtime = std::fs::metadata(&marker)
        .and_then(|m| m.modified())
        .expect("mtime");
    let second = venv::provision(&req).expect("reuse");
    // Not built again, and the marker untouched: pip did not run (no timing: the machine
    // may be loaded).
    assert!(!second.built);
    assert_eq!(second.dir, first.dir);
    let mtime2 = std::fs::metadata(&marker)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(mtime, mtime2, "the marker was rewritten");
}

#[test]
fn changed_requirements_provision_a_new_venv_at_another_path() {
    let (_dir, mut req) = request(SIX);
    let old = venv::provision(&req).expect("provision");
    req.requirements = "six==1.15.0\n".into();
    let new = venv::provision(&req).expect("provision again");
    assert!(new.built);
    assert_ne!(new.dir, old.dir);
    assert_ne!(new.key, old.key);
    assert_eq!(six_version(&new.python, None), "1.15.0");
    assert_eq!(
        six_version(&old.python, None),
        "1.16.0",
        "the old venv is intact"
    );
}

#[test]
fn an_interrupted_build_is_redone_never_used() {
    let (_dir, req) = request(SIX);
    let planned = venv::plan(&req).expect("plan");
    // What a killed builder leaves: a half-made venv (an interpreter, no packages), no
    // marker, and its lock file.
    std::fs::create_dir_all(planned.dir.join("bin")).expect("mkdir");
    std::os::unix::fs::symlink(&planned.base, &planned.python).expect("symlink");
    std::fs::write(planned.dir.join("half-built"), "x").expect("write");
    std::fs::write(req.root.join(format!("{}.lock", &planned.key[..16])), "").expect("lock");
    assert!(!venv::is_complete(&planned));

    let venv = venv::provision(&req).expect("provision");
    assert!(venv.built, "the incomplete venv was used");
    assert_eq!(venv.dir, planned.dir);
    assert!(!venv.dir.join("half-built").exists());
    assert_eq!(six_version(&venv.python, None), "1.16.0");
    assert!(venv::is_complete(&venv));
}

/// The one `plan-*` file under the cache root.
fn remembered_plan(root: &Path) -> std::path::PathBuf {
    let plans: Vec<_> = std::fs::read_dir(root)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("plan-"))
        })
        .collect();
    assert_eq!(plans.len(), 1, "{plans:?}");
    plans[0].clone()
}

#[test]
fn a_complete_venvs_plan_is_remembered_and_used_only_while_it_holds() {
    let (_dir, req) = request(SIX);
    let venv = venv::provision(&req).expect("provision");
    let remembered = remembered_plan(&req.root);
    let text = std::fs::read_to_string(&remembered).expect("read");
    assert!(text.starts_with(&venv.key), "{text}");

    // What is remembered is what a later plan answers, without probing: a remembered
    // complete venv elsewhere under the root is taken as is.
    let other_key = format!("{:0<64}", "feed");
    let other = req.root.join(&other_key[..16]);
    std::fs::create_dir_all(other.join("bin")).expect("mkdir");
    std::os::unix::fs::symlink(&venv.base, other.join("bin/python")).expect("symlink");
    std::fs::write(other.join(MARKER), &other_key).expect("marker");
    let rest: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&remembered, format!("{other_key}\n{rest}")).expect("write");
    assert_eq!(venv::plan(&req).expect("plan").dir, other);

    // Once that venv is incomplete, the plan is found again and remembered anew.
    std::fs::remove_file(other.join(MARKER)).expect("rm");
    assert_eq!(venv::plan(&req).expect("plan").dir, venv.dir);
    assert_eq!(std::fs::read_to_string(&remembered).expect("read"), text);

    // A base interpreter that now resolves to another file (an upgraded Python) is noticed.
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "/usr/bin/python2.7-long-gone";
    std::fs::write(&remembered, lines.join("\n")).expect("write");
    assert_eq!(venv::plan(&req).expect("plan").dir, venv.dir);
    assert_eq!(std::fs::read_to_string(&remembered).expect("read"), text);
}

#[test]
fn concurrent_provisionings_of_one_venv_both_succeed_and_build_it_once() {
    let (_dir, req) = request(SIX);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| venv::provision(&req))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("join"))
            .collect()
    });
    let venvs: Vec<_> = results.into_iter().map(|r| r.expect("provision")).collect();
    assert_eq!(venvs[0].dir, venvs[1].dir);
    assert_eq!(
        venvs.iter().filter(|v| v.built).count(),
        1,
        "built twice: {venvs:?}"
    );
    assert!(venv::is_complete(&venvs[0]));
    assert_eq!(six_version(&venvs[0].python, None), "1.16.0");
    // One venv, its lock file and its remembered plan: no stray build directories.
    let entries = std::fs::read_dir(&req.root).expect("ls").count();
    assert_eq!(entries, 3);
}

#[test]
fn a_bad_requirement_fails_naming_pip_and_quoting_it() {
    let (_dir, req) = request("no-such-package-xyz==0.0.1\n");
    let err = venv::provision(&req).expect_err("must fail");
    assert!(matches!(err, Error::Provision(_)), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("pip install"), "{msg}");
    assert!(
        msg.contains("No matching distribution found for no-such-package-xyz")
            || msg.contains("Could not find a version that satisfies"),
        "{msg}"
    );
    let planned = venv::plan(&req).expect("plan");
    assert!(!venv::is_complete(&planned));
    assert!(!planned.dir.join(MARKER).exists());
}

#[test]
fn a_missing_base_python_is_a_clear_error() {
    let (_dir, mut req) = request(SIX);
    req.base_python = Some("/nonexistent/python3".into());
    let msg = venv::provision(&req).expect_err("must fail").to_string();
    eprintln!("{msg}");
    assert!(msg.contains("/nonexistent/python3"), "{msg}");
    assert!(msg.contains("does not run"), "{msg}");
}

#[test]
fn auto_is_the_default_and_an_explicit_python_is_left_alone() {
    let config = Config::from_argv(["aide-runner"]).expect("config");
    assert_eq!(config.process.python, venv::AUTO);
    let config =
        Config::from_argv(["aide-runner", "--python", "/usr/bin/python3"]).expect("config");
    assert_eq!(config.process.python, "/usr/bin/python3");
    let req = VenvRequest::from_config(&config.process);
    assert_eq!(req.requirements, venv::REQUIREMENTS);
    assert!(req.requirements.contains("scikit-learn=="));
}

/// The real package set; only with AIDE_TEST_FULL_VENV=1 (minutes, ~1 GB download). With
/// AIDE_TEST_VENV_ROOT it provisions there (and reuses what is already there). Then a runner
/// started with `--python auto` on that cache root reuses the venv and runs a script using
/// the packages (as the slot uid when root).
#[tokio::test]
async fn the_full_package_set_provisions_and_a_runner_uses_it() {
    if std::env::var_os("AIDE_TEST_FULL_VENV").is_none_or(|v| v != "1") {
        eprintln!("skipped: set AIDE_TEST_FULL_VENV=1 to provision the full package set");
        return;
    }
    let (_dir, mut req) = request(venv::REQUIREMENTS);
    if let Some(root) = std::env::var_os("AIDE_TEST_VENV_ROOT") {
        req.root = root.into();
    }
    let started = Instant::now();
    let venv = venv::provision(&req).expect("provision");
    eprintln!(
        "full package set: built={} in {:.1}s at {}",
        venv.built,
        started.elapsed().as_secs_f64(),
        venv.dir.display()
    );
    let code = "import numpy, pandas, scipy, sklearn, lightgbm, xgboost, statsmodels\n\
                print(numpy.__version__, pandas.__version__, sklearn.__version__)";
    let versions = python_says(&venv.python, req.shared_with, code);
    eprintln!("imports as the sandbox uid: {versions}");
    assert!(versions.starts_with("2.4.6 3.0.1 1.9.1"), "{versions}");

    let root = req.root.to_string_lossy().into_owned();
    let started = Instant::now();
    let h = crate::common::Harness::start(&[
        "--backend",
        "process",
        "--python",
        "auto",
        "--venv-root",
        &root,
        "--uid-base",
        "21910",
    ])
    .await;
    assert!(started.elapsed() < Duration::from_secs(10), "did not reuse");
    let out = h
        .run(crate::common::request(
            "import sys, sklearn, lightgbm\nprint(sys.prefix)\nprint(sklearn.__version__)\n",
        ))
        .await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(0), "{}", f.output);
    assert_eq!(f.output, format!("{}\n1.9.1\n", venv.dir.display()));
    h.stop().await;
}
