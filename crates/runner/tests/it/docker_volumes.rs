//! The Docker backend without bind mounts of runner paths, called directly (the service does
//! not take bundles yet): a bundle input reaches the script read-only through a volume filled
//! once per digest, a half-filled volume is never used, the script's files come back through
//! the archive API, nothing is left after any ending, and the janitor reaps volumes. Needs the
//! real daemon and `aide-sandbox:py311` (skips loudly without, fails under CI).

use std::{collections::HashMap, path::Path, sync::Arc, time::Duration};

use aide_core::bundle::{Limits as BundleLimits, Manifest, Sha256Digest};
use aide_proto::v1::{ExecuteEvent, execute_event::Event};
use aide_runner::{
    DockerSandbox, Sandbox,
    collect::CollectSpec,
    sandbox::{
        ExecIo, ExecKey, ExecSpec, RawOutcome, ResolvedLimits, SandboxInput,
        docker::{attempt_volume, container_name, inputs},
    },
    workspace::Workspace,
};
use bollard::{
    Docker,
    query_parameters::{EventsOptions, ListContainersOptions, ListVolumesOptions},
};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::common::{docker_available, shared_tempdir, work};

const IMAGE: &str = "aide-sandbox:py311";

async fn sandbox(id: &str, extra: &[&str]) -> Option<Arc<DockerSandbox>> {
    if !docker_available(IMAGE).await {
        return None;
    }
    let mut argv = vec![
        "aide-runner",
        "--backend",
        "docker",
        "--image",
        IMAGE,
        "--runner-id",
        id,
        "--grace-secs",
        "1",
    ];
    // Earlier runs' input volumes of this runner id go at the start-up sweep.
    if !extra.contains(&"--input-volumes-max") {
        argv.extend_from_slice(&["--input-volumes-max", "0"]);
    }
    argv.extend_from_slice(extra);
    let config = aide_runner::Config::from_argv(argv).expect("config");
    let sandbox = DockerSandbox::connect(&config, id, aide_telemetry::Metrics::new())
        .await
        .expect("connect");
    sandbox.sweep().await.expect("sweep");
    Some(Arc::new(sandbox))
}

/// A bundle directory with a marker unique to `tag` (so its digest is this test's own).
fn bundle(root: &Path, tag: &str) -> (SandboxInput, Sha256Digest) {
    let dir = root.join("bundle");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("train.csv"), "x,y\n1,2\n3,4\n").unwrap();
    std::fs::write(
        dir.join("sub/notes.txt"),
        format!("{tag} {}\n", std::process::id()),
    )
    .unwrap();
    std::fs::write(dir.join("blob.bin"), pattern(1 << 20, 3)).unwrap();
    let digest = Manifest::of_dir(&dir, &BundleLimits::default())
        .unwrap()
        .digest();
    (SandboxInput::Bundle { digest, dir }, digest)
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| ((i * 7 + seed) % 251) as u8)
        .collect()
}

struct Attempt {
    spec: ExecSpec,
    _ws: Workspace,
    _root: tempfile::TempDir,
}

fn attempt(code: &str, input: Option<SandboxInput>, timeout_secs: u64) -> Attempt {
    let root = shared_tempdir();
    let w = work();
    let key = ExecKey {
        run_id: w.run_id,
        node_id: w.node_id,
        attempt: 1,
    };
    let ws = Workspace::create(root.path(), "t", code, None, Some(10001), None).unwrap();
    let spec = ExecSpec {
        key,
        attempt_dir: ws.path().to_path_buf(),
        input,
        limits: ResolvedLimits {
            timeout: Duration::from_secs(timeout_secs),
            memory_bytes: 1 << 30,
            cpus: 1.0,
            pids: 64,
            max_output_bytes: 1 << 20,
            max_file_bytes: 2 << 20,
            max_write_bytes: 1 << 30,
            disk_bytes: 1 << 30,
        },
        allow_network: false,
        slot: 0,
        working_has_quota: false,
        warm: true,
        collect: CollectSpec {
            submission: "submission.bin".into(),
            globs: vec!["out/*.txt".into()],
            max_file: 2 << 20,
            max_total: 3 << 20,
        },
    };
    Attempt {
        spec,
        _ws: ws,
        _root: root,
    }
}

/// Runs `a`; `on_output` sees each streamed chunk with the cancel token.
async fn run_with(
    sandbox: &DockerSandbox,
    a: &Attempt,
    on_output: impl Fn(&str, &CancellationToken) + Send + 'static,
) -> (RawOutcome, String) {
    let (tx, mut rx) = mpsc::channel::<ExecuteEvent>(64);
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let reader = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if let Some(Event::Output(c)) = ev.event {
                on_output(&c.text, &token);
            }
        }
    });
    let mut io = ExecIo::new("t".into(), tx, 1 << 20);
    let raw = sandbox.run(&a.spec, &mut io, &cancel).await.expect("run");
    let (text, _) = io.finish_output().await;
    drop(io);
    reader.await.unwrap();
    (raw, text)
}

async fn run(sandbox: &DockerSandbox, a: &Attempt) -> (RawOutcome, String) {
    run_with(sandbox, a, |_, _| {}).await
}

fn client() -> Docker {
    Docker::connect_with_local_defaults().expect("docker")
}

async fn volumes(filters: &[String]) -> Vec<String> {
    let opts = ListVolumesOptions {
        filters: Some(HashMap::from([("label".to_string(), filters.to_vec())])),
    };
    let mut names: Vec<_> = client()
        .list_volumes(Some(opts))
        .await
        .expect("volumes")
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect();
    names.sort();
    names
}

/// Containers and attempt volumes of runner `id`.
async fn leftovers(id: &str) -> (Vec<String>, Vec<String>) {
    let opts = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!("aide.runner={id}")],
        )])),
        ..Default::default()
    };
    let containers = client()
        .list_containers(Some(opts))
        .await
        .expect("list")
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect();
    let vols = volumes(&[format!("aide.runner={id}"), "aide.kind=attempt".into()]).await;
    (containers, vols)
}

/// How often container `name` was created since `since` (unix seconds). (Volume "create"
/// events do not count fills: the daemon emits one whenever a container mounts the volume.)
async fn creations(name: &str, since: i64) -> usize {
    let until = chrono::Utc::now().timestamp() + 1;
    let opts = EventsOptions {
        since: Some(since.to_string()),
        until: Some(until.to_string()),
        filters: Some(HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("event".to_string(), vec!["create".to_string()]),
        ])),
    };
    client()
        .events(Some(opts))
        .filter(|e| {
            let named = e.as_ref().ok().and_then(|e| {
                let attrs = e.actor.as_ref()?.attributes.as_ref()?;
                attrs.get("name").cloned()
            });
            std::future::ready(named.as_deref() == Some(name))
        })
        .count()
        .await
}

const READER: &str = "import hashlib, os\n\
files = sorted(os.path.join(d, f)[len('input/'):] for d, _, fs in os.walk('input') for f in fs)\n\
print('files', files)\n\
print('blob', hashlib.sha256(open('input/blob.bin', 'rb').read()).hexdigest()[:16])\n";

#[tokio::test]
async fn docker_bundle_input_is_read_only_and_the_submission_comes_back_intact() {
    let Some(sb) = sandbox("t-vol-roundtrip", &[]).await else {
        return;
    };
    let data = shared_tempdir();
    let (input, _) = bundle(data.path(), "roundtrip");
    let code = format!(
        "{READER}\
         for p in ('input/x', 'input/train.csv', 'input/sub/new'):\n\
         \x20   try:\n        open(p, 'a').write('x')\n        print('WROTE', p)\n\
         \x20   except OSError as e:\n        print('refused', p)\n\
         try:\n    os.mkdir('input/d')\n    print('WROTE dir')\nexcept OSError:\n    print('refused mkdir')\n\
         open('working/submission.bin', 'wb').write(bytes((i * 7 + 5) % 251 for i in range(300000)))\n\
         os.mkdir('working/out')\n\
         open('working/out/a.txt', 'w').write('a')\n\
         open('working/out/big.txt', 'wb').write(b'b' * (3 << 20))\n\
         os.symlink('/etc/passwd', 'working/out/c.txt')\n"
    );
    let a = attempt(&code, Some(input), 60);
    let (raw, text) = run(&sb, &a).await;
    assert_eq!(raw.exit_code, Some(0), "{text}");
    let blob = hex16(&pattern(1 << 20, 3));
    assert_eq!(
        text,
        format!(
            "files ['blob.bin', 'sub/notes.txt', 'train.csv']\nblob {blob}\n\
             refused input/x\nrefused input/train.csv\nrefused input/sub/new\nrefused mkdir\n"
        )
    );
    let files = raw.files.expect("collected by the backend");
    let got: Vec<_> = files
        .iter()
        .map(|f| (f.path.as_str(), f.size, f.truncated))
        .collect();
    // The submission first, then the glob's regular files (no symlink), under the budget.
    assert_eq!(
        got,
        [
            ("submission.bin", 300_000, false),
            ("out/a.txt", 1, false),
            ("out/big.txt", 3 << 20, true)
        ]
    );
    assert_eq!(files[0].content, pattern(300_000, 5));
    assert_eq!(files[2].content.len(), 2 << 20);
    sb.shutdown().await;
    assert_eq!(leftovers("t-vol-roundtrip").await, (vec![], vec![]));
}

fn hex16(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn docker_one_digest_fills_its_volume_once() {
    let Some(sb) = sandbox("t-vol-once", &[]).await else {
        return;
    };
    let since = chrono::Utc::now().timestamp() - 1;
    let data = shared_tempdir();
    let (input, digest) = bundle(data.path(), "once");
    let (a, b, c) = (
        attempt(READER, Some(input.clone()), 60),
        attempt(READER, Some(input.clone()), 60),
        attempt(READER, Some(input), 60),
    );
    let ((ra, ta), (rb, tb)) = tokio::join!(run(&sb, &a), run(&sb, &b));
    assert!(
        ra.exit_code == Some(0) && rb.exit_code == Some(0),
        "{ta}{tb}"
    );
    assert_eq!(ta, tb);
    let (rc, tc) = run(&sb, &c).await;
    assert_eq!((rc.exit_code, tc), (Some(0), ta));
    let name = inputs::volume_name(&digest);
    let listed = volumes(&[format!("aide.digest={digest}")]).await;
    assert_eq!(listed, [name.clone(), inputs::ready_name(&digest)]);
    // One filler container, so one copy.
    assert_eq!(creations(&format!("{name}-fill"), since).await, 1);
}

#[tokio::test]
async fn docker_half_filled_input_volume_is_replaced() {
    let Some(sb) = sandbox("t-vol-half", &[]).await else {
        return;
    };
    let data = shared_tempdir();
    let (input, digest) = bundle(data.path(), "half");
    // What a crash mid-copy leaves: the labelled data volume, part of a copy, no marker.
    let name = inputs::volume_name(&digest);
    let docker = client();
    let labels = HashMap::from([
        ("aide.runner".to_string(), "t-vol-half".to_string()),
        ("aide.kind".to_string(), "input".to_string()),
        ("aide.digest".to_string(), digest.to_string()),
    ]);
    let _ = docker
        .remove_volume(
            &inputs::ready_name(&digest),
            None::<bollard::query_parameters::RemoveVolumeOptions>,
        )
        .await;
    let req = bollard::models::VolumeCreateRequest {
        name: Some(name.clone()),
        labels: Some(labels),
        ..Default::default()
    };
    docker.create_volume(req).await.expect("create");
    let body = bollard::models::ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(vec!["true".into()]),
        host_config: Some(bollard::models::HostConfig {
            mounts: Some(vec![inputs::volume_mount(&name, "/input", false)]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let helper = format!("{name}-test");
    let opts = bollard::query_parameters::CreateContainerOptions {
        name: Some(helper.clone()),
        ..Default::default()
    };
    docker
        .create_container(Some(opts), body)
        .await
        .expect("helper");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    tar.append_data(&mut h, "train.csv", &b"junk"[..]).unwrap();
    let upload = bollard::query_parameters::UploadToContainerOptions {
        path: "/input".into(),
        ..Default::default()
    };
    let tar = bollard::body_full(tar.into_inner().unwrap().into());
    docker
        .upload_to_container(&helper, Some(upload), tar)
        .await
        .expect("upload");
    docker
        .remove_container(
            &helper,
            None::<bollard::query_parameters::RemoveContainerOptions>,
        )
        .await
        .expect("rm helper");

    let code = format!("{READER}print(open('input/train.csv').read())\n");
    let a = attempt(&code, Some(input), 60);
    let (raw, text) = run(&sb, &a).await;
    assert_eq!(raw.exit_code, Some(0), "{text}");
    assert!(text.ends_with("x,y\n1,2\n3,4\n\n"), "{text}");
    assert!(!text.contains("junk"), "{text}");
    let listed = volumes(&[format!("aide.digest={digest}")]).await;
    assert_eq!(listed, [name, inputs::ready_name(&digest)]);
}

#[tokio::test]
async fn docker_nothing_is_left_after_success_failure_timeout_and_cancel() {
    let id = "t-vol-clean";
    let Some(sb) = sandbox(id, &[]).await else {
        return;
    };
    let data = shared_tempdir();
    let (input, _) = bundle(data.path(), "clean");
    let ok = attempt(
        "open('working/submission.bin', 'w').write('s')\n",
        Some(input.clone()),
        60,
    );
    let (raw, text) = run(&sb, &ok).await;
    assert_eq!(raw.exit_code, Some(0), "{text}");
    assert_eq!(raw.files.unwrap()[0].content, b"s");
    sb.shutdown().await;
    assert_eq!(leftovers(id).await, (vec![], vec![]));

    let failing = attempt("raise ValueError('no')\n", Some(input.clone()), 60);
    let (raw, _) = run(&sb, &failing).await;
    assert_eq!(raw.exit_code, Some(1));
    sb.shutdown().await;
    assert_eq!(leftovers(id).await, (vec![], vec![]));

    let slow = attempt("while True:\n    pass\n", Some(input.clone()), 1);
    let (raw, _) = run(&sb, &slow).await;
    assert!(raw.timed_out, "{raw:?}");
    sb.shutdown().await;
    assert_eq!(leftovers(id).await, (vec![], vec![]));

    let waiting = attempt(
        "import time\nprint('ready', flush=True)\ntime.sleep(300)\n",
        Some(input),
        60,
    );
    let (raw, _) = run_with(&sb, &waiting, |text, cancel| {
        if text.contains("ready") {
            cancel.cancel();
        }
    })
    .await;
    assert!(raw.cancelled, "{raw:?}");
    sb.shutdown().await;
    assert_eq!(leftovers(id).await, (vec![], vec![]));
}

#[tokio::test]
async fn docker_no_runner_path_is_bind_mounted_for_a_bundle() {
    let Some(sb) = sandbox("t-vol-nobind", &[]).await else {
        return;
    };
    let data = shared_tempdir();
    let (input, digest) = bundle(data.path(), "nobind");
    let mut a = attempt(
        "import time\nprint('ready', flush=True)\ntime.sleep(300)\n",
        Some(input),
        60,
    );
    // The mounts of a cold container, named after its attempt (a warm one gets the same
    // mounts from the same body, under the slot's name).
    a.spec.warm = false;
    let name = container_name(&a.spec.key);
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let inspect = tokio::spawn(async move {
        let token: CancellationToken = seen_rx.recv().await.expect("ready");
        let c = client()
            .inspect_container(&name, None)
            .await
            .expect("inspect");
        token.cancel();
        c
    });
    let (raw, _) = run_with(&sb, &a, move |text, cancel| {
        if text.contains("ready") {
            let _ = seen_tx.send(cancel.clone());
        }
    })
    .await;
    assert!(raw.cancelled, "{raw:?}");
    let c = inspect.await.unwrap();
    let host = c.host_config.expect("host config");
    assert!(host.binds.unwrap_or_default().is_empty());
    let mut mounts: Vec<_> = c
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let kind = m.typ.map(|t| t.to_string()).unwrap_or_default();
            (
                m.destination.unwrap_or_default(),
                kind,
                m.name.unwrap_or_default(),
                m.rw,
            )
        })
        .collect();
    mounts.sort();
    let attempt_vol = attempt_volume(&container_name(&a.spec.key));
    assert_eq!(
        mounts,
        [
            ("/sandbox".into(), "volume".into(), attempt_vol, Some(true)),
            (
                "/sandbox/input".into(),
                "volume".into(),
                inputs::volume_name(&digest),
                Some(false)
            ),
        ]
    );
}

#[tokio::test]
async fn docker_janitor_reaps_attempt_volumes_and_unused_input_volumes() {
    let id = "t-vol-janitor";
    let Some(sb) = sandbox(id, &["--input-volumes-max", "1"]).await else {
        return;
    };
    let leftover = bollard::models::VolumeCreateRequest {
        name: Some("aide-leftover-t-vol-janitor-work".into()),
        labels: Some(HashMap::from([
            ("aide.runner".to_string(), id.to_string()),
            ("aide.kind".to_string(), "attempt".to_string()),
        ])),
        ..Default::default()
    };
    client().create_volume(leftover).await.expect("create");
    let data = shared_tempdir();
    let (first, d1) = bundle(&data.path().join("1"), "janitor-1");
    let (second, d2) = bundle(&data.path().join("2"), "janitor-2");
    for input in [first, second] {
        let (raw, text) = run(&sb, &attempt(READER, Some(input), 60)).await;
        assert_eq!(raw.exit_code, Some(0), "{text}");
    }
    // The slot's warm container holds the last input until the runner stops.
    sb.shutdown().await;
    sb.sweep().await.expect("sweep");
    assert_eq!(leftovers(id).await, (vec![], vec![]));
    // Only the most recently used bundle stays.
    assert!(volumes(&[format!("aide.digest={d1}")]).await.is_empty());
    assert_eq!(volumes(&[format!("aide.digest={d2}")]).await.len(), 2);
    // A runner that keeps nothing idle removes it (its age counts from creation).
    let strict = sandbox(id, &["--input-idle-secs", "0"])
        .await
        .expect("sandbox");
    strict.sweep().await.expect("sweep");
    assert!(volumes(&[format!("aide.digest={d2}")]).await.is_empty());
}
