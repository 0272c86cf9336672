//! Warm starts: a script runs as a fork of its slot's warm interpreter (process backend) or
//! warm container (Docker), which has imported the preload list, unless it or its request
//! asks for a cold start (or its slot's interpreter is still importing); a script that
//! poisons its interpreter leaves nothing to the next one; a warm interpreter that died is
//! replaced. (The limits and isolation tests of
//! `process.rs`, `docker.rs` and `quota.rs` run warm, the default, too.)

use std::time::{Duration, Instant};

use aide_proto::v1::ExecuteRequest;

use crate::common::*;

/// Each test gets its own sandbox uids so parallel tests never kill each other's scripts.
const UID_BASE: u32 = 21700;

/// A one-slot process runner whose warm interpreter preloads stdlib modules a bare
/// interpreter never imports, so a script can tell a warm start from a cold one; returned
/// once its interpreter is warm.
async fn warm_runner(uid_base: u32) -> Harness {
    let uid = uid_base.to_string();
    let h = Harness::start(&[
        "--backend",
        "process",
        "--slots",
        "1",
        "--python",
        "/usr/bin/python3",
        "--uid-base",
        &uid,
        "--preload",
        "decimal,json,csv",
    ])
    .await;
    until_warm(&h).await;
    h
}

/// Runs [`WHERE_AM_I`] until it forks from a warm interpreter (scripts run cold while the
/// slot's interpreter is still importing); returns that interpreter's pid.
async fn until_warm(h: &Harness) -> u32 {
    until_warm_for(h, || request(WHERE_AM_I)).await
}

/// [`until_warm`] for the requests `make` builds.
async fn until_warm_for(h: &Harness, make: impl Fn() -> ExecuteRequest) -> u32 {
    for _ in 0..200 {
        let (preloaded, parent) = where_it_ran(h, make()).await;
        if preloaded {
            return parent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the slot's interpreter never became warm");
}

/// Prints whether the preloaded `decimal` is already imported, then the parent's pid.
const WHERE_AM_I: &str = "import os, sys\nprint('decimal' in sys.modules)\nprint(os.getppid())\n";

async fn where_it_ran(h: &Harness, req: ExecuteRequest) -> (bool, u32) {
    let out = h.run(req).await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(0), "{} {}", f.output, f.sandbox_error);
    let mut lines = f.output.lines();
    let preloaded = lines.next() == Some("True");
    let parent = lines.next().and_then(|l| l.parse().ok()).expect("ppid");
    (preloaded, parent)
}

#[tokio::test]
async fn a_script_forks_from_the_warm_interpreter_unless_it_asks_for_a_cold_start() {
    let h = warm_runner(UID_BASE).await;
    let runner = std::process::id();

    let (preloaded, parent) = where_it_ran(&h, request(WHERE_AM_I)).await;
    assert!(preloaded, "a warm start sees the preloaded modules");
    assert_ne!(
        parent, runner,
        "a warm start is a child of its warm interpreter"
    );

    let pragma = format!("# aide: cold\n{WHERE_AM_I}");
    let (preloaded, parent) = where_it_ran(&h, request(&pragma)).await;
    assert!(!preloaded, "the pragma gives a fresh interpreter");
    assert_eq!(parent, runner, "a cold start is the runner's own child");

    let mut cold = request(WHERE_AM_I);
    cold.cold_start = true;
    let (preloaded, parent) = where_it_ran(&h, cold).await;
    assert!(
        !preloaded && parent == runner,
        "the request asks for a cold start"
    );
    h.stop().await;
}

/// A script never waits for its slot's interpreter to finish importing: one that asks for
/// two cores, where the warm interpreter loaded its libraries for one, runs cold at once
/// while an interpreter for two cores warms up, and later ones fork from it.
#[tokio::test]
async fn a_script_runs_cold_while_its_slot_is_still_warming() {
    let h = warm_runner(UID_BASE + 50).await;
    let two_cores = || {
        let mut req = request(WHERE_AM_I);
        req.limits.get_or_insert_default().cpus = 2.0;
        req
    };
    // Had it waited for the interpreter, it would have forked from it.
    let (preloaded, parent) = where_it_ran(&h, two_cores()).await;
    assert!(!preloaded, "ran cold while warming");
    assert_eq!(
        parent,
        std::process::id(),
        "a cold start is the runner's child"
    );
    until_warm_for(&h, two_cores).await;
    h.stop().await;
}

/// Poisons everything a script can reach in its interpreter and around it: a preloaded
/// module, a builtin, the module table, the environment, the decimal context, files in /tmp
/// and working/, a thread and a detached process.
const POISON: &str = r#"
import builtins, decimal, json, os, subprocess, sys, threading, time
json.dumps = lambda *a, **k: "poisoned"
builtins.AIDE_POISON = True
sys.modules["aide_poison"] = json
os.environ["AIDE_POISON"] = "1"
decimal.getcontext().prec = 3
open("/tmp/aide-poison-from-the-last-script", "w").write("x")
try:
    open("/dev/shm/aide-poison", "w").write("x")
except OSError:
    pass
open("working/left-behind.txt", "w").write("x")
threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
subprocess.Popen(["sleep", "3600"], start_new_session=True)
print(os.getppid())
"#;

/// Lists what of the poison it still sees.
const INSPECT: &str = r#"
import builtins, decimal, json, os, sys, threading
found = []
if json.dumps({}) != "{}": found.append("json.dumps patched")
if hasattr(builtins, "AIDE_POISON"): found.append("builtin")
if "aide_poison" in sys.modules: found.append("module table")
if "AIDE_POISON" in os.environ: found.append("environment")
if decimal.getcontext().prec != 28: found.append("decimal context")
if os.path.exists("/tmp/aide-poison-from-the-last-script"): found.append("/tmp file")
if os.path.exists("/dev/shm/aide-poison"): found.append("/dev/shm file")
if os.path.exists("working/left-behind.txt"): found.append("working file")
if threading.active_count() != 1: found.append("threads")
me = os.getpid()
def owned_by_me(pid):
    try:
        return os.stat("/proc/" + pid).st_uid == os.getuid()
    except FileNotFoundError:  # any process on the machine may exit meanwhile
        return False
others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != me and owned_by_me(p)]
if others: found.append("processes " + ",".join(others))
print(os.getppid())
print("found:", found)
"#;

#[tokio::test]
async fn a_script_that_poisons_its_interpreter_leaves_nothing_to_the_next_one() {
    let h = warm_runner(UID_BASE + 10).await;
    let poisoned = h.run(request(POISON)).await.finished;
    assert_eq!(poisoned.exit_code, Some(0), "{}", poisoned.output);
    let poisoner_parent = poisoned.output.trim().to_string();

    let inspected = h.run(request(INSPECT)).await.finished;
    assert_eq!(inspected.exit_code, Some(0), "{}", inspected.output);
    let mut lines = inspected.output.lines();
    assert_eq!(
        lines.next(),
        Some(poisoner_parent.as_str()),
        "both scripts are forks of the same warm interpreter"
    );
    assert_eq!(lines.next(), Some("found: []"), "{}", inspected.output);
    h.stop().await;
}

#[tokio::test]
async fn a_warm_interpreter_that_died_is_replaced() {
    let h = warm_runner(UID_BASE + 20).await;
    let first = until_warm(&h).await;
    let server = nix::unistd::Pid::from_raw(i32::try_from(first).expect("pid"));
    nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGKILL).expect("kill");

    // Meanwhile scripts run cold; then a new warm interpreter takes over.
    let second = until_warm(&h).await;
    assert_ne!(second, first, "a new warm interpreter took over");
    h.stop().await;
}

/// A cancel that arrives as soon as the execution is known kills its script, even a fork
/// that has not yet made its own process group.
#[tokio::test]
async fn a_cancel_at_the_start_kills_the_fork() {
    let h = warm_runner(UID_BASE + 40).await;
    let req = request("import time\ntime.sleep(60)\n");
    let work = req.work.clone().expect("work");
    let t = Instant::now();
    let mut client = h.client.clone();
    let stream = client.execute(req).await.expect("execute").into_inner();
    while !h.cancel(work.clone()).await {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let out = collect(stream).await;
    assert!(out.finished.cancelled, "{:?}", out.finished);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    h.stop().await;
}

/// A one-slot Docker runner whose warm containers preload the same stdlib modules.
async fn warm_docker_runner(id: &str) -> Option<Harness> {
    if !docker_available(crate::docker::IMAGE).await {
        return None;
    }
    Some(
        Harness::start(&[
            "--backend",
            "docker",
            "--slots",
            "1",
            "--image",
            crate::docker::IMAGE,
            "--runner-id",
            id,
            "--preload",
            "decimal,json,csv",
        ])
        .await,
    )
}

/// The container part of a warm Docker execution's sandbox id (`<container>/<pid>`).
fn container_of(out: &Outcome) -> String {
    let id = &out.started.as_ref().expect("started").sandbox_id;
    id.split_once('/')
        .map(|(container, _)| container.to_string())
        .unwrap_or_else(|| id.clone())
}

#[tokio::test]
async fn a_docker_script_forks_in_the_warm_container_unless_it_asks_for_a_cold_start() {
    let Some(h) = warm_docker_runner("t-warm-docker-cold").await else {
        return;
    };
    let first = h.run(request(WHERE_AM_I)).await;
    assert!(
        first.finished.output.starts_with("True\n"),
        "{:?}",
        first.finished
    );
    let second = h.run(request(WHERE_AM_I)).await;
    assert!(second.finished.output.starts_with("True\n"));
    assert_eq!(
        container_of(&first),
        container_of(&second),
        "one container serves both"
    );

    let cold = h.run(request(&format!("# aide: cold\n{WHERE_AM_I}"))).await;
    assert!(
        cold.finished.output.starts_with("False\n"),
        "{:?}",
        cold.finished
    );
    assert!(
        container_of(&cold).starts_with("aide-run"),
        "a container of its own: {}",
        container_of(&cold)
    );
    h.stop().await;
}

#[tokio::test]
async fn a_docker_script_that_poisons_its_interpreter_leaves_nothing_to_the_next_one() {
    let Some(h) = warm_docker_runner("t-warm-docker-poison").await else {
        return;
    };
    let poisoned = h.run(request(POISON)).await;
    assert_eq!(
        poisoned.finished.exit_code,
        Some(0),
        "{:?}",
        poisoned.finished
    );
    let inspected = h.run(request(INSPECT)).await;
    assert_eq!(
        inspected.finished.exit_code,
        Some(0),
        "{:?}",
        inspected.finished
    );
    assert_eq!(
        container_of(&poisoned),
        container_of(&inspected),
        "both scripts are forks in the same warm container"
    );
    let found = inspected.finished.output.lines().nth(1);
    assert_eq!(found, Some("found: []"), "{}", inspected.finished.output);
    h.stop().await;
}
