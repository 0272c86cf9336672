//! The executor port: whoever runs a solution script (the runners), and the gRPC adapter
//! over a fixed list of `aide.v1.Runner` endpoints that sends each execution to the
//! runner with the fewest executions in flight and skips, for a while, a runner that just
//! failed, so a retry lands elsewhere.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aide_proto::v1::runner_client::RunnerClient;
use aide_proto::v1::{ExecuteRequest, Finished, execute_event::Event};
use aide_telemetry::{TracedChannel, traced};
use tonic::transport::Channel;

pub use super::author::PortError;

/// Largest message a runner may send (a Finished event carries the collected files).
const MAX_MESSAGE: usize = 64 << 20;

/// Runs one script to its end and returns the `Finished` event (output, exit, collected
/// files) with the id of the runner that ran it. Infrastructure errors (runner lost or unavailable, stream broken, sandbox
/// failure) make the engine retry the execution as a new attempt.
pub trait Executor: Send + Sync + 'static {
    fn execute(
        &self,
        request: ExecuteRequest,
    ) -> impl Future<Output = Result<Executed, PortError>> + Send;
}

/// A finished execution and the runner that ran it (from its `Started` event), when known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Executed {
    pub finished: Finished,
    pub runner_id: Option<String>,
}

impl From<Finished> for Executed {
    fn from(finished: Finished) -> Self {
        Self {
            finished,
            runner_id: None,
        }
    }
}

/// Reads an execution's event stream to its `Finished` event, keeping the runner id the
/// `Started` event announced; `what` names the runner in errors.
pub(crate) async fn read_events(
    mut stream: tonic::Streaming<aide_proto::v1::ExecuteEvent>,
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
                    return Ok(Executed {
                        finished,
                        runner_id,
                    });
                }
                _ => {}
            },
        }
    }
}

#[derive(Debug)]
struct Endpoint {
    address: String,
    client: RunnerClient<TracedChannel>,
    in_flight: AtomicUsize,
    /// Skipped until this instant after an infrastructure failure.
    suspect_until: Mutex<Option<Instant>>,
}

impl Endpoint {
    fn is_suspect(&self, now: Instant) -> bool {
        self.suspect_until
            .lock()
            .map(|until| until.is_some_and(|t| t > now))
            .unwrap_or(false)
    }
}

/// Executions over gRPC on a fixed list of runners.
#[derive(Debug)]
pub struct GrpcExecutor {
    endpoints: Vec<Endpoint>,
    /// How long a runner that failed is avoided (while another one is available).
    penalty: Duration,
    /// Added to the execution timeout before the client gives up on a silent runner.
    slack: Duration,
}

/// Decrements a runner's in-flight count when the execution ends, however it ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl GrpcExecutor {
    /// An executor over `addresses` (e.g. `http://10.0.0.5:50053`); channels connect lazily.
    pub fn new<I, T>(addresses: I) -> Result<Self, PortError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut endpoints = Vec::new();
        for address in addresses {
            let address = address.into();
            let channel = Channel::from_shared(address.clone())
                .map_err(|e| PortError::request(format!("bad runner address {address:?}: {e}")))?
                .connect_timeout(Duration::from_secs(5))
                .connect_lazy();
            endpoints.push(Endpoint {
                client: RunnerClient::new(traced(channel)).max_decoding_message_size(MAX_MESSAGE),
                address,
                in_flight: AtomicUsize::new(0),
                suspect_until: Mutex::new(None),
            });
        }
        if endpoints.is_empty() {
            return Err(PortError::request("no runner addresses configured"));
        }
        Ok(Self {
            endpoints,
            penalty: Duration::from_secs(30),
            slack: Duration::from_secs(120),
        })
    }

    /// Sets how long a failed runner is avoided.
    pub fn with_penalty(mut self, penalty: Duration) -> Self {
        self.penalty = penalty;
        self
    }

    /// The runner the next execution goes to: not recently failed, then fewest in flight,
    /// then first in the list.
    fn pick(&self) -> &Endpoint {
        let now = Instant::now();
        self.endpoints
            .iter()
            .enumerate()
            .min_by_key(|(i, e)| (e.is_suspect(now), e.in_flight.load(Ordering::SeqCst), *i))
            .map(|(_, e)| e)
            .expect("at least one endpoint")
    }

    async fn run_on(
        &self,
        endpoint: &Endpoint,
        request: ExecuteRequest,
    ) -> Result<Executed, PortError> {
        let timeout = request
            .limits
            .as_ref()
            .and_then(|l| l.timeout)
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or(Duration::from_secs(3600))
            + self.slack;
        let what = format!("runner {}", endpoint.address);
        let mut client = endpoint.client.clone();
        let work = async {
            let stream = client
                .execute(request)
                .await
                .map_err(|s| PortError::from_status(&what, &s))?
                .into_inner();
            read_events(stream, &what).await
        };
        let executed = tokio::time::timeout(timeout, work).await.map_err(|_| {
            PortError::infrastructure(format!("{what}: no result within {timeout:?}"))
        })??;
        runner_verdict(executed, &what)
    }
}

impl Executor for GrpcExecutor {
    async fn execute(&self, request: ExecuteRequest) -> Result<Executed, PortError> {
        let endpoint = self.pick();
        endpoint.in_flight.fetch_add(1, Ordering::SeqCst);
        let _guard = InFlight(&endpoint.in_flight);
        let result = self.run_on(endpoint, request).await;
        if let Err(e) = &result
            && e.is_infrastructure()
            && let Ok(mut until) = endpoint.suspect_until.lock()
        {
            *until = Some(Instant::now() + self.penalty);
        }
        result
    }
}

/// Turns a runner's own failures reported in `Finished` into infrastructure errors: a
/// sandbox that could not run the script, or a runner that cancelled the execution itself
/// (shutting down). Both are retried as a new attempt, never judged as the script's fault.
pub(crate) fn runner_verdict(executed: Executed, what: &str) -> Result<Executed, PortError> {
    let finished = &executed.finished;
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
    Ok(executed)
}
