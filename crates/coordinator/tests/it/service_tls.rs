//! Service identity by mutual TLS (issue 10), over the real binaries on loopback under one
//! throwaway cluster CA: a coordinator, a gateway and a runner, each with its certificate.
//! A registration can change only the runner its certificate names; a runner's `Execute`
//! and the gateway's `Complete` admit only the coordinator (no certificate: the handshake
//! is refused; another service's: PERMISSION_DENIED); a plaintext client gets nothing from
//! a TLS port; and a service will not serve plaintext beyond loopback, nor on loopback
//! unless asked.

use std::process::Command;
use std::time::Duration;

use aide_core::service_identity::ServiceKind;
use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use aide_proto::v1::llm_gateway_client::LlmGatewayClient;
use aide_proto::v1::runner_client::RunnerClient;
use aide_service::tls::{Dialer, TlsConfig};
use aide_store::RunnerStore;
use aide_testkit::tls::{TestCa, flags};
use aide_testkit::{ChildGuard, free_port};
use tonic::Code;
use tonic::transport::Channel;

use crate::distributed_support::procs::bin_dir;

/// The three services of one deployment on loopback.
struct Deployment {
    ca: TestCa,
    coordinator: String,
    gateway: String,
    runner: String,
    dir: tempfile::TempDir,
    _children: Vec<ChildGuard>,
}

impl Deployment {
    async fn start() -> Self {
        let ca = TestCa::new();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o711),
        )
        .expect("chmod");
        let [gp, cp, rp] = [free_port(), free_port(), free_port()];
        let (gateway, coordinator, runner) = (
            format!("https://127.0.0.1:{gp}"),
            format!("https://127.0.0.1:{cp}"),
            format!("https://127.0.0.1:{rp}"),
        );
        let log = |name: &str| dir.path().join(format!("{name}.log"));
        let gateway_proc = ChildGuard::spawn_logged(
            "gateway",
            Command::new(bin_dir().join("aide-gateway"))
                .args(["--listen", &format!("127.0.0.1:{gp}")])
                .args(flags(&ca.issue(ServiceKind::Gateway, "gateway", &[]))),
            &log("gateway"),
        );
        let coordinator_proc = ChildGuard::spawn_logged(
            "coordinator",
            Command::new(env!("CARGO_BIN_EXE_aide-coordinator"))
                .args(["--listen", &format!("127.0.0.1:{cp}")])
                .args(flags(&ca.issue(
                    ServiceKind::Coordinator,
                    "coordinator",
                    &[],
                )))
                .arg("--database-url")
                .arg(format!("sqlite:{}", dir.path().join("aide.db").display()))
                .args(["--gateway", &gateway, "--allow-process-runners"])
                .args(["--runner-heartbeat-secs", "1"])
                .arg("--data-dir")
                .arg(dir.path().join("data")),
            &log("coordinator"),
        );
        let runner_proc = ChildGuard::spawn_logged(
            "runner",
            Command::new(bin_dir().join("aide-runner"))
                .args(["--listen", &format!("127.0.0.1:{rp}")])
                .args(flags(&ca.issue(ServiceKind::Runner, "r1", &[])))
                .args(["--coordinator", &coordinator])
                .args(["--backend", "process", "--slots", "1", "--drain-secs", "1"])
                .args(["--python", &aide_testkit::python::sandbox_python()])
                .args(["--uid-base", "24400"])
                .arg("--work-root")
                .arg(dir.path().join("work"))
                .arg("--cache-dir")
                .arg(dir.path().join("cache")),
            &log("runner"),
        );
        let deployment = Self {
            ca,
            coordinator,
            gateway,
            runner,
            dir,
            _children: vec![gateway_proc, coordinator_proc, runner_proc],
        };
        deployment.wait_registered("r1").await;
        deployment
    }

    /// A channel to `url` showing `tls`'s certificate (or none, trusting the CA).
    async fn channel(&self, url: &str, tls: Option<&TlsConfig>) -> Result<Channel, String> {
        let dialer = match tls {
            Some(tls) => Dialer::new(tls),
            None => Dialer::trusting_ca(&self.ca.ca()),
        }
        .expect("dialer");
        let endpoint = dialer.endpoint(url).expect("endpoint");
        endpoint.connect().await.map_err(|e| format!("{e:?}"))
    }

    async fn store(&self) -> aide_store::AnyStore {
        let url = format!("sqlite:{}", self.dir.path().join("aide.db").display());
        aide_store::connect(&url)
            .await
            .expect("open the coordinator's store")
    }

    async fn runner_address(&self, id: &str) -> Option<String> {
        let store = self.store().await;
        let live = store
            .live_runners(Duration::from_secs(30))
            .await
            .expect("runners");
        store.close().await;
        live.into_iter()
            .find(|r| r.info.id == id)
            .map(|r| r.info.address)
    }

    async fn wait_registered(&self, id: &str) {
        for _ in 0..300 {
            // The coordinator migrates the store before it serves; opening the store while
            // it migrates would race it (both would create the tables).
            let serving = std::fs::read_to_string(self.dir.path().join("coordinator.log"))
                .is_ok_and(|log| log.contains("coordinator serving"));
            if serving && self.runner_address(id).await.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        panic!(
            "runner {id} never registered:\n--- runner\n{}\n--- coordinator\n{}",
            log("runner.log"),
            log("coordinator.log")
        );
    }
}

fn registration(runner_id: &str, address: &str) -> v1::RegisterRunnerRequest {
    v1::RegisterRunnerRequest {
        runner_id: runner_id.into(),
        address: address.into(),
        slots: 1,
        backend: "process".into(),
        labels: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_services_a_certificate_names_get_in() {
    let d = Deployment::start().await;
    let real = d.runner_address("r1").await.expect("r1 registered");
    let r2 = d.ca.issue(ServiceKind::Runner, "r2", &[]);
    let coordinator_cert = d.ca.issue(ServiceKind::Coordinator, "coordinator-2", &[]);

    // A registration reusing r1's id: without a certificate, and with another runner's.
    for (who, tls) in [("no certificate", None), ("r2's certificate", Some(&r2))] {
        let channel = d
            .channel(&d.coordinator, tls)
            .await
            .expect("TLS to the coordinator");
        let refused = CoordinatorClient::new(channel)
            .register_runner(registration("r1", "https://127.0.0.1:1"))
            .await
            .expect_err(who);
        assert_eq!(refused.code(), Code::PermissionDenied, "{who}: {refused:?}");
    }
    assert_eq!(
        d.runner_address("r1").await.as_deref(),
        Some(real.as_str()),
        "r1's address is unchanged"
    );
    // The control: r2's certificate registers r2 — at an https address only (a plaintext
    // one would have the coordinator send scripts, and tokens, in clear).
    let channel = d.channel(&d.coordinator, Some(&r2)).await.expect("connect");
    let mut coordinator = CoordinatorClient::new(channel);
    let plaintext = coordinator
        .register_runner(registration("r2", "http://127.0.0.1:2"))
        .await
        .expect_err("a plaintext address over TLS");
    assert_eq!(plaintext.code(), Code::InvalidArgument, "{plaintext:?}");
    coordinator
        .register_runner(registration("r2", "https://127.0.0.1:2"))
        .await
        .expect("a runner registers itself");

    // Execute and Complete without a certificate: the handshake is refused (the client
    // sees its connection cut; the service logs why).
    for (url, log) in [(&d.runner, "runner.log"), (&d.gateway, "gateway.log")] {
        let outcome = match d.channel(url, None).await {
            Err(refused) => refused,
            Ok(channel) => format!(
                "{:?}",
                RunnerClient::new(channel)
                    .execute(v1::ExecuteRequest::default())
                    .await
                    .expect_err("a call without a certificate")
            ),
        };
        assert!(
            outcome.contains("transport error") || outcome.contains("Transport"),
            "{url}: {outcome}"
        );
        // The service writes its line when its side of the handshake ends, which may be
        // after the client saw the connection cut.
        let refusal =
            |text: &str| text.contains("refused a TLS handshake") && text.contains("certificate");
        let mut logged = String::new();
        for _ in 0..50 {
            logged = std::fs::read_to_string(d.dir.path().join(log)).unwrap_or_default();
            if refusal(&logged) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(refusal(&logged), "{log}: {logged}");
    }
    // With another service's certificate: PERMISSION_DENIED.
    let channel = d.channel(&d.runner, Some(&r2)).await.expect("connect");
    let denied = RunnerClient::new(channel)
        .execute(v1::ExecuteRequest::default())
        .await
        .expect_err("a runner may not execute on a runner");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let channel = d.channel(&d.gateway, Some(&r2)).await.expect("connect");
    let denied = LlmGatewayClient::new(channel)
        .complete(v1::CompleteRequest::default())
        .await
        .expect_err("a runner may not spend the provider keys");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    // The coordinator's certificate gets past the guard (to the request's own checks).
    let channel = d
        .channel(&d.runner, Some(&coordinator_cert))
        .await
        .expect("connect");
    let checked = RunnerClient::new(channel)
        .execute(v1::ExecuteRequest::default())
        .await
        .expect_err("an empty request");
    assert_eq!(checked.code(), Code::InvalidArgument, "{checked:?}");

    // A plaintext client against the TLS port gets no answer.
    let plaintext = d.coordinator.replace("https://", "http://");
    let channel = Dialer::plaintext().endpoint(&plaintext).expect("endpoint");
    let answer = match channel.connect().await {
        Ok(channel) => CoordinatorClient::new(channel)
            .list_runs(v1::ListRunsRequest::default())
            .await
            .map(|_| ()),
        Err(e) => Err(tonic::Status::unavailable(e.to_string())),
    };
    assert!(answer.is_err(), "a plaintext client was answered");
}

#[test]
fn a_service_serves_plaintext_only_on_loopback_and_only_when_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aide-coordinator"))
            .args(args)
            .arg("--database-url")
            .arg(format!("sqlite:{}", dir.path().join("aide.db").display()))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .output()
            .expect("run aide-coordinator")
    };
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let unasked = coordinator(&["--listen", "127.0.0.1:0"]);
    assert!(!unasked.status.success());
    assert!(
        stderr(&unasked).contains("--plaintext"),
        "{}",
        stderr(&unasked)
    );
    let wide = coordinator(&["--listen", "0.0.0.0:0", "--plaintext"]);
    assert!(!wide.status.success());
    assert!(
        stderr(&wide).contains("only on loopback"),
        "{}",
        stderr(&wide)
    );
    let half = coordinator(&["--listen", "0.0.0.0:0", "--tls-cert", "x.pem"]);
    assert!(!half.status.success());
    assert!(stderr(&half).contains("all three"), "{}", stderr(&half));
    for program in [
        bin_dir().join("aide-runner"),
        bin_dir().join("aide-gateway"),
    ] {
        let out = Command::new(&program)
            .args(["--listen", "0.0.0.0:0", "--plaintext"])
            .output()
            .expect("run the service");
        assert!(!out.status.success(), "{}", program.display());
        assert!(
            stderr(&out).contains("only on loopback"),
            "{}: {}",
            program.display(),
            stderr(&out)
        );
    }
}
