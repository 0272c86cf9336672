//! The serve shape every service shares: health → serve → (signal) → NOT_SERVING → drain →
//! stop background tasks → stop the server → stop the metrics endpoint.
//!
//! A [`Shell`] collects the service's gRPC services, serves them with the standard gRPC
//! health service on one listener behind the trace-context and request-counting layers,
//! and, when `--metrics-listen` is set, `GET /metrics` and the same health service on a
//! second, plaintext listener. Work a service
//! runs beside its requests goes on the shell's [`Background`] (a `TaskTracker` and a
//! cancellation token), so shutdown waits for all of it. Connections come through
//! [`ServerTls`]: mutual TLS, or plaintext on a loopback listener.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aide_telemetry::{GrpcMetricsLayer, GrpcTraceLayer, Metrics, serve_metrics};
use tokio::net::TcpListener;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tracing::{info, warn};

use crate::Error;
use crate::tls::server::Conn;
use crate::tls::{ClientAuth, PeerGuard, ServerTls};
use aide_core::access::TokenHash;
use aide_core::service_identity::ServiceKind;

/// A service's background tasks: tracked, and stopped together by one token once the
/// service has drained.
#[derive(Debug, Clone, Default)]
pub struct Background {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Spawns `task(stop)`; `stop` fires when the shell stops its background work.
    pub fn spawn<F, Fut>(&self, task: F) -> JoinHandle<Fut::Output>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.tracker.spawn(task(self.stop.clone()))
    }

    /// Cancels the token and waits for every task.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// The gRPC server of one service (or of several in one process), built up then served.
#[derive(Debug, Default)]
pub struct Shell {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    metrics: Arc<Metrics>,
    metrics_listener: Option<TcpListener>,
    stream_grace: Option<Duration>,
    background: Background,
    tls: Option<ServerTls>,
    /// A second, plaintext loopback listener for services in the same process.
    internal: Option<TcpListener>,
    /// The token callers on a plaintext port must bring (see [`Shell::process_token`]).
    process_token: Option<TokenHash>,
}

type Served = Result<Result<(), tonic::transport::Error>, JoinError>;

impl Shell {
    /// A shell counting into `metrics` (share one registry between services in a process).
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// The counters `/metrics` serves; services add their own.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Binds the Prometheus endpoint when `address` is set (`--metrics-listen`).
    pub async fn metrics_on(self, address: Option<SocketAddr>) -> Result<Self, Error> {
        let Some(address) = address else {
            return Ok(self);
        };
        Ok(self.metrics_listener(bind("metrics", address).await?))
    }

    /// Binds a service's gRPC address and, when set, its metrics address: what each
    /// service's `run` does before serving.
    pub async fn listen(
        grpc: SocketAddr,
        metrics: Option<SocketAddr>,
    ) -> Result<(TcpListener, Self), Error> {
        let listener = bind("gRPC", grpc).await?;
        Ok((listener, Self::default().metrics_on(metrics).await?))
    }

    /// Serves the Prometheus endpoint on an already bound listener.
    pub fn metrics_listener(mut self, listener: TcpListener) -> Self {
        self.metrics_listener = Some(listener);
        self
    }

    /// How long open streams may keep the server up after the drain (then they are cut);
    /// without it the server waits for every request to end.
    pub fn stream_grace(mut self, grace: Duration) -> Self {
        self.stream_grace = Some(grace);
        self
    }

    /// How connections are secured (see [`ServerTls::new`]); without this the shell
    /// serves plaintext and only on a loopback listener.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Also serves the same services in plaintext on `listener`, which must be on loopback:
    /// how `aide serve`'s own runner reaches a coordinator whose public port is TLS.
    pub fn also_internal(mut self, listener: TcpListener) -> Result<Self, Error> {
        plaintext_on_loopback(&listener)?;
        self.internal = Some(listener);
        Ok(self)
    }

    /// Sets the process token whose hash is `token`, which the guards of this shell's
    /// services ([`Shell::guard`]) require of plaintext callers: the in-process services of
    /// `aide run` and `aide serve` answer only their own process.
    pub fn process_token(mut self, token: TokenHash) -> Self {
        self.process_token = Some(token);
        self
    }

    /// The guard a service admitting only `kind` puts in front of its RPCs: that service's
    /// certificate on TLS, the process token (when set) on plaintext.
    pub fn guard(&self, kind: ServiceKind) -> PeerGuard {
        PeerGuard::only(kind).with_process_token(self.process_token)
    }

    /// Adds a gRPC service; health reports it by name.
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: tower_service::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Where the service spawns the work it runs beside its requests.
    pub fn background(&self) -> &Background {
        &self.background
    }

    /// Serves on `listener` until `shutdown`, then: health NOT_SERVING, `drain`, background
    /// tasks stopped, the server stopped (after the stream grace), the metrics stopped.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
        drain: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let Shell {
            mut routes,
            names,
            metrics,
            metrics_listener,
            stream_grace,
            background,
            tls,
            internal,
            process_token: _,
        } = self;
        let tls = match tls {
            Some(tls) => tls,
            None => plaintext_on_loopback(&listener)?,
        };
        let (health, health_service) = tonic_health::server::health_reporter();
        set_status(&health, &names, ServingStatus::Serving).await;
        routes.add_service(health_service.clone());
        let metrics_stop = CancellationToken::new();
        // Probes read health on the metrics port too: plaintext, so a kubelet needs no TLS.
        let probes = tonic::service::Routes::new(health_service.clone()).into_axum_router();
        let metrics_task =
            metrics_listener.map(|l| spawn_metrics(l, &metrics, probes, &metrics_stop));
        let stop_serving = CancellationToken::new();
        let mut server = tokio::spawn(
            Server::builder()
                .initial_stream_window_size(STREAM_WINDOW_BYTES)
                .initial_connection_window_size(CONNECTION_WINDOW_BYTES)
                .layer(GrpcTraceLayer)
                .layer(GrpcMetricsLayer::new(metrics))
                .add_routes(routes.routes())
                .serve_with_incoming_shutdown(
                    incoming(&tls, listener, internal, &stop_serving),
                    stop_serving.clone().cancelled_owned(),
                ),
        );
        let early = tokio::select! {
            () = shutdown.cancelled() => None,
            ended = &mut server => Some(ended),
        };
        info!("draining");
        set_status(&health, &names, ServingStatus::NotServing).await;
        drain.await;
        background.stop().await;
        stop_serving.cancel();
        let was_early = early.is_some();
        let ended = match early {
            Some(ended) => Some(ended),
            None => wait_server(&mut server, stream_grace).await,
        };
        metrics_stop.cancel();
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        info!("stopped");
        outcome(ended, was_early)
    }
}

/// How much one stream may send before the server reads it (HTTP/2 flow control). The
/// 64 KiB default caps a streamed upload on loopback at about a third of what these give
/// (the Blobs service's benchmark: ~140 → ~480 MB/s); a window is a limit, not a buffer
/// allocated up front.
const STREAM_WINDOW_BYTES: u32 = 8 << 20;
/// The same for all the streams of one connection.
const CONNECTION_WINDOW_BYTES: u32 = 16 << 20;

/// The connections of `listener` (as `tls` says) and of the plaintext `internal` one.
fn incoming(
    tls: &ServerTls,
    listener: TcpListener,
    internal: Option<TcpListener>,
    stop: &CancellationToken,
) -> impl tokio_stream::Stream<Item = std::io::Result<Conn>> + use<> {
    let public = tls.incoming(listener, stop.clone());
    let internal = match internal {
        Some(listener) => ServerTls::plaintext().incoming(listener, stop.clone()),
        // A stream that has already ended.
        None => tokio_stream::wrappers::ReceiverStream::new(tokio::sync::mpsc::channel(1).1),
    };
    tokio_stream::StreamExt::merge(public, internal)
}

/// The transport of a shell given none: plaintext, which only a loopback listener may use.
fn plaintext_on_loopback(listener: &TcpListener) -> Result<ServerTls, Error> {
    let address = listener.local_addr().map_err(Error::Listener)?;
    ServerTls::new(
        &crate::tls::TlsConfig::plaintext(),
        address,
        ClientAuth::Required,
    )
}

/// Binds `address` for `what` (named in the error).
pub async fn bind(what: &'static str, address: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind {
            what,
            address,
            source,
        })
}

async fn set_status(health: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    for name in names.iter().copied().chain([""]) {
        health.set_service_status(name, status).await;
    }
}

fn spawn_metrics(
    listener: TcpListener,
    metrics: &Arc<Metrics>,
    probes: axum::Router,
    stop: &CancellationToken,
) -> JoinHandle<()> {
    if let Ok(address) = listener.local_addr() {
        info!(%address, "metrics on http://{address}/metrics");
    }
    let served = serve_metrics(listener, metrics.clone(), probes, stop.clone());
    tokio::spawn(async move {
        if let Err(e) = served.await {
            warn!(error = %e, "the metrics endpoint failed");
        }
    })
}

/// Waits for the server to finish its requests, or cuts them after `grace`.
async fn wait_server(
    server: &mut JoinHandle<Result<(), tonic::transport::Error>>,
    grace: Option<Duration>,
) -> Option<Served> {
    let Some(grace) = grace else {
        return Some(server.await);
    };
    match tokio::time::timeout(grace, &mut *server).await {
        Ok(ended) => Some(ended),
        Err(_) => {
            warn!("open streams outlived the drain; closing them");
            server.abort();
            None
        }
    }
}

fn outcome(ended: Option<Served>, was_early: bool) -> Result<(), Error> {
    match ended {
        None | Some(Ok(Ok(()))) if !was_early => Ok(()),
        None | Some(Ok(Ok(()))) => Err(Error::Stopped),
        Some(Ok(Err(e))) => Err(Error::Serve(e)),
        Some(Err(e)) => Err(Error::Panicked(e)),
    }
}
