//! aide's own services started in-process on loopback for a test (feature `services`): an
//! aide-gateway from a TOML text with no provider keys (the baseline answers by default), and
//! an aide-runner with the process backend, its configuration built as a value. Each stops
//! when its [`Service`] drops.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::python::sandbox_python;

/// A service running on loopback until dropped.
#[derive(Debug)]
pub struct Service {
    pub url: String,
    shutdown: CancellationToken,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Service {
    /// Stops the service now (as a crash would, from the caller's side).
    pub fn stop(&self) {
        self.shutdown.cancel();
    }
}

/// A gateway with `config` (TOML) and no provider keys.
pub async fn gateway(config: &str) -> Service {
    gateway_on(
        config,
        TcpListener::bind("127.0.0.1:0").await.expect("bind"),
    )
    .await
}

/// [`gateway`] serving on `listener`.
pub async fn gateway_on(config: &str, listener: TcpListener) -> Service {
    let config = aide_gateway::config::GatewayConfig::from_toml(config).expect("gateway config");
    let no_env = |_: &str| None;
    let gateway =
        aide_gateway::service::Gateway::new(&config, &no_env, aide_telemetry::Metrics::new())
            .await
            .expect("gateway");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(aide_gateway::server::serve(
        gateway,
        listener,
        shutdown.clone(),
    ));
    Service {
        url,
        shutdown,
        _dir: None,
    }
}

/// A process-backend runner with `slots`; `uid_base` keeps parallel tests' sandbox users
/// apart (a runner kills every process of its uids when it cleans up).
pub async fn runner(slots: usize, uid_base: u32) -> Service {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("chmod");
    let mut config = aide_runner::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: aide_service::tls::TlsConfig::plaintext(),
        runner_id: Some("test-runner".into()),
        backend: aide_runner::BackendKind::Process,
        slots,
        work_root: Some(dir.path().join("work")),
        grace_secs: 1,
        drain_secs: 1,
        // The engine tests hand it their tasks' directories, as `aide run` does.
        accept_local_input: true,
        ..aide_runner::Config::default()
    };
    config.process.python = sandbox_python();
    config.process.uid_base = uid_base;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let shutdown = CancellationToken::new();
    let served = aide_runner::serve(config, listener, shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = served.await {
            panic!("runner failed: {e}");
        }
    });
    assert!(
        crate::net::wait_for_port_async(address, Duration::from_secs(5)).await,
        "the runner did not listen on {address}"
    );
    Service {
        url: format!("http://{address}"),
        shutdown,
        _dir: Some(dir),
    }
}

/// An address nothing listens on.
pub async fn refusing_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}
