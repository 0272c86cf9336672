//! The HTTP side of a coordinator (ARCHITECTURE §12), on its own listener beside gRPC:
//! JSON under `/api/v1` (runs, steering, nodes, events, exports, sweeps, runners, tokens), live
//! events as server-sent events, the OpenAPI document generated from the handlers
//! (`/api/v1/openapi.json`), and the web UI whose assets are compiled into the binary.
//!
//! It holds no logic of its own beyond presentation: callers are resolved by the same
//! [`Access`], mutations go through the gRPC services' own methods in-process (so checks,
//! audit events and errors are the same), and events come from the replica's shared
//! [`RunFeeds`]. Errors are problem+json with the gRPC code set.
//!
//! - [`auth`] turns a bearer header or the session cookie into a caller;
//! - [`problem`] shapes errors;
//! - [`views`] holds the JSON types;
//! - [`runs`], [`steer`], [`events`], [`nodes`], [`sweeps`] and [`fleet`] are the handlers;
//! - [`ui`] serves the embedded web UI and sets the security headers of every response;
//! - [`listener`] accepts TLS (HTTP/1.1) or plaintext on loopback.

pub mod auth;
mod events;
mod fleet;
pub mod listener;
mod nodes;
pub mod problem;
mod runs;
mod steer;
mod sweeps;
mod ui;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use aide_store::AnyStore;
use axum::Router;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::Access;
use crate::access::admin::AdminService;
use crate::api::{CoordinatorService, RunFeeds, WatchSlots};

pub use listener::HttpListener;

/// Everything the handlers share.
#[derive(Debug)]
pub struct HttpApi {
    pub store: Arc<AnyStore>,
    pub access: Access<AnyStore>,
    pub coordinator: Arc<CoordinatorService<AnyStore>>,
    pub admin: Arc<AdminService<AnyStore>>,
    pub feeds: RunFeeds<AnyStore>,
    pub watchers: WatchSlots,
    pub settings: HttpSettings,
    /// Fires at shutdown: open event streams end.
    pub shutdown: CancellationToken,
}

impl HttpApi {
    /// The API over a single user's store (`aide run --ui`): default caps, plaintext on
    /// loopback, runners of the local process only.
    pub fn local(
        store: Arc<AnyStore>,
        notifier: crate::api::EventNotifier,
        shutdown: CancellationToken,
    ) -> Self {
        let config = crate::api::ApiConfig::default();
        let feeds = RunFeeds::new(store.clone(), notifier.clone(), config.feed_settings());
        let watchers = WatchSlots::default();
        let access = Access::new(store.clone());
        let settings = HttpSettings {
            secure_cookies: false,
            max_watch_streams: config.caps.max_watch_streams_per_token,
            runner_heartbeat: config.heartbeat_interval,
        };
        let coordinator = CoordinatorService::with_notifier(store.clone(), config, notifier)
            .with_access(access.clone())
            .with_feeds(feeds.clone(), watchers.clone());
        Self {
            admin: Arc::new(AdminService::new(store.clone(), access.clone())),
            coordinator: Arc::new(coordinator),
            store,
            access,
            feeds,
            watchers,
            settings,
            shutdown,
        }
    }
}

/// How the HTTP API behaves.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// Whether session cookies are `Secure`: [`start`] sets it from its listener (off only
    /// for plaintext on loopback).
    pub secure_cookies: bool,
    /// Event streams one token may hold open (shared with WatchRun).
    pub max_watch_streams: usize,
    /// The runners' heartbeat interval; a runner silent for two is shown unhealthy.
    pub runner_heartbeat: Duration,
}

/// The state handlers receive.
pub type Shared = Arc<HttpApi>;

/// The API's description (paths are added from the handlers).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "aide",
        description = "The HTTP API of an aide coordinator: runs, their trees, nodes and \
            events, exports, benchmark sweeps, runners and tokens. Authenticate with \
            `Authorization: Bearer <token>` or the session cookie set by POST /api/v1/session. \
            Errors are application/problem+json with the gRPC code in `code`."
    ),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "runs", description = "Runs, trees, events and exports"),
        (name = "nodes", description = "One node in full"),
        (name = "sweeps", description = "Benchmark sweeps"),
        (name = "deployment", description = "Session, runners and tokens"),
    )
)]
struct ApiDoc;

/// Declares the two ways to authenticate.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
    }
}

/// The API's routes and their OpenAPI document.
fn api_routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run))
        .routes(routes!(runs::cancel_run))
        .routes(routes!(steer::steer_run))
        .routes(routes!(steer::fork_run))
        .routes(routes!(runs::run_tree))
        .routes(routes!(runs::run_events))
        .routes(routes!(events::event_stream))
        .routes(routes!(runs::export_run))
        .routes(routes!(nodes::get_node))
        .routes(routes!(sweeps::list_sweeps))
        .routes(routes!(sweeps::get_sweep))
        .routes(routes!(fleet::list_runners))
        .routes(routes!(fleet::whoami, fleet::login, fleet::logout))
        .routes(routes!(fleet::list_tokens, fleet::create_token))
        .routes(routes!(fleet::revoke_token))
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// The whole HTTP application: the API, its document and the UI.
pub fn router(api: HttpApi) -> Router {
    let (routes, document) = api_routes().split_for_parts();
    let document = Arc::new(document);
    let api_router = routes
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { axum::Json((*document).clone()) }
            }),
        )
        .fallback(ui::api_not_found)
        .layer(axum::middleware::from_fn(problem::plain_errors_as_problems));
    ui::with_assets(api_router)
        .with_state(Arc::new(api))
        .layer(axum::middleware::from_fn(ui::security_headers))
}

/// A running HTTP server.
#[derive(Debug)]
pub struct HttpServer {
    pub address: std::net::SocketAddr,
    /// Ends when the server stopped (at `api.shutdown`).
    pub task: tokio::task::JoinHandle<()>,
}

/// Serves `api` on `listener` as `tls` asks (TLS, or plaintext on loopback only) until its
/// shutdown token fires.
pub fn start(
    api: HttpApi,
    listener: tokio::net::TcpListener,
    tls: &aide_service::tls::TlsConfig,
) -> Result<HttpServer, aide_service::Error> {
    let shutdown = api.shutdown.clone();
    let mut api = api;
    let listener = HttpListener::new(listener, tls, shutdown.clone())?;
    api.settings.secure_cookies = listener.is_tls();
    let address = listener.address();
    let task = tokio::spawn(serve(listener, router(api), shutdown));
    Ok(HttpServer { address, task })
}

/// Serves `app` on `listener` until `shutdown`.
pub async fn serve(listener: HttpListener, app: Router, shutdown: CancellationToken) {
    let address = listener.address();
    tracing::info!(%address, tls = listener.is_tls(), "web UI and HTTP API serving");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the HTTP server failed");
    }
}
