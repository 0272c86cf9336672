//! The gRPC service as a whole: slots and RESOURCE_EXHAUSTED, request validation, health,
//! drain-then-cancel shutdown, the runner binary keeping its own secrets from scripts, and
//! registration plus heartbeats against a stand-in coordinator.

use std::{
    pin::Pin,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::common::*;
use aide_proto::v1::{
    self, ExecuteRequest, ExecutionRef, RegisterRunnerRequest, RegisterRunnerResponse,
    RunnerHeartbeatRequest, RunnerHeartbeatResponse,
    coordinator_server::{Coordinator, CoordinatorServer},
    execute_event::Event,
};
use tokio_stream::StreamExt;
use tonic::{Code, Request, Response, Status};

const UID_BASE: u32 = 23000;

#[tokio::test]
async fn four_slots_run_four_at_once_and_refuse_the_fifth() {
    let h = Harness::process(4, UID_BASE).await;
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut client = h.client.clone();
        let req =
            request("import time\nprint('ready', flush=True)\ntime.sleep(2)\nprint('done')\n");
        let mut s = client.execute(req).await.expect("execute").into_inner();
        // Wait for Started so the slot is surely taken.
        match s.next().await.expect("event").expect("ok").event {
            Some(Event::Started(_)) => {}
            other => panic!("expected Started, got {other:?}"),
        }
        streams.push(s);
    }
    let mut client = h.client.clone();
    let err = match client.execute(request("print(1)\n")).await {
        Err(e) => e,
        Ok(_) => panic!("the fifth execution was admitted"),
    };
    assert_eq!(err.code(), Code::ResourceExhausted, "{err}");
    for s in streams {
        let out = collect(s).await;
        assert_eq!(out.finished.exit_code, Some(0), "{}", out.finished.output);
        assert!(out.finished.output.ends_with("done\n"));
    }
    let out = h.run(request("print(1)\n")).await;
    assert_eq!(out.finished.output, "1\n");
    h.stop().await;
}

#[tokio::test]
async fn malformed_requests_are_invalid_arguments() {
    let h = Harness::process(1, UID_BASE + 10).await;
    let mut client = h.client.clone();
    let mut cases: Vec<ExecuteRequest> = Vec::new();
    cases.push(ExecuteRequest {
        work: None,
        ..request("print(1)")
    });
    cases.push(request("   "));
    let mut r = request("print(1)");
    r.collect_globs = vec!["../../etc/*".into()];
    cases.push(r);
    let mut r = request("print(1)");
    r.local_input_dir = "relative/dir".into();
    cases.push(r);
    let mut r = request("print(1)");
    r.submission_file = "/etc/passwd".into();
    cases.push(r);
    for req in cases {
        let Err(err) = client.execute(req).await else {
            panic!("a malformed request was admitted");
        };
        assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    }
    h.stop().await;
}

#[tokio::test]
async fn shutdown_drains_short_work_and_cancels_long_work() {
    // drain-secs is 2 in the harness.
    let h = Harness::process(2, UID_BASE + 20).await;
    let mut client = h.client.clone();
    let short =
        request("import time\nprint('ready', flush=True)\ntime.sleep(1)\nprint('finished')\n");
    let long = request("import time\nprint('ready', flush=True)\ntime.sleep(300)\n");
    let mut a = client.execute(short).await.expect("short").into_inner();
    let mut b = client.execute(long).await.expect("long").into_inner();
    for s in [&mut a, &mut b] {
        while let Some(ev) = s.next().await {
            if let Some(Event::Output(c)) = ev.expect("ok").event
                && c.text.contains("ready")
            {
                break;
            }
        }
    }
    let t = Instant::now();
    let stopping = tokio::spawn(h.stop());
    let (a, b) = tokio::join!(collect(a), collect(b));
    stopping.await.expect("stop");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(a.finished.exit_code, Some(0));
    assert!(a.finished.output.ends_with("finished\n"));
    assert!(b.finished.cancelled, "{:?}", b.finished);
}

/// Starts the real binary with a secret in its environment.
async fn spawn_binary(args: &[&str]) -> (tokio::process::Child, String, tempfile::TempDir) {
    let dir = shared_tempdir();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_aide-runner"))
        .args(["--plaintext", "--listen", &listen, "--work-root"])
        .arg(dir.path().join("work"))
        .args(args)
        .env("OPENAI_API_KEY", "sk-test-secret-4242")
        .env("AIDE_TEST_SECRET", "sk-test-secret-4242")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn runner");
    let url = format!("http://{listen}");
    wait_serving(&url).await;
    (child, url, dir)
}

const SNOOP: &str = "import os, glob\nprint(dict(os.environ))\nfor p in glob.glob('/proc/*/environ'):\n    try:\n        data = open(p, 'rb').read()\n        if b'sk-test-secret' in data:\n            print('LEAK', p)\n    except OSError:\n        pass\n";

async fn secrets_stay_in_the_runner(args: &[&str]) {
    let (mut child, url, _dir) = spawn_binary(args).await;
    let mut client = connect(&url).await;
    let stream = client
        .execute(request(SNOOP))
        .await
        .expect("execute")
        .into_inner();
    let out = collect(stream).await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(0), "{} {}", f.output, f.sandbox_error);
    assert!(f.output.contains("'HOME'"), "{}", f.output);
    assert!(!f.output.contains("sk-test-secret"), "{}", f.output);
    assert!(
        !f.output.contains("OPENAI_API_KEY") && !f.output.contains("LEAK"),
        "{}",
        f.output
    );
    // SIGTERM: graceful stop.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id().expect("pid") as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("runner stops on SIGTERM")
        .expect("wait");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn process_scripts_cannot_read_the_runner_secrets() {
    if !is_root() {
        eprintln!(
            "\n!!! SKIPPED: as the same user a script can read the runner's /proc environ; only root isolates it\n"
        );
        return;
    }
    let uid = (UID_BASE + 30).to_string();
    secrets_stay_in_the_runner(&[
        "--backend",
        "process",
        "--python",
        "/usr/bin/python3",
        "--uid-base",
        &uid,
    ])
    .await;
}

#[tokio::test]
async fn docker_scripts_cannot_read_the_runner_secrets() {
    if !docker_available("aide-sandbox:py311").await {
        return;
    }
    secrets_stay_in_the_runner(&["--backend", "docker", "--runner-id", "t-service-secrets"]).await;
}

/// A coordinator that records registrations and heartbeats, forgets the runner once, and
/// cancels the first execution it sees running.
#[derive(Debug, Default, Clone)]
struct FakeCoordinator {
    registrations: Arc<Mutex<Vec<RegisterRunnerRequest>>>,
    heartbeats: Arc<Mutex<Vec<RunnerHeartbeatRequest>>>,
}

type Messages<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, Status>> + Send>>;
type RunEvents = Messages<v1::RunEvent>;

#[tonic::async_trait]
impl Coordinator for FakeCoordinator {
    type WatchRunStream = RunEvents;

    async fn create_run(
        &self,
        _: Request<v1::CreateRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_run(&self, _: Request<v1::GetRunRequest>) -> Result<Response<v1::Run>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn list_runs(
        &self,
        _: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn cancel_run(
        &self,
        _: Request<v1::CancelRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn steer_run(
        &self,
        _: Request<v1::SteerRunRequest>,
    ) -> Result<Response<v1::SteerRunResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn fork_run(&self, _: Request<v1::ForkRunRequest>) -> Result<Response<v1::Run>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn watch_run(
        &self,
        _: Request<v1::WatchRunRequest>,
    ) -> Result<Response<RunEvents>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_node(&self, _: Request<v1::GetNodeRequest>) -> Result<Response<v1::Node>, Status> {
        Err(Status::unimplemented("fake"))
    }
    type ExportRunStream = Messages<v1::ExportRunResponse>;
    async fn export_run(
        &self,
        _: Request<v1::ExportRunRequest>,
    ) -> Result<Response<Self::ExportRunStream>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn register_runner(
        &self,
        request: Request<RegisterRunnerRequest>,
    ) -> Result<Response<RegisterRunnerResponse>, Status> {
        self.registrations
            .lock()
            .unwrap()
            .push(request.into_inner());
        Ok(Response::new(RegisterRunnerResponse {
            heartbeat_interval_secs: 1,
        }))
    }
    async fn runner_heartbeat(
        &self,
        request: Request<RunnerHeartbeatRequest>,
    ) -> Result<Response<RunnerHeartbeatResponse>, Status> {
        let hb = request.into_inner();
        let mut beats = self.heartbeats.lock().unwrap();
        beats.push(hb.clone());
        if beats.len() == 1 {
            return Err(Status::not_found("unknown runner"));
        }
        let cancel = hb
            .running
            .into_iter()
            .map(|r| ExecutionRef { work: r.work })
            .collect();
        Ok(Response::new(RunnerHeartbeatResponse { cancel }))
    }
}

#[tokio::test]
async fn registers_heartbeats_and_obeys_cancellations() {
    let fake = FakeCoordinator::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let coordinator = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(CoordinatorServer::new(fake.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let uid = (UID_BASE + 40).to_string();
    let h = Harness::start(&[
        "--backend",
        "process",
        "--slots",
        "3",
        "--python",
        "/usr/bin/python3",
        "--uid-base",
        &uid,
        "--runner-id",
        "t-heartbeat",
        "--coordinator",
        &coordinator,
        "--label",
        "gpu=false,zone=test",
    ])
    .await;
    // The coordinator cancels whatever it sees running; a long script must end cancelled.
    let t = Instant::now();
    let out = h
        .run(request(
            "import time\nprint('ready', flush=True)\ntime.sleep(30)\n",
        ))
        .await;
    assert!(out.finished.cancelled, "{:?}", out.finished);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    h.stop().await;

    let regs = fake.registrations.lock().unwrap().clone();
    assert!(
        regs.len() >= 2,
        "NOT_FOUND must trigger a new registration: {regs:?}"
    );
    assert_eq!(regs[0].runner_id, "t-heartbeat");
    assert_eq!(regs[0].slots, 3);
    assert_eq!(regs[0].backend, "process");
    assert_eq!(regs[0].labels.get("zone").map(String::as_str), Some("test"));
    assert!(regs[0].address.starts_with("http://127.0.0.1:"));
    let beats = fake.heartbeats.lock().unwrap().clone();
    assert!(
        beats
            .iter()
            .any(|b| b.running.len() == 1 && b.free_slots == 2),
        "{beats:?}"
    );
    assert!(
        beats
            .iter()
            .all(|b| (0.0..=1.0).contains(&b.cpu_load) && b.memory_load > 0.0)
    );
}

#[tokio::test]
async fn a_runner_started_as_a_service_refuses_host_paths_as_input() {
    let h = Harness::as_service(&[
        "--backend",
        "process",
        "--python",
        "/usr/bin/python3",
        "--uid-base",
        &(UID_BASE + 30).to_string(),
    ])
    .await;
    let mut client = h.client.clone();
    let mut req = request("print(open('input/x').read())");
    req.local_input_dir = "/etc".into();
    let Err(err) = client.execute(req).await else {
        panic!("a host path was accepted as input");
    };
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(err.message().contains("input bundle"), "{err}");
    let mut req = request("print(1)");
    req.input = Some(v1::InputBundle {
        digest: vec![0; 32],
        manifest: Some(Default::default()),
    });
    let Err(err) = client.execute(req).await else {
        panic!("a bundle was accepted by a runner with no coordinator");
    };
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    h.stop().await;
}
