//! The [`Executor`] backed by the runner registry: each execution goes to the least loaded
//! live runner with a free slot ([`RunnerRegistry::acquire_where`]), over a tonic channel
//! cached per runner address, and holds its slot reservation until it ends.
//!
//! Failures are classified for the engine: a runner that vanishes mid-execution (the stream
//! breaks, the runner answers UNAVAILABLE, or it drops out of the registry while the
//! execution runs) is an infrastructure error, so the engine abandons the attempt and
//! retries it as a new attempt, and a runner that failed is avoided for a while when
//! another one has a free slot. An execution waits a few seconds for a free slot; after
//! that, no runner with a free slot is an infrastructure error too (the engine backs off
//! and tries again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aide_proto::v1::ExecuteRequest;
use aide_proto::v1::runner_client::RunnerClient;
use aide_store::{RunnerInfo, Store};
use aide_telemetry::{TracedChannel, traced};
use tonic::transport::Channel;
use tracing::Instrument;

use crate::engine::executor::{read_events, runner_verdict};
use crate::engine::{Executed, Executor, PortError};
use crate::registry::{Reservation, RunnerRegistry};

/// Largest message a runner may send (a Finished event carries the collected files).
const MAX_MESSAGE: usize = 64 << 20;
/// How often an execution waiting for a slot looks again.
const SLOT_POLL: Duration = Duration::from_millis(250);

/// Executions dispatched through a [`RunnerRegistry`].
#[derive(Debug)]
pub struct RegistryExecutor<S: Store> {
    registry: Arc<RunnerRegistry<S>>,
    channels: Mutex<HashMap<String, Channel>>,
    /// Runners that failed recently, avoided until the instant while others are free.
    suspects: Mutex<HashMap<String, Instant>>,
    penalty: Duration,
    /// Added to the execution timeout before a silent runner is given up.
    slack: Duration,
    /// How often a running execution checks that its runner is still registered.
    liveness_every: Duration,
    /// How long an execution waits for a free slot before reporting that there is none.
    slot_wait: Duration,
}

impl<S: Store> RegistryExecutor<S> {
    pub fn new(registry: Arc<RunnerRegistry<S>>) -> Self {
        let liveness_every = (registry.stale_after() / 3).max(Duration::from_millis(200));
        Self {
            registry,
            channels: Mutex::default(),
            suspects: Mutex::default(),
            penalty: Duration::from_secs(30),
            slack: Duration::from_secs(120),
            liveness_every,
            slot_wait: Duration::from_secs(5),
        }
    }

    /// Sets how long an execution waits for a free slot (polling the registry) before the
    /// "no runner with a free slot" error hands the wait to the engine's backoff.
    pub fn with_slot_wait(mut self, wait: Duration) -> Self {
        self.slot_wait = wait;
        self
    }

    /// Sets how long a runner that failed is avoided.
    pub fn with_penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self
    }

    /// A live runner with a free slot, waiting up to `slot_wait` for one.
    async fn acquire(&self) -> Result<(RunnerInfo, Reservation), PortError> {
        let deadline = Instant::now() + self.slot_wait;
        loop {
            if let Some(picked) = self.try_acquire().await? {
                return Ok(picked);
            }
            if Instant::now() >= deadline {
                return Err(PortError::infrastructure("no runner with a free slot"));
            }
            tokio::time::sleep(SLOT_POLL.min(self.slot_wait)).await;
        }
    }

    /// A live runner with a free slot, preferring runners that did not fail recently.
    async fn try_acquire(&self) -> Result<Option<(RunnerInfo, Reservation)>, PortError> {
        let now = Instant::now();
        let suspects: Vec<String> = {
            let mut map = self.suspects.lock().unwrap_or_else(PoisonError::into_inner);
            map.retain(|_, until| *until > now);
            map.keys().cloned().collect()
        };
        let registry_error =
            |e: crate::Error| PortError::infrastructure(format!("runner registry: {e}"));
        let fresh = self
            .registry
            .acquire_where(|id| !suspects.iter().any(|s| s == id))
            .await
            .map_err(registry_error)?;
        match fresh {
            Some(picked) => Ok(Some(picked)),
            None if !suspects.is_empty() => self.registry.acquire().await.map_err(registry_error),
            None => Ok(None),
        }
    }

    fn client(&self, address: &str) -> Result<RunnerClient<TracedChannel>, PortError> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let channel = match channels.get(address) {
            Some(channel) => channel.clone(),
            None => {
                let channel = Channel::from_shared(address.to_owned())
                    .map_err(|e| {
                        PortError::infrastructure(format!("bad runner address {address:?}: {e}"))
                    })?
                    .connect_timeout(Duration::from_secs(5))
                    .connect_lazy();
                channels.insert(address.to_owned(), channel.clone());
                channel
            }
        };
        Ok(RunnerClient::new(traced(channel)).max_decoding_message_size(MAX_MESSAGE))
    }

    /// Forgets a failed runner's channel and avoids the runner for a while.
    fn suspect(&self, runner: &RunnerInfo) {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&runner.address);
        self.suspects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(runner.id.clone(), Instant::now() + self.penalty);
    }

    /// Streams one execution on `runner` to its Finished event; the runner id is the one
    /// its Started event announced, else the registry's.
    async fn run_on(
        &self,
        runner: &RunnerInfo,
        request: ExecuteRequest,
    ) -> Result<Executed, PortError> {
        let timeout = request
            .limits
            .as_ref()
            .and_then(|l| l.timeout)
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::from_secs(3600))
            + self.slack;
        let what = format!("runner {} ({})", runner.id, runner.address);
        let mut client = self.client(&runner.address)?;
        let stream = async {
            let stream = client
                .execute(request)
                .await
                .map_err(|s| PortError::from_status(&what, &s))?
                .into_inner();
            read_events(stream, &what).await
        };
        let mut executed = tokio::select! {
            outcome = tokio::time::timeout(timeout, stream) => outcome.map_err(|_| {
                PortError::infrastructure(format!("{what}: no result within {timeout:?}"))
            })??,
            () = self.until_gone(&runner.id) => {
                return Err(PortError::infrastructure(format!(
                    "{what}: the runner left the registry during the execution"
                )));
            }
        };
        executed.runner_id.get_or_insert_with(|| runner.id.clone());
        runner_verdict(executed, &what)
    }

    /// Returns once `runner_id` is no longer among the live runners (a store failure is
    /// not taken as the runner leaving).
    async fn until_gone(&self, runner_id: &str) {
        loop {
            tokio::time::sleep(self.liveness_every).await;
            match self.registry.live().await {
                Ok(live) if !live.iter().any(|(r, _)| r.info.id == runner_id) => return,
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot check the runner's liveness"),
            }
        }
    }
}

impl<S: Store> Executor for RegistryExecutor<S> {
    async fn execute(&self, request: ExecuteRequest) -> Result<Executed, PortError> {
        let (runner, reservation) = self.acquire().await?;
        let span = tracing::info_span!("dispatch", runner_id = %runner.id);
        async {
            tracing::debug!(address = %runner.address, "dispatching an execution");
            let result = self.run_on(&runner, request).await;
            if let Err(e) = &result
                && e.is_infrastructure()
            {
                tracing::warn!(error = %e, "execution lost to the infrastructure");
                self.suspect(&runner);
            }
            drop(reservation);
            result
        }
        .instrument(span)
        .await
    }
}
