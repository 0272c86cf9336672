//! The public gRPC API of the coordinator ([`CoordinatorService`], the `aide.v1.Coordinator`
//! service): runs (create, get, list, cancel, steer, fork, watch), nodes, exports and the runner
//! registry's registration and heartbeats, all over one [`Store`].
//!
//! - [`convert`]: store records ↔ protocol messages;
//! - [`runs`]: CreateRun (task and settings resolution), GetRun, ListRuns, CancelRun, GetNode;
//! - [`steer`]: SteerRun (directives, checked and recorded) and ForkRun;
//! - [`watch`]: WatchRun's event stream and the [`EventNotifier`] the engine pokes;
//! - [`feed`]: one reader of a run's event log per replica, shared by every watcher;
//! - [`export`]: ExportRun (journal, best solution, tree, report);
//! - [`runners`]: RegisterRunner and RunnerHeartbeat (with the list of executions to stop).
//!
//! Errors follow ARCHITECTURE §8: a small set of codes, and never SQL or internal paths in a
//! message (store failures other than not-found, state and conflict errors become a generic
//! `INTERNAL`, the detail goes to the log). Paths a client sent (task directories) may be
//! echoed back, since they are the client's own input.

mod audit;
mod caps;
pub mod convert;
mod export;
pub mod feed;
mod intake;
mod runners;
mod runs;
mod steer;
pub mod sweeps;
mod watch;

use aide_core::access::TokenHash;
use aide_service::tls::Peer;
use std::sync::Arc;
use std::time::Duration;

use aide_core::{NodeId, RunId};
use aide_proto::v1;
use aide_proto::v1::coordinator_server::Coordinator;
use aide_store::Store;
use tonic::{Request, Response, Status};

use crate::access::{Access, require_runner};

pub use caps::{RunCaps, WatchSlot, WatchSlots};
pub use feed::{FeedSettings, RunFeeds};
pub use intake::TaskIntake;
pub(crate) use runs::visible_run;
pub use watch::{EventNotifier, EventSubscription};

/// Settings of the API layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How often runners heartbeat; a runner silent for 3 intervals is dropped.
    pub heartbeat_interval: Duration,
    /// How often WatchRun polls the store for new events when not notified sooner.
    pub watch_poll: Duration,
    /// How long WatchRun keeps polling after the run became terminal without a
    /// `run_finished` event (the engine appends it just after finishing the run).
    pub finish_grace: Duration,
    /// Events read from the store per page while WatchRun catches up.
    pub watch_page: u32,
    /// What a caller may ask.
    pub caps: RunCaps,
    /// Whether runners of the process backend may register (a trusted deployment).
    pub allow_process_runners: bool,
    /// The process token plaintext runner calls must bring (`aide serve`'s own runner).
    pub process_token: Option<TokenHash>,
}

impl ApiConfig {
    /// How the event feeds read the store.
    pub fn feed_settings(&self) -> FeedSettings {
        FeedSettings {
            poll: self.watch_poll,
            finish_grace: self.finish_grace,
            page: self.watch_page,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(5),
            watch_poll: Duration::from_millis(200),
            finish_grace: Duration::from_secs(2),
            watch_page: 500,
            caps: RunCaps::default(),
            allow_process_runners: false,
            process_token: None,
        }
    }
}

/// The `aide.v1.Coordinator` service over a store.
#[derive(Debug)]
pub struct CoordinatorService<S: Store> {
    store: Arc<S>,
    access: Access<S>,
    config: ApiConfig,
    notifier: EventNotifier,
    feeds: RunFeeds<S>,
    intake: TaskIntake,
    watchers: WatchSlots,
}

impl<S: Store> CoordinatorService<S> {
    /// A service with its own [`EventNotifier`]; give the engine a clone of
    /// [`notifier`](Self::notifier) so watchers learn of new events at once.
    pub fn new(store: Arc<S>, config: ApiConfig) -> Self {
        Self::with_notifier(store, config, EventNotifier::default())
    }

    /// A service sharing `notifier` with the engine.
    pub fn with_notifier(store: Arc<S>, config: ApiConfig, notifier: EventNotifier) -> Self {
        let feeds = RunFeeds::new(store.clone(), notifier.clone(), config.feed_settings());
        Self {
            access: Access::new(store.clone()),
            store,
            config,
            notifier,
            feeds,
            intake: TaskIntake::default(),
            watchers: WatchSlots::default(),
        }
    }

    /// Shares `feeds` and `watchers` (the HTTP API's event streams read through the same
    /// feeds and count against the same per-token stream cap).
    pub fn with_feeds(mut self, feeds: RunFeeds<S>, watchers: WatchSlots) -> Self {
        self.feeds = feeds;
        self.watchers = watchers;
        self
    }

    /// Takes tasks in through `intake` (the blob store and the task roots).
    pub fn with_intake(mut self, intake: TaskIntake) -> Self {
        self.intake = intake;
        self
    }

    /// Resolves callers with `access` (shared with the other services of the port, so they
    /// share its token cache).
    pub fn with_access(mut self, access: Access<S>) -> Self {
        self.access = access;
        self
    }

    pub fn notifier(&self) -> &EventNotifier {
        &self.notifier
    }

    /// The tonic server wrapping this service.
    pub fn into_server(self) -> v1::coordinator_server::CoordinatorServer<Self> {
        v1::coordinator_server::CoordinatorServer::new(self)
    }
}

#[tonic::async_trait]
impl<S: Store> Coordinator for CoordinatorService<S> {
    type WatchRunStream = watch::EventStream;

    async fn create_run(
        &self,
        request: Request<v1::CreateRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let caps = &self.config.caps;
        runs::create_run(
            &*self.store,
            &self.intake,
            caps,
            &caller,
            request.into_inner(),
        )
        .await
        .map(Response::new)
    }

    async fn get_run(
        &self,
        request: Request<v1::GetRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let run_id = parse_run_id(&request.get_ref().run_id)?;
        runs::run_view(&*self.store, &caller, run_id)
            .await
            .map(Response::new)
    }

    async fn list_runs(
        &self,
        request: Request<v1::ListRunsRequest>,
    ) -> Result<Response<v1::ListRunsResponse>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        runs::list_runs(&*self.store, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn cancel_run(
        &self,
        request: Request<v1::CancelRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let run_id = parse_run_id(&request.get_ref().run_id)?;
        runs::cancel_run(&*self.store, &caller, run_id)
            .await
            .map(Response::new)
    }

    async fn steer_run(
        &self,
        request: Request<v1::SteerRunRequest>,
    ) -> Result<Response<v1::SteerRunResponse>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let caps = &self.config.caps;
        steer::steer_run(&*self.store, caps, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn fork_run(
        &self,
        request: Request<v1::ForkRunRequest>,
    ) -> Result<Response<v1::Run>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let caps = &self.config.caps;
        steer::fork_run(&*self.store, caps, &caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn watch_run(
        &self,
        request: Request<v1::WatchRunRequest>,
    ) -> Result<Response<Self::WatchRunStream>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let request = request.into_inner();
        let run_id = parse_run_id(&request.run_id)?;
        visible_run(&*self.store, &caller, run_id).await?;
        let max = self.config.caps.max_watch_streams_per_token;
        let slot = self.watchers.acquire(caller.token_id, max)?;
        watch::watch_run(slot, &self.feeds, &self.config, run_id, request.after_seq)
            .await
            .map(Response::new)
    }

    async fn get_node(
        &self,
        request: Request<v1::GetNodeRequest>,
    ) -> Result<Response<v1::Node>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let node_id = parse_node_id(&request.get_ref().node_id, "node_id")?;
        runs::get_node(&*self.store, &caller, node_id)
            .await
            .map(Response::new)
    }

    type ExportRunStream = export::ExportStream;

    async fn export_run(
        &self,
        request: Request<v1::ExportRunRequest>,
    ) -> Result<Response<Self::ExportRunStream>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let request = request.into_inner();
        let run_id = parse_run_id(&request.run_id)?;
        visible_run(&*self.store, &caller, run_id).await?;
        let format = request.format().as_str_name().to_ascii_lowercase();
        let format = format.trim_start_matches("export_format_");
        audit::exported(&*self.store, &caller, run_id, format).await?;
        tracing::info!(%run_id, format, token_id = %caller.token_id, "run exported");
        let file = export::export_run(&*self.store, run_id, request.format()).await?;
        let stream = file.into_stream(self.intake.blobs.as_ref()).await?;
        Ok(Response::new(stream))
    }

    async fn register_runner(
        &self,
        request: Request<v1::RegisterRunnerRequest>,
    ) -> Result<Response<v1::RegisterRunnerResponse>, Status> {
        require_runner(
            &request,
            Some(request.get_ref().runner_id.trim()),
            self.config.process_token,
        )?;
        if Peer::of(&request).is_some_and(|p| p.secure)
            && !request.get_ref().address.trim().starts_with("https://")
        {
            return Err(Status::invalid_argument(
                "address: a runner registering over TLS is dialed over TLS: advertise an \
                 https:// address",
            ));
        }
        runners::register(&*self.store, &self.config, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn runner_heartbeat(
        &self,
        request: Request<v1::RunnerHeartbeatRequest>,
    ) -> Result<Response<v1::RunnerHeartbeatResponse>, Status> {
        require_runner(
            &request,
            Some(request.get_ref().runner_id.trim()),
            self.config.process_token,
        )?;
        runners::heartbeat(&*self.store, request.into_inner())
            .await
            .map(Response::new)
    }
}

/// The status of a store error (internal details are logged, never sent).
pub fn store_status(err: aide_store::Error) -> Status {
    aide_proto::status_of(&err, "coordinator")
}

impl From<crate::Error> for Status {
    fn from(err: crate::Error) -> Self {
        aide_proto::status_of(&err, "coordinator")
    }
}

/// A run id from its UUID text; `INVALID_ARGUMENT` names the field when it is not one.
pub(crate) fn parse_run_id(text: &str) -> Result<RunId, Status> {
    parse_uuid(text, "run_id").map(RunId)
}

/// A node id from its UUID text; `INVALID_ARGUMENT` names `field` when it is not one.
pub(crate) fn parse_node_id(text: &str, field: &str) -> Result<NodeId, Status> {
    parse_uuid(text, field).map(NodeId)
}

fn parse_uuid(text: &str, field: &str) -> Result<uuid::Uuid, Status> {
    if text.trim().is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    uuid::Uuid::parse_str(text.trim())
        .map_err(|_| Status::invalid_argument(format!("{field}: {text:?} is not a UUID")))
}
