//! The gateway's one Redis link: the current connection, the healthy/degraded switch (warned
//! once per outage), short command timeouts, and the background task that pings and
//! reconnects until the last handle is gone.

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisResult};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Timeouts of the link.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkTimings {
    /// Longest wait for one command (or script) before Redis counts as down.
    pub command_timeout: Duration,
    /// Longest wait for a new connection.
    pub connect_timeout: Duration,
    /// How often the background task pings (when healthy) or reconnects (when not).
    pub health_interval: Duration,
}

/// A Redis connection that may be missing. Every command goes through [`RedisLink::run`],
/// which turns any error or timeout into "degraded" until the background task reconnects.
#[derive(Debug)]
pub(crate) struct RedisLink {
    client: Client,
    timings: LinkTimings,
    conn: Mutex<Option<MultiplexedConnection>>,
    healthy: AtomicBool,
    outages: AtomicU64,
}

impl RedisLink {
    /// Opens the link. Never fails on an unreachable server: the link then starts degraded
    /// (one warning) and the background task keeps trying. Fails only on an unusable URL.
    pub(crate) async fn open(url: &str, timings: LinkTimings) -> RedisResult<Arc<Self>> {
        let client = Client::open(url)?;
        let link = Arc::new(Self {
            client,
            timings,
            conn: Mutex::new(None),
            healthy: AtomicBool::new(true),
            outages: AtomicU64::new(0),
        });
        match link.connect().await {
            Ok(conn) => *link.slot() = Some(conn),
            Err(err) => link.mark_down(&err),
        }
        tokio::spawn(monitor(Arc::downgrade(&link)));
        Ok(link)
    }

    /// Whether commands currently go to Redis.
    pub(crate) fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// How many outages were detected (each one logged once).
    pub(crate) fn outages(&self) -> u64 {
        self.outages.load(Ordering::Acquire)
    }

    /// Runs one command or script against the current connection with the command timeout.
    /// `None` when the link is degraded or the command fails; a failure degrades the link.
    pub(crate) async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.healthy() {
            return None;
        }
        let conn = self.slot().clone()?;
        match tokio::time::timeout(self.timings.command_timeout, command(conn)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(err)) => {
                self.mark_down(&err);
                None
            }
            Err(_) => {
                self.mark_down(&"command timed out");
                None
            }
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Switches to degraded; warns only on the healthy → degraded transition.
    fn mark_down(&self, reason: &dyn std::fmt::Display) {
        *self.slot() = None;
        if self.healthy.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::AcqRel);
            tracing::warn!(
                reason = %reason,
                "redis unavailable: serving without the response cache and with in-process rate limits until it returns"
            );
        }
    }

    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timings.connect_timeout))
            .set_response_timeout(Some(self.timings.command_timeout));
        let attempt = async {
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await?;
            Ok(conn)
        };
        let budget = self.timings.connect_timeout + self.timings.command_timeout;
        match tokio::time::timeout(budget, attempt).await {
            Ok(result) => result,
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "connection attempt timed out",
            ))),
        }
    }

    /// One health step: ping when healthy, reconnect when degraded.
    async fn check(&self) {
        if self.healthy() {
            let _ = self
                .run(
                    |mut conn| async move { redis::cmd("PING").query_async::<()>(&mut conn).await },
                )
                .await;
            return;
        }
        if let Ok(conn) = self.connect().await {
            *self.slot() = Some(conn);
            if !self.healthy.swap(true, Ordering::AcqRel) {
                tracing::info!(
                    "redis reachable again: response cache and shared rate limits resumed"
                );
            }
        }
    }
}

/// The background health task. Holds only a weak handle, so it ends on its own once the last
/// `SharedState` clone (and with it the link) is dropped.
async fn monitor(link: Weak<RedisLink>) {
    loop {
        let interval = match link.upgrade() {
            Some(link) => link.timings.health_interval,
            None => return,
        };
        tokio::time::sleep(interval).await;
        let Some(link) = link.upgrade() else { return };
        link.check().await;
    }
}
