//! The one gRPC adapter of the engine's [`Executor`] port: [`RunnerExecutor`] sends each
//! execution to a runner lent by a [`RunnerPool`] — a fixed list of addresses
//! ([`FixedRunners`], for `aide run` and tests: [`GrpcExecutor`]) or the runner registry
//! ([`RunnerRegistry`], for the coordinator service: [`RegistryExecutor`]) — and classifies
//! what goes wrong for the engine.
//!
//! - **Choice.** The pool lends the least loaded runner; a runner that failed recently is
//!   avoided for a while (the penalty) while another one is live. While every runner
//!   is busy an execution waits its turn (a full fleet is a queue, not a failure); with no
//!   runner registered at all it waits a few seconds, then that is an infrastructure error
//!   (the engine backs off and tries again). A runner that refuses the work for want of a
//!   slot (another replica filled it since its heartbeat) is passed over for a second and
//!   the execution, still the same attempt, waits for another slot.
//! - **Loss.** A runner that vanishes mid-execution (the stream breaks, it answers
//!   UNAVAILABLE, it goes silent past the execution's timeout plus a slack, or it leaves the
//!   pool) is an infrastructure error: the engine abandons the attempt and retries it as a
//!   new attempt, and the runner becomes a suspect. So is a runner's own failure reported in
//!   `Finished` (a sandbox that could not run the script, a runner that cancelled the
//!   execution while shutting down): never the script's fault.

mod pool;
mod queue;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aide_proto::MAX_MESSAGE_BYTES;
use aide_proto::bearer::{Authed, Bearer};
use aide_proto::v1::runner_client::RunnerClient;
use aide_proto::v1::{ExecuteEvent, Finished, execute_event::Event};
use aide_service::tls::Dialer;
use aide_store::Store;
use aide_telemetry::{TracedChannel, traced};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::Instrument;

pub use pool::{FixedRunners, Lent, Offer, RunnerPool};
pub use queue::SlotQueue;

use crate::engine::{Executed, Executor, PortError, ScriptRun};
use crate::registry::RunnerRegistry;

/// How often an execution waiting for a free slot asks the pool again.
const SLOT_POLL: Duration = Duration::from_millis(250);
/// How long a runner that refused work for want of a slot is passed over.
const FULL_HOLD: Duration = Duration::from_secs(1);

/// The executor over a fixed list of runner addresses.
pub type GrpcExecutor = RunnerExecutor<FixedRunners>;
/// The executor over the runners registered with this coordinator.
pub type RegistryExecutor<S> = RunnerExecutor<Arc<RunnerRegistry<S>>>;

/// Executions over gRPC on the runners of a [`RunnerPool`].
#[derive(Debug)]
pub struct RunnerExecutor<P> {
    pool: P,
    /// How runners are dialed (TLS with the coordinator's certificate in a deployment).
    dialer: Dialer,
    /// Sent with calls to plaintext (`http://`, loopback) runners only: the process token of
    /// the runner in this process. A runner reached over TLS never sees it.
    bearer: Bearer,
    channels: Mutex<HashMap<String, Channel>>,
    /// Runners that failed recently (by id), avoided until the instant while others are free.
    suspects: Mutex<HashMap<String, Instant>>,
    penalty: Duration,
    /// Added to the execution timeout before a silent runner is given up.
    slack: Duration,
    /// How long an execution waits for a free slot before reporting that there is none.
    slot_wait: Duration,
    /// The executions waiting for a slot (the queue depth of the metrics).
    queue: Arc<SlotQueue>,
}

impl RunnerExecutor<FixedRunners> {
    /// An executor over `addresses` (e.g. `http://10.0.0.5:50053`); channels connect lazily.
    pub fn new<I, T>(addresses: I) -> Result<Self, PortError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Ok(Self::over(FixedRunners::new(addresses)?))
    }
}

impl<S: Store> RunnerExecutor<Arc<RunnerRegistry<S>>> {
    /// An executor over the live runners of `registry`.
    pub fn new(registry: Arc<RunnerRegistry<S>>) -> Self {
        Self::over(registry)
    }
}

impl<P: RunnerPool> RunnerExecutor<P> {
    /// An executor over the runners `pool` lends.
    pub fn over(pool: P) -> Self {
        Self {
            pool,
            dialer: Dialer::plaintext(),
            bearer: Bearer::none(),
            channels: Mutex::default(),
            suspects: Mutex::default(),
            penalty: Duration::from_secs(30),
            slack: Duration::from_secs(120),
            slot_wait: Duration::from_secs(5),
            queue: Arc::default(),
        }
    }

    /// The executions waiting for a slot on this executor.
    pub fn queue(&self) -> Arc<SlotQueue> {
        self.queue.clone()
    }

    /// Sets how long an execution waits for a runner to be registered at all (asking the
    /// pool again every 250 ms) before the "no runner is registered" error hands the wait to
    /// the engine. A wait for a busy runner's slot has no limit.
    pub fn with_slot_wait(mut self, wait: Duration) -> Self {
        self.slot_wait = wait;
        self
    }

    /// Dials runners with `dialer` instead of plaintext.
    pub fn with_dialer(mut self, dialer: Dialer) -> Self {
        self.dialer = dialer;
        self
    }

    /// Sends `bearer` with every call to a plaintext runner.
    pub fn with_bearer(mut self, bearer: Bearer) -> Self {
        self.bearer = bearer;
        self
    }

    /// Sets how long a runner that failed is avoided.
    pub fn with_penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self
    }

    /// A runner with a free slot; a recent suspect only when no other runner is live. While
    /// every runner is busy the execution waits its turn for as long as it takes (a full
    /// fleet is queueing, not a failure: the queue depth is what scales runners out); with
    /// no runner at all it waits `slot_wait`, then reports that as an infrastructure error.
    async fn acquire(&self) -> Result<Lent<P::Guard>, PortError> {
        let deadline = Instant::now() + self.slot_wait;
        loop {
            let suspects = self.current_suspects();
            let fresh = self
                .pool
                .lend(&|id| !suspects.iter().any(|s| s == id))
                .await?;
            // A suspect only when no other runner exists: while others are merely busy,
            // waiting for one beats sending the work to a runner that just failed.
            let offer = match fresh {
                Offer::Lent(lent) => return Ok(lent),
                Offer::NoRunner if !suspects.is_empty() => self.pool.lend(&|_| true).await?,
                other => other,
            };
            match offer {
                Offer::Lent(lent) => return Ok(lent),
                Offer::AllBusy => {}
                Offer::NoRunner if Instant::now() >= deadline => {
                    return Err(PortError::infrastructure("no runner is registered"));
                }
                Offer::NoRunner => {}
            }
            tokio::time::sleep(SLOT_POLL.min(self.slot_wait)).await;
        }
    }

    /// The ids of the runners avoided now.
    fn current_suspects(&self) -> Vec<String> {
        let now = Instant::now();
        let mut suspects = self.suspects.lock().unwrap_or_else(PoisonError::into_inner);
        suspects.retain(|_, until| *until > now);
        suspects.keys().cloned().collect()
    }

    /// Forgets a failed runner's channel and avoids the runner for a while.
    fn suspect(&self, lent: &Lent<P::Guard>) {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&lent.address);
        self.suspects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lent.id.clone(), Instant::now() + self.penalty);
    }

    fn client(&self, address: &str) -> Result<RunnerClient<Authed<TracedChannel>>, PortError> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        let channel = match channels.get(address) {
            Some(channel) => channel.clone(),
            None => {
                let channel = self
                    .dialer
                    .endpoint(address)
                    .map_err(|e| PortError::infrastructure(format!("bad runner address: {e}")))?
                    .connect_timeout(Duration::from_secs(5))
                    .connect_lazy();
                channels.insert(address.to_owned(), channel.clone());
                channel
            }
        };
        let bearer = match address.trim_start().starts_with("http://") {
            true => self.bearer.clone(),
            false => Bearer::none(),
        };
        let authed = InterceptedService::new(traced(channel), bearer);
        Ok(RunnerClient::new(authed).max_decoding_message_size(MAX_MESSAGE_BYTES))
    }

    /// Streams one execution on the lent runner to its `Finished` event; the runner id is
    /// the one its `Started` event announced, else the pool's. `None` when the runner
    /// refused it for want of a free slot.
    async fn run_on(
        &self,
        lent: &Lent<P::Guard>,
        script: &ScriptRun,
    ) -> Result<Option<Executed>, PortError> {
        let timeout = script.timeout + self.slack;
        let what = match lent.id == lent.address {
            true => format!("runner {}", lent.address),
            false => format!("runner {} ({})", lent.id, lent.address),
        };
        let mut client = self.client(&lent.address)?;
        let stream = async {
            let stream = match client.execute(wire::execute_request(script)).await {
                Ok(response) => response.into_inner(),
                // Its slots filled between its heartbeat and this call (another replica
                // sent work too): not a failure, the execution waits for another slot.
                Err(status) if status.code() == tonic::Code::ResourceExhausted => {
                    return Ok(None);
                }
                Err(status) => return Err(PortError::from_status(&what, &status)),
            };
            read_events(stream, &what).await.map(Some)
        };
        let executed = tokio::select! {
            outcome = tokio::time::timeout(timeout, stream) => outcome.map_err(|_| {
                PortError::infrastructure(format!("{what}: no result within {timeout:?}"))
            })??,
            () = self.pool.until_gone(&lent.id) => {
                return Err(PortError::infrastructure(format!(
                    "{what}: the runner left the registry during the execution"
                )));
            }
        };
        Ok(executed.map(|mut executed| {
            executed.runner_id.get_or_insert_with(|| lent.id.clone());
            executed
        }))
    }

    /// Keeps work off a runner that said it was full until its next heartbeat is likely.
    fn hold_full(&self, lent: &Lent<P::Guard>) {
        self.suspects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(lent.id.clone(), Instant::now() + FULL_HOLD);
    }
}

impl<P: RunnerPool> Executor for RunnerExecutor<P> {
    async fn execute(&self, script: ScriptRun) -> Result<Executed, PortError> {
        loop {
            let waiter = self.queue.wait(script.node_id.0);
            let lent = self.acquire().await?;
            waiter.served();
            let span = tracing::info_span!("dispatch", runner_id = %lent.id);
            let sent = async {
                tracing::debug!(address = %lent.address, "dispatching an execution");
                self.run_on(&lent, &script).await
            }
            .instrument(span)
            .await;
            match sent {
                Ok(Some(executed)) => return Ok(executed),
                Ok(None) => {
                    tracing::debug!(runner_id = %lent.id, "the runner was full: another slot");
                    self.hold_full(&lent);
                }
                Err(e) => {
                    if e.is_infrastructure() {
                        tracing::warn!(error = %e, "execution lost to the infrastructure");
                        self.suspect(&lent);
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// Reads an execution's event stream to its `Finished` event, keeping the runner id the
/// `Started` event announced; `what` names the runner in errors.
async fn read_events(
    mut stream: tonic::Streaming<ExecuteEvent>,
    what: &str,
) -> Result<Executed, PortError> {
    let mut runner_id = None;
    loop {
        match stream.message().await {
            Err(status) => return Err(PortError::from_status(what, &status)),
            Ok(None) => {
                return Err(PortError::infrastructure(format!(
                    "{what}: the stream ended without a Finished event"
                )));
            }
            Ok(Some(event)) => match event.event {
                Some(Event::Started(started)) if !started.runner_id.is_empty() => {
                    runner_id = Some(started.runner_id);
                }
                Some(Event::Finished(finished)) => {
                    runner_verdict(&finished, what)?;
                    return Ok(wire::executed(finished, runner_id));
                }
                _ => {}
            },
        }
    }
}

/// Turns a runner's own failures reported in `Finished` into infrastructure errors.
fn runner_verdict(finished: &Finished, what: &str) -> Result<(), PortError> {
    if !finished.sandbox_error.is_empty() {
        return Err(PortError::infrastructure(format!(
            "{what}: sandbox failure: {}",
            finished.sandbox_error
        )));
    }
    if finished.cancelled {
        return Err(PortError::infrastructure(format!(
            "{what}: the runner cancelled the execution (shutting down?)"
        )));
    }
    Ok(())
}
