//! How the run loop fails: every error of a step is either infrastructure (retried with
//! bounded exponential backoff until it works, the engine is cancelled or the lease is
//! lost — an unavailable gateway or runner at most [`Backoff::max_service_retries`] times in
//! a row, then the run fails saying why), the loss of the lease (stop at once), a request
//! the run cannot get past (finish the run as failed), or an internal error.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::ports::PortError;
use crate::Error;

/// Exponential backoff between retries of infrastructure failures: `initial`, doubling,
/// capped at `max`. A database outage is waited out; a gateway or runner that stays
/// unavailable for `max_service_retries` retries in a row fails the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub max_service_retries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        // 40 retries: about 17 minutes of a service being down.
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_service_retries: 40,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0-based).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(20));
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// A failure inside the run loop, with its cause kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Transient: retry.
    #[error(transparent)]
    Infra(Transient),
    /// The lease is gone: stop without touching the run.
    #[error("the lease was lost to another owner")]
    LeaseLost,
    /// The engine was told to stop (shutdown), or the run is being cancelled.
    #[error("the engine was told to stop")]
    Stopped,
    /// The run cannot continue: finish it as failed with this reason.
    #[error(transparent)]
    Fatal(Fatal),
    /// A bug or corrupt data.
    #[error(transparent)]
    Internal(Error),
}

/// What failed for a while and may work when tried again.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    /// The database could not be reached or answered with an error.
    #[error("database: {0}")]
    Database(#[source] aide_store::Error),
    /// The gateway or a runner was unreachable, overloaded or lost the work.
    #[error(transparent)]
    Port(PortError),
}

/// Why a run cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    /// The gateway or a runner refused the request itself (a bad model, a bad key).
    #[error(transparent)]
    Refused(PortError),
    /// The stored run contradicts itself (e.g. an executed node without its execution).
    #[error("inconsistent run: {0}")]
    Inconsistent(String),
    /// A gateway or runner stayed unavailable through every retry.
    #[error("gave up after {retries} retries of an unavailable service: {last}")]
    RetriesExhausted { retries: u32, last: String },
}

impl From<aide_store::Error> for Failure {
    fn from(err: aide_store::Error) -> Self {
        match err {
            aide_store::Error::LeaseLost { .. } => Self::LeaseLost,
            aide_store::Error::Database(_) => Self::Infra(Transient::Database(err)),
            other => Self::Internal(Error::Store(other)),
        }
    }
}

impl From<PortError> for Failure {
    fn from(err: PortError) -> Self {
        if err.is_infrastructure() {
            Self::Infra(Transient::Port(err))
        } else {
            Self::Fatal(Fatal::Refused(err))
        }
    }
}

/// Runs `op` until it succeeds or fails with something other than [`Failure::Infra`] (or a
/// service stayed unavailable past `backoff.max_service_retries`: [`Fatal::RetriesExhausted`]);
/// between attempts waits per `backoff` and calls `on_retry` (which records the event).
/// Stops with [`Failure::Stopped`] when `stop` is cancelled.
pub async fn retrying<T, F, Fut, R, RFut>(
    backoff: Backoff,
    stop: &CancellationToken,
    mut on_retry: R,
    mut op: F,
) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
    R: FnMut(u32, String, Duration) -> RFut,
    RFut: Future<Output = ()>,
{
    let mut retry = 0;
    loop {
        if stop.is_cancelled() {
            return Err(Failure::Stopped);
        }
        match op().await {
            Err(Failure::Infra(Transient::Port(why))) if retry >= backoff.max_service_retries => {
                return Err(Failure::Fatal(Fatal::RetriesExhausted {
                    retries: retry,
                    last: why.to_string(),
                }));
            }
            Err(Failure::Infra(why)) => {
                let wait = backoff.delay(retry);
                on_retry(retry + 1, why.to_string(), wait).await;
                retry += 1;
                tokio::select! {
                    _ = stop.cancelled() => return Err(Failure::Stopped),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), Duration::from_millis(500));
        assert_eq!(b.delay(1), Duration::from_secs(1));
        assert_eq!(b.delay(5), Duration::from_secs(16));
        assert_eq!(b.delay(6), Duration::from_secs(30));
        assert_eq!(b.delay(1000), Duration::from_secs(30));
    }

    #[tokio::test]
    async fn a_service_down_through_every_retry_is_fatal_with_the_last_error() {
        let b = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
            max_service_retries: 3,
        };
        let stop = CancellationToken::new();
        let mut calls = 0;
        let out: Result<(), Failure> = retrying(
            b,
            &stop,
            |_, _, _| async {},
            || {
                calls += 1;
                async { Err(Failure::from(PortError::infrastructure("runner down"))) }
            },
        )
        .await;
        assert_eq!(calls, 4, "the first try and three retries");
        match out {
            Err(Failure::Fatal(fatal @ Fatal::RetriesExhausted { retries: 3, .. })) => {
                assert!(fatal.to_string().contains("runner down"), "{fatal}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn infrastructure_failures_are_retried_and_others_are_not() {
        let b = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_service_retries: 10,
        };
        let stop = CancellationToken::new();
        let mut calls = 0;
        let mut retries = Vec::new();
        let out = retrying(
            b,
            &stop,
            |n, _, _| {
                retries.push(n);
                async {}
            },
            || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(Failure::from(PortError::infrastructure("down")))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(out.expect("succeeds"), 3);
        assert_eq!(retries, vec![1, 2]);
        let fatal: Result<(), _> = retrying(
            b,
            &stop,
            |_, _, _| async {},
            || async { Err(Failure::from(PortError::request("no"))) },
        )
        .await;
        assert!(matches!(fatal, Err(Failure::Fatal(_))));
        stop.cancel();
        let stopped: Result<(), _> = retrying(
            b,
            &stop,
            |_, _, _| async {},
            || async { Err(Failure::from(PortError::infrastructure("down"))) },
        )
        .await;
        assert!(matches!(stopped, Err(Failure::Stopped)));
    }
}
