//! Held-back answers never reach a sandbox, on either backend. A task with answers is
//! uploaded to a real coordinator (its Blobs service and store), so the private bundle is
//! stored next to the input; a real runner fetching by digest from that store (through the
//! coordinator's Blobs service, served alone so the runner registers nowhere) then runs
//! the engine's request for the task's input bundle with a script that reads every file it
//! can see under `/` (skipping /proc, /sys and /dev; files up to 8 MiB) looking for a marker
//! only the answers file holds. It must not find it, and must find the marker of the public
//! data (so the search did look at the input). The script carries the markers hex-encoded, so
//! its own file holds neither. The process backend isolates only as root (each slot its own
//! uid): as another user the case is skipped, saying so.

use std::path::Path;
use std::time::Duration;

use aide_coordinator::blobs::{BlobsService, DEFAULT_MAX_BLOB_BYTES};
use aide_core::Task;
use aide_core::bundle::Sha256Digest;
use aide_proto::bundle::{digest_from_wire, digest_to_wire};
use aide_proto::v1;
use aide_proto::v1::execute_event::Event;
use aide_proto::v1::runner_client::RunnerClient;
use tokio_util::sync::CancellationToken;

use crate::api_support::{Harness, run_test};

const IMAGE: &str = "aide-sandbox:py311";

/// Reads every file it can see for the two markers; prints one line per marker and
/// whether the walk finished within its time.
const SEARCH: &str = r#"
import itertools, os, time
markers = {name: bytes.fromhex(h) for name, h in [MARKERS]}
found = {name: [] for name in markers}
start, complete, seen = time.time(), True, set()
inputs = os.path.realpath("input")
# Everything under /, and what the working directory and input/.. reach (a parent the
# sandbox may traverse but not list is reached only this way).
roots = ["/", os.getcwd(), inputs, os.path.dirname(inputs)]
walk = itertools.chain.from_iterable(os.walk(root, followlinks=False) for root in roots)
for top, dirs, names in walk:
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    if time.time() - start > 400:
        complete = False
        break
    for name in names:
        path = os.path.realpath(os.path.join(top, name))
        if path in seen:
            continue
        seen.add(path)
        try:
            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 8 << 20:
                continue
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for marker, needle in markers.items():
            if needle in data:
                found[marker].append(path)
for marker, paths in found.items():
    print(f"{marker}: {'FOUND ' + ' '.join(paths) if paths else 'not found'}")
print(f"searched {len(seen)} files, complete={complete}")
"#;

/// A task with public data and held-back answers, each with its own marker.
fn task(root: &Path, public: &str, answers: &str) -> Task {
    let dir = root.join("task");
    std::fs::create_dir_all(dir.join("data")).expect("task dir");
    std::fs::write(
        dir.join("task.toml"),
        "goal = \"Predict y.\"\nanswers = \"answers.csv\"\n[submission]\nrequired = false\n",
    )
    .expect("task.toml");
    std::fs::write(dir.join("data/train.csv"), format!("x,y\n1,{public}\n")).expect("train");
    std::fs::write(dir.join("answers.csv"), format!("id,y\n0,{answers}\n")).expect("answers");
    Task::load(&dir).expect("load the task")
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Uploads the task and checks both bundles are stored; the engine's input for it.
async fn uploaded_input(h: &Harness, task: &Task, answers: &str) -> v1::InputBundle {
    let source = h.upload(task).await;
    let Some(v1::task_source::Source::Bundle(bundle)) = source.source else {
        panic!("an uploaded task is a bundle");
    };
    let private = digest_from_wire("private", &bundle.private_digest).expect("a private bundle");
    let private = h.blobs.get_manifest(&private).await.expect("stored");
    let file = private.files.iter().find(|f| f.path == "answers.csv");
    let file = file.expect("the answers are in the private bundle");
    assert!(h.blobs.contains(&file.sha256).await.expect("contains"));
    assert_eq!(file.size, format!("id,y\n0,{answers}\n").len() as u64);
    let digest: Sha256Digest = digest_from_wire("input", &bundle.input_digest).expect("input");
    let manifest = h.blobs.get_manifest(&digest).await.expect("input stored");
    v1::InputBundle {
        digest: digest_to_wire(&digest),
        manifest: Some((&manifest).into()),
    }
}

/// The coordinator's Blobs service over its store, alone: a runner registering with the
/// whole coordinator would have its executions (of runs it does not know) cancelled.
async fn blobs_only(h: &Harness) -> (String, CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let access = std::sync::Arc::new(aide_coordinator::access::Access::new(h.store.clone()));
    let service = BlobsService::new(h.blobs.clone(), DEFAULT_MAX_BLOB_BYTES, access).into_server();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        aide_service::Shell::default()
            .add_service(service)
            .serve(listener, stopped, async {})
            .await
            .expect("serve blobs");
    });
    (url, stop)
}

/// A runner of `backend` fetching bundles from the coordinator at `coordinator`.
async fn runner(dir: &Path, coordinator: &str, backend: &[&str]) -> (String, CancellationToken) {
    let work = dir.join("work").to_string_lossy().into_owned();
    let cache = dir.join("cache").to_string_lossy().into_owned();
    let mut argv = vec![
        "aide-runner",
        "--plaintext",
        "--listen",
        "127.0.0.1:0",
        "--work-root",
        &work,
        "--cache-dir",
        &cache,
        "--coordinator",
        coordinator,
        "--slots",
        "1",
        "--grace-secs",
        "1",
        "--drain-secs",
        "1",
    ];
    argv.extend_from_slice(backend);
    let config = aide_runner::Config::from_argv(argv).expect("runner config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(aide_runner::serve(config, listener, shutdown.clone()));
    (url, shutdown)
}

/// Runs the search on the runner at `url` and returns its output.
async fn search(url: &str, input: v1::InputBundle, markers: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = markers
        .iter()
        .map(|(name, marker)| format!("({name:?}, {:?})", hex(marker)))
        .collect();
    let code = SEARCH.replace("MARKERS", &pairs.join(", "));
    let request = v1::ExecuteRequest {
        work: Some(v1::WorkContext {
            run_id: uuid::Uuid::now_v7().to_string(),
            node_id: uuid::Uuid::now_v7().to_string(),
            attempt: 1,
            deadline: None,
            grading: None,
        }),
        code,
        input: Some(input),
        limits: Some(v1::Limits {
            timeout: Some(prost_types::Duration {
                seconds: 600,
                nanos: 0,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut stream = None;
    for _ in 0..100 {
        if let Ok(mut client) = RunnerClient::connect(url.to_owned()).await
            && let Ok(s) = client.execute(request.clone()).await
        {
            stream = Some(s.into_inner());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut stream = stream.expect("the runner takes the execution");
    let (mut output, mut finished) = (String::new(), None);
    while let Some(event) = stream.message().await.expect("event") {
        match event.event {
            Some(Event::Output(chunk)) => output.push_str(&chunk.text),
            Some(Event::Finished(f)) => finished = Some(f),
            _ => {}
        }
    }
    let finished = finished.expect("finished");
    eprintln!("--- search output\n{output}\n--- {finished:?}");
    assert_eq!(finished.exit_code, Some(0), "{output}");
    output
}

fn assert_answers_unseen(output: &str) {
    assert!(
        output.contains("public: FOUND"),
        "the input was searched: {output}"
    );
    assert!(output.contains("answers: not found"), "{output}");
    assert!(
        output.contains("complete=True"),
        "the whole tree was read: {output}"
    );
}

/// A directory the sandbox users may traverse (the runner's work root and cache).
fn traversable_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o711);
    std::fs::set_permissions(dir.path(), mode).expect("chmod");
    dir
}

async fn search_on(backend: Vec<String>) {
    let h = Harness::sqlite().await;
    run_test(h, |h| async move {
        // The client's copy of the task is its own: private, as in a home directory (on a
        // runner host it does not exist at all).
        let root = tempfile::tempdir().expect("temp dir");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(root.path(), mode).expect("chmod");
        let public = format!("PUBLIC-{}", uuid::Uuid::now_v7().simple());
        let answers = format!("HELD-BACK-{}", uuid::Uuid::now_v7().simple());
        let task = task(root.path(), &public, &answers);
        let input = uploaded_input(&h, &task, &answers).await;
        let dir = traversable_dir();
        let backend: Vec<&str> = backend.iter().map(String::as_str).collect();
        let (blobs, stop_blobs) = blobs_only(&h).await;
        let (url, stop) = runner(dir.path(), &blobs, &backend).await;
        let output = search(&url, input, &[("public", &public), ("answers", &answers)]).await;
        stop.cancel();
        stop_blobs.cancel();
        assert_answers_unseen(&output);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_sandbox_searching_everything_finds_no_answers() {
    if !aide_testkit::is_root() {
        aide_testkit::unavailable::<()>(
            "root (the process sandbox isolates only as root: each slot its own uid)",
            "not root",
        );
        return;
    }
    let python = aide_testkit::python::sandbox_python();
    let backend = [
        "--backend",
        "process",
        "--python",
        &python,
        "--uid-base",
        "38500",
    ];
    search_on(backend.iter().map(|s| s.to_string()).collect()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docker_sandbox_searching_everything_finds_no_answers() {
    let inspected = std::process::Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output();
    let problem = match inspected {
        Err(e) => Some(format!("no docker client: {e}")),
        Ok(out) if !out.status.success() => Some(format!(
            "image {IMAGE} missing: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    };
    if let Some(problem) = problem
        && aide_testkit::unavailable::<()>("Docker", problem).is_none()
    {
        return;
    }
    let id = format!("search-{}", std::process::id());
    let backend = ["--backend", "docker", "--image", IMAGE, "--runner-id", &id];
    search_on(backend.iter().map(|s| s.to_string()).collect()).await;
}
