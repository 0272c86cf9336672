//! Where runners come from: a [`RunnerPool`] lends the least loaded runner with a free
//! slot and says when a lent runner is gone. [`FixedRunners`] is a fixed list of addresses
//! counting its own executions in flight; the [`RunnerRegistry`] lends registered runners
//! by their heartbeats and this coordinator's reservations.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aide_store::Store;
use tonic::transport::Channel;

use crate::engine::PortError;
use crate::registry::{Pick, Reservation, RunnerRegistry};

/// A runner lent for one execution; what `G` holds (a slot) is given back when it drops.
#[derive(Debug)]
pub struct Lent<G> {
    pub id: String,
    pub address: String,
    _slot: G,
}

/// What a pool has for an execution now.
#[derive(Debug)]
pub enum Offer<G> {
    Lent(Lent<G>),
    /// Every eligible runner is busy: the fleet is full, so the execution waits its turn.
    AllBusy,
    /// No eligible runner at all.
    NoRunner,
}

/// Runners an executor may send work to.
pub trait RunnerPool: Send + Sync + 'static {
    /// Held while an execution runs on a lent runner.
    type Guard: Send + Sync;

    /// The least loaded runner with a free slot among those `eligible` accepts (by id),
    /// or why there is none now.
    fn lend(
        &self,
        eligible: &(dyn Fn(&str) -> bool + Sync),
    ) -> impl Future<Output = Result<Offer<Self::Guard>, PortError>> + Send;

    /// Resolves once the runner `id` has left the pool (never, for a fixed list).
    fn until_gone(&self, id: &str) -> impl Future<Output = ()> + Send;
}

/// A fixed list of runner addresses; a runner's id is its address.
#[derive(Debug)]
pub struct FixedRunners {
    runners: Vec<FixedRunner>,
}

#[derive(Debug)]
struct FixedRunner {
    address: String,
    in_flight: Arc<AtomicUsize>,
}

/// One execution in flight on a fixed runner, counted until it drops.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FixedRunners {
    /// The runners at `addresses` (at least one, each a valid URI).
    pub fn new<I, T>(addresses: I) -> Result<Self, PortError>
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let mut runners = Vec::new();
        for address in addresses {
            let address = address.into();
            Channel::from_shared(address.clone())
                .map_err(|e| PortError::request(format!("bad runner address {address:?}: {e}")))?;
            runners.push(FixedRunner {
                address,
                in_flight: Arc::default(),
            });
        }
        if runners.is_empty() {
            return Err(PortError::request("no runner addresses configured"));
        }
        Ok(Self { runners })
    }
}

impl RunnerPool for FixedRunners {
    type Guard = InFlight;

    /// Fewest executions in flight, then first in the list; a fixed runner is never full.
    async fn lend(
        &self,
        eligible: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Offer<InFlight>, PortError> {
        let picked = self
            .runners
            .iter()
            .enumerate()
            .filter(|(_, r)| eligible(&r.address))
            .min_by_key(|(i, r)| (r.in_flight.load(Ordering::SeqCst), *i))
            .map(|(_, r)| r);
        let Some(runner) = picked else {
            return Ok(Offer::NoRunner);
        };
        runner.in_flight.fetch_add(1, Ordering::SeqCst);
        Ok(Offer::Lent(Lent {
            id: runner.address.clone(),
            address: runner.address.clone(),
            _slot: InFlight(runner.in_flight.clone()),
        }))
    }

    async fn until_gone(&self, _id: &str) {
        std::future::pending().await
    }
}

impl<S: Store> RunnerPool for Arc<RunnerRegistry<S>> {
    type Guard = Reservation;

    async fn lend(
        &self,
        eligible: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Offer<Reservation>, PortError> {
        let picked = self
            .pick_where(eligible)
            .await
            .map_err(|e| PortError::infrastructure(format!("runner registry: {e}")))?;
        Ok(match picked {
            Pick::Reserved(info, reservation) => Offer::Lent(Lent {
                id: info.id,
                address: info.address,
                _slot: reservation,
            }),
            Pick::AllBusy => Offer::AllBusy,
            Pick::NoRunner => Offer::NoRunner,
        })
    }

    /// Checks every third of the staleness limit (a store failure is not taken as the
    /// runner leaving).
    async fn until_gone(&self, id: &str) {
        let every = (self.stale_after() / 3).max(Duration::from_millis(200));
        loop {
            tokio::time::sleep(every).await;
            match self.live().await {
                Ok(live) if !live.iter().any(|(r, _)| r.info.id == id) => return,
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot check the runner's liveness"),
            }
        }
    }
}
