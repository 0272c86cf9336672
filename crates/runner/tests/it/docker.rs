//! The Docker backend end to end through the gRPC service, against the real daemon and the
//! `aide-sandbox:py311` image: results, exceptions, limits (time, memory, pids), isolation
//! (no network, read-only root and input, no runner secrets), cancellation, and cleanup.
//! Skips loudly without Docker or the image; fails instead when CI is set.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use crate::common::*;
use aide_proto::v1::Limits;
use bollard::query_parameters::ListContainersOptions;

pub(crate) const IMAGE: &str = "aide-sandbox:py311";

async fn docker_harness(slots: usize, id: &str) -> Option<Harness> {
    if !docker_available(IMAGE).await {
        return None;
    }
    let slots = slots.to_string();
    Some(
        Harness::start(&[
            "--backend",
            "docker",
            "--slots",
            &slots,
            "--image",
            IMAGE,
            "--runner-id",
            id,
        ])
        .await,
    )
}

/// Containers labelled with runner `id`.
async fn containers_of(id: &str) -> Vec<String> {
    let docker = bollard::Docker::connect_with_local_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("version");
    let opts = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![format!("aide.runner={id}")],
        )])),
        ..Default::default()
    };
    docker
        .list_containers(Some(opts))
        .await
        .expect("list")
        .into_iter()
        .flat_map(|c| c.names.unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn docker_success_with_submission_and_read_only_input() {
    let Some(h) = docker_harness(1, "t-docker-ok").await else {
        return;
    };
    let data = shared_tempdir();
    let input = input_dir(data.path());
    let mut req = request(
        "import sys, os\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\n\
         rows = open('input/train.csv').read().splitlines()\n\
         try:\n    open('input/x', 'w')\n    print('INPUT WRITABLE')\nexcept OSError as e:\n    print('input', type(e).__name__)\n\
         open('working/submission.csv', 'w').write('id,y\\n' + str(len(rows)) + '\\n')\n\
         print(os.getuid(), os.getcwd())\n",
    );
    req.local_input_dir = input.to_string_lossy().into_owned();
    req.submission_file = "submission.csv".into();
    let out = h.run(req).await;
    let f = &out.finished;
    assert!(f.sandbox_error.is_empty(), "{}", f.sandbox_error);
    assert_eq!(f.exit_code, Some(0), "{}", f.output);
    assert_eq!(f.output, "a\nb\nc\ninput OSError\n10001 /sandbox\n");
    assert_eq!(out.streamed(), f.output);
    assert_eq!(f.files.len(), 1);
    assert_eq!(f.files[0].content, b"id,y\n3\n");
    let started = out.started.expect("started");
    // A fork inside the slot's warm container: `<container>/<pid>`.
    assert!(
        started.sandbox_id.starts_with("aide-warm-t-docker-ok-0-"),
        "{}",
        started.sandbox_id
    );
    eprintln!(
        "short script: cpu {:?} peak {}",
        f.cpu_time, f.peak_memory_bytes
    );
    // Counted by outcome and wall time, daemon calls timed by call, the slot free again.
    let text = h.metrics.collect_and_render().await;
    for line in [
        "aide_runner_executions_total{outcome=\"ok\"} 1",
        "aide_runner_execution_duration_seconds_count 1",
        "aide_runner_slots{state=\"free\"} 1",
        "aide_runner_slots{state=\"busy\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in {text}");
    }
    for call in ["create", "attach", "start", "upload"] {
        let count = format!("aide_runner_docker_call_duration_seconds_count{{call=\"{call}\"}}");
        assert!(text.contains(&count), "no {count} in {text}");
    }
    h.stop().await;
    // The warm container lives until the runner stops, and goes with it.
    assert!(containers_of("t-docker-ok").await.is_empty());
}

/// A file system mounted inside the input directory (a writable tmpfs) does not become a
/// writable place in the sandbox: the input is read-only all the way down.
#[tokio::test]
async fn docker_input_is_read_only_all_the_way_down() {
    if !is_root() {
        eprintln!("skipped: mounting a file system under the input needs root");
        return;
    }
    let Some(h) = docker_harness(1, "t-docker-ro").await else {
        return;
    };
    let data = shared_tempdir();
    let input = input_dir(data.path());
    let sub = input.join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=1777,size=1m", "tmpfs"])
        .arg(&sub)
        .status()
        .expect("mount");
    assert!(mounted.success());
    std::fs::write(sub.join("inner.txt"), "mounted").expect("write");
    let mut req = request(
        r#"
for path in ("input/top.txt", "input/sub/new.txt", "input/sub/inner.txt"):
    try:
        open(path, "a").write("x")
        print(path, "WRITABLE")
    except OSError as e:
        print(path, type(e).__name__)
"#,
    );
    req.local_input_dir = input.to_string_lossy().into_owned();
    let out = h.run(req).await;
    let _ = std::process::Command::new("umount").arg(&sub).status();
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(0), "{}", f.output);
    assert!(!f.output.contains("WRITABLE"), "{}", f.output);
    assert_eq!(f.output.lines().count(), 3, "{}", f.output);
    h.stop().await;
}

#[tokio::test]
async fn docker_exception_is_parsed() {
    let Some(h) = docker_harness(1, "t-docker-exc").await else {
        return;
    };
    let out = h
        .run(request("import json\n\nx = 1\njson.loads('{bad')\n"))
        .await;
    let e = out.finished.exception.as_ref().expect("exception");
    assert_eq!(e.r#type, "json.decoder.JSONDecodeError");
    assert_eq!(e.line, 4);
    assert!(
        e.message.starts_with("Expecting property name"),
        "{}",
        e.message
    );
    assert_eq!(out.finished.exit_code, Some(1));
    h.stop().await;
}

#[tokio::test]
async fn docker_infinite_loop_times_out() {
    let Some(h) = docker_harness(1, "t-docker-timeout").await else {
        return;
    };
    let t = Instant::now();
    let out = h
        .run(with_timeout(request("while True:\n    pass\n"), 2))
        .await;
    let f = &out.finished;
    assert!(f.timed_out && f.exit_code.is_none(), "{f:?}");
    // 2 s limit + container overheads, the warm container's first start (importing the
    // preload list) included.
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    // Sampled from the container's cgroup counters while it ran.
    assert!(secs(&f.cpu_time) > 0.5, "cpu {:?}", f.cpu_time);
    assert!(
        f.peak_memory_bytes > 1 << 20,
        "peak {}",
        f.peak_memory_bytes
    );
    assert!(!out.samples.is_empty());
    h.stop().await;
    // The warm container lives until the runner stops, and goes with it.
    assert!(containers_of("t-docker-timeout").await.is_empty());
}

#[tokio::test]
async fn docker_memory_bomb_is_oom_killed() {
    let Some(h) = docker_harness(1, "t-docker-oom").await else {
        return;
    };
    let mut req = request("x = []\nwhile True:\n    x.append(b'x' * (20 << 20))\n");
    req.limits = Some(Limits {
        memory_bytes: 128 << 20,
        ..req.limits.unwrap_or_default()
    });
    let out = h.run(req).await;
    let f = &out.finished;
    assert!(f.oom_killed, "{f:?}");
    assert_ne!(f.exit_code, Some(0));
    h.stop().await;
}

#[tokio::test]
async fn docker_fork_bomb_is_contained_by_the_pids_limit() {
    let Some(h) = docker_harness(1, "t-docker-fork").await else {
        return;
    };
    let mut req = request(
        "import os, time\nn = 0\ntry:\n    for _ in range(10000):\n        if os.fork() == 0:\n            time.sleep(300)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('refused after', n, type(e).__name__)\n",
    );
    req.limits = Some(Limits {
        pids: 32,
        ..req.limits.unwrap_or_default()
    });
    let out = h.run(req).await;
    let f = &out.finished;
    let n: u32 = f
        .output
        .strip_prefix("refused after ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("fork was never refused: {}", f.output));
    assert!(n < 32, "{n}");
    h.stop().await;
    // The warm container lives until the runner stops, and goes with it.
    assert!(containers_of("t-docker-fork").await.is_empty());
}

#[tokio::test]
async fn docker_network_and_writes_outside_are_refused() {
    let Some(h) = docker_harness(1, "t-docker-iso").await else {
        return;
    };
    let code = "import socket\nfor host in ('1.1.1.1', '172.17.0.1'):\n    try:\n        socket.create_connection((host, 53), timeout=2)\n        print('CONNECTED', host)\n    except OSError as e:\n        print('net refused', host)\nfor p in ('/etc/x', '/usr/x', '/sandbox/x', '/sandbox/solution.py', '/home/x'):\n    try:\n        open(p, 'a').write('x')\n        print('WROTE', p)\n    except OSError as e:\n        print('write refused', p)\nopen('/tmp/t', 'w').write('tmp ok')\nopen('working/w', 'w').write('ok')\nprint('done')\n";
    let out = h.run(request(code)).await;
    let f = &out.finished;
    assert!(
        !f.output.contains("CONNECTED") && !f.output.contains("WROTE"),
        "{}",
        f.output
    );
    assert_eq!(f.output.matches("net refused").count(), 2, "{}", f.output);
    assert_eq!(f.output.matches("write refused").count(), 5, "{}", f.output);
    assert!(f.output.ends_with("done\n"), "{}", f.output);
    h.stop().await;
}

#[tokio::test]
async fn docker_cancel_and_disconnect_kill_within_two_seconds() {
    let Some(h) = docker_harness(1, "t-docker-cancel").await else {
        return;
    };
    let req = request("import time\nprint('ready', flush=True)\ntime.sleep(300)\n");
    let work = req.work.clone().unwrap();
    let mut client = h.client.clone();
    let mut stream = client.execute(req).await.expect("execute").into_inner();
    wait_ready(&mut stream).await;
    let t = Instant::now();
    assert!(h.cancel(work).await);
    let out = collect(stream).await;
    assert!(out.finished.cancelled, "{:?}", out.finished);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    let req = request("import time\nprint('ready', flush=True)\ntime.sleep(300)\n");
    let mut stream = client.execute(req).await.expect("execute").into_inner();
    wait_ready(&mut stream).await;
    let t = Instant::now();
    drop(stream);
    while !containers_of("t-docker-cancel").await.is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "container alive after {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn docker_fifty_executions_leave_no_container_or_directory() {
    let Some(h) = docker_harness(2, "t-docker-fifty").await else {
        return;
    };
    for i in 0..50 {
        let out = h.run(request(&format!("print({i})\n"))).await;
        assert_eq!(out.finished.output, format!("{i}\n"), "{:?}", out.finished);
    }
    assert!(h.leftover_dirs().is_empty(), "{:?}", h.leftover_dirs());
    h.stop().await;
    // The warm container lives until the runner stops, and goes with it.
    assert!(containers_of("t-docker-fifty").await.is_empty());
}

#[tokio::test]
async fn docker_janitor_removes_labelled_leftovers_at_start() {
    if !docker_available(IMAGE).await {
        return;
    }
    let docker = bollard::Docker::connect_with_local_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("version");
    let body = bollard::models::ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(vec!["true".into()]),
        labels: Some(HashMap::from([(
            "aide.runner".to_string(),
            "t-docker-janitor".to_string(),
        )])),
        ..Default::default()
    };
    let opts = bollard::query_parameters::CreateContainerOptions {
        name: Some("aide-leftover-t-docker-janitor".into()),
        ..Default::default()
    };
    let _ = docker
        .remove_container(
            "aide-leftover-t-docker-janitor",
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await;
    docker
        .create_container(Some(opts), body)
        .await
        .expect("create");
    assert_eq!(containers_of("t-docker-janitor").await.len(), 1);
    let h = docker_harness(1, "t-docker-janitor")
        .await
        .expect("harness");
    assert!(containers_of("t-docker-janitor").await.is_empty());
    h.stop().await;
}

async fn wait_ready(stream: &mut tonic::Streaming<aide_proto::v1::ExecuteEvent>) {
    use aide_proto::v1::execute_event::Event;
    use tokio_stream::StreamExt;
    while let Some(ev) = stream.next().await {
        if let Some(Event::Output(c)) = ev.expect("event").event
            && c.text.contains("ready")
        {
            return;
        }
    }
    panic!("stream ended before ready");
}

/// With `--docker-runtime runsc` the script runs under gVisor (its kernel says 4.4.0, the
/// version gVisor reports), through the same volumes, limits and collection.
#[tokio::test]
async fn docker_runs_scripts_under_gvisor_when_asked() {
    if !docker_available(IMAGE).await {
        return;
    }
    let docker = bollard::Docker::connect_with_local_defaults().expect("docker");
    let has_runsc = docker
        .info()
        .await
        .ok()
        .and_then(|i| i.runtimes)
        .is_some_and(|r| r.contains_key("runsc"));
    if !has_runsc {
        aide_testkit::unavailable::<()>(
            "gVisor",
            "the Docker daemon has no runsc runtime (apt install runsc; .ci/run registers it)",
        );
        return;
    }
    let h = Harness::start(&[
        "--backend",
        "docker",
        "--image",
        IMAGE,
        "--runner-id",
        "t-docker-gvisor",
        "--docker-runtime",
        "runsc",
    ])
    .await;
    let data = shared_tempdir();
    let input = input_dir(data.path());
    let mut req = request(
        "import platform\nrows = open('input/train.csv').read().splitlines()\n\
         open('working/submission.csv', 'w').write(str(len(rows)))\n\
         print(platform.release())\n",
    );
    req.local_input_dir = input.to_string_lossy().into_owned();
    req.submission_file = "submission.csv".into();
    let out = h.run(req).await;
    let f = &out.finished;
    assert!(f.sandbox_error.is_empty(), "{}", f.sandbox_error);
    assert_eq!(f.exit_code, Some(0), "{}", f.output);
    assert_eq!(f.output.trim(), "4.4.0", "gVisor's kernel: {}", f.output);
    assert_eq!(
        f.files.first().map(|f| f.content.as_slice()),
        Some(&b"3"[..])
    );
    h.stop().await;
}

/// A runtime the daemon does not have is refused at start, naming the ones it has.
#[tokio::test]
async fn an_unknown_docker_runtime_is_refused_at_start() {
    if !docker_available(IMAGE).await {
        return;
    }
    let config = aide_runner::Config::from_argv([
        "aide-runner",
        "--plaintext",
        "--backend",
        "docker",
        "--image",
        IMAGE,
        "--docker-runtime",
        "no-such-runtime",
    ])
    .expect("config");
    let refused =
        aide_runner::DockerSandbox::connect(&config, "t-runtime", aide_telemetry::Metrics::new())
            .await
            .expect_err("an unknown runtime");
    let text = refused.to_string();
    assert!(
        text.contains("no-such-runtime") && text.contains("runc"),
        "{text}"
    );
}
