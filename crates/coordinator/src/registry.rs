//! The runner registry as dispatch sees it: which live runner gets the next execution, and
//! the reaping of runners that went silent.
//!
//! Runners' load comes from their heartbeats in the store (shared by every coordinator
//! replica). Between two heartbeats a runner's reported free slots do not show the
//! executions this coordinator has just sent it, so the registry keeps an in-memory
//! [`Reservation`] per dispatched execution, released when the execution ends (dropped):
//!
//! - a reservation made since the runner's latest heartbeat was read is subtracted from the
//!   free slots that heartbeat reported (the heartbeat could not know of it);
//! - and this coordinator never holds more reservations on a runner than it has slots.
//!
//! [`RunnerRegistry::acquire`] picks and reserves under one lock, so concurrent dispatches
//! do not all pick the same last free slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aide_store::{RunnerInfo, RunnerRecord, Store};
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Error;

/// A runner silent for this many heartbeat intervals is dropped.
pub const STALE_INTERVALS: u32 = 3;

/// What [`RunnerRegistry::pick_where`] found.
#[derive(Debug)]
pub enum Pick {
    /// A slot of this runner, reserved.
    Reserved(RunnerInfo, Reservation),
    /// Eligible runners are live, and every one is busy.
    AllBusy,
    /// No eligible runner is live.
    NoRunner,
}

/// Live runners and dispatch choice over a store.
#[derive(Debug)]
pub struct RunnerRegistry<S: Store> {
    store: Arc<S>,
    heartbeat_interval: Duration,
    state: Arc<Mutex<Reservations>>,
}

#[derive(Debug, Default)]
struct Reservations {
    next_id: u64,
    /// Per runner: its open reservations.
    by_runner: HashMap<String, Vec<Held>>,
    /// The latest heartbeat time read per runner.
    seen_heartbeat: HashMap<String, DateTime<Utc>>,
}

/// One open reservation.
#[derive(Debug, Clone, Copy)]
struct Held {
    id: u64,
    /// The runner's heartbeat time last read when the reservation was made.
    seen: Option<DateTime<Utc>>,
}

impl Reservations {
    /// Free slots of `runner` once this coordinator's reservations are accounted for.
    fn effective_free(&self, runner: &RunnerRecord) -> u32 {
        let open = self
            .by_runner
            .get(&runner.info.id)
            .map_or(&[][..], Vec::as_slice);
        let unseen = open
            .iter()
            .filter(|held| held.seen.is_none_or(|at| at >= runner.last_heartbeat_at))
            .count();
        let reported = runner.load.free_slots.min(runner.info.slots);
        let unseen = u32::try_from(unseen).unwrap_or(u32::MAX);
        let total = u32::try_from(open.len()).unwrap_or(u32::MAX);
        reported
            .saturating_sub(unseen)
            .min(runner.info.slots.saturating_sub(total))
    }

    fn reserve(&mut self, runner_id: &str) -> u64 {
        self.next_id += 1;
        let seen = self.seen_heartbeat.get(runner_id).copied();
        self.by_runner
            .entry(runner_id.to_owned())
            .or_default()
            .push(Held {
                id: self.next_id,
                seen,
            });
        self.next_id
    }
}

impl<S: Store> RunnerRegistry<S> {
    /// A registry whose runners heartbeat every `heartbeat_interval`.
    pub fn new(store: Arc<S>, heartbeat_interval: Duration) -> Self {
        Self {
            store,
            heartbeat_interval,
            state: Arc::default(),
        }
    }

    /// Runners silent for longer than this are neither picked nor kept.
    pub fn stale_after(&self) -> Duration {
        self.heartbeat_interval * STALE_INTERVALS
    }

    /// Live runners, least loaded first, each with its free slots after this coordinator's
    /// reservations.
    pub async fn live(&self) -> Result<Vec<(RunnerRecord, u32)>, Error> {
        let runners = self.store.live_runners(self.stale_after()).await?;
        let mut state = self.lock();
        for runner in &runners {
            state
                .seen_heartbeat
                .insert(runner.info.id.clone(), runner.last_heartbeat_at);
        }
        let mut live: Vec<(RunnerRecord, u32)> = runners
            .into_iter()
            .map(|r| {
                let free = state.effective_free(&r);
                (r, free)
            })
            .collect();
        // Stable: among equally free runners the store's order (CPU, then memory) holds.
        live.sort_by_key(|(_, free)| std::cmp::Reverse(*free));
        Ok(live)
    }

    /// The least loaded live runner with a free slot, if any. Call [`reserve`](Self::reserve)
    /// when dispatching to it, or use [`acquire`](Self::acquire) to do both at once.
    pub async fn pick(&self) -> Result<Option<RunnerInfo>, Error> {
        Ok(self
            .live()
            .await?
            .into_iter()
            .find(|(_, free)| *free > 0)
            .map(|(r, _)| r.info))
    }

    /// Picks the least loaded runner with a free slot and reserves the slot atomically
    /// with respect to other calls on this registry.
    pub async fn acquire(&self) -> Result<Option<(RunnerInfo, Reservation)>, Error> {
        self.acquire_where(|_| true).await
    }

    /// Like [`acquire`](Self::acquire) among the runners whose id `eligible` accepts (e.g.
    /// to avoid a runner that just failed).
    pub async fn acquire_where(
        &self,
        eligible: impl Fn(&str) -> bool,
    ) -> Result<Option<(RunnerInfo, Reservation)>, Error> {
        Ok(match self.pick_where(eligible).await? {
            Pick::Reserved(info, reservation) => Some((info, reservation)),
            Pick::AllBusy | Pick::NoRunner => None,
        })
    }

    /// Like [`acquire_where`](Self::acquire_where), telling a full fleet (every eligible
    /// live runner busy: wait) from an empty one (no eligible live runner at all).
    pub async fn pick_where(&self, eligible: impl Fn(&str) -> bool) -> Result<Pick, Error> {
        let runners = self.store.live_runners(self.stale_after()).await?;
        let mut state = self.lock();
        let mut best: Option<(&RunnerRecord, u32)> = None;
        let mut any = false;
        for runner in &runners {
            state
                .seen_heartbeat
                .insert(runner.info.id.clone(), runner.last_heartbeat_at);
            if !eligible(&runner.info.id) {
                continue;
            }
            any = true;
            let free = state.effective_free(runner);
            if free > 0 && best.is_none_or(|(_, f)| free > f) {
                best = Some((runner, free));
            }
        }
        let Some((runner, _)) = best else {
            return Ok(if any { Pick::AllBusy } else { Pick::NoRunner });
        };
        let id = state.reserve(&runner.info.id);
        drop(state);
        Ok(Pick::Reserved(
            runner.info.clone(),
            self.reservation(&runner.info.id, id),
        ))
    }

    /// Holds a slot of `runner_id` for one execution until the reservation is dropped.
    pub fn reserve(&self, runner_id: &str) -> Reservation {
        let id = self.lock().reserve(runner_id);
        self.reservation(runner_id, id)
    }

    /// Open reservations on `runner_id` (for tests and metrics).
    pub fn reserved(&self, runner_id: &str) -> usize {
        self.lock().by_runner.get(runner_id).map_or(0, Vec::len)
    }

    /// Removes runners silent for [`STALE_INTERVALS`] heartbeat intervals; returns their ids.
    pub async fn reap(&self) -> Result<Vec<String>, Error> {
        let removed = self.store.remove_stale_runners(self.stale_after()).await?;
        if !removed.is_empty() {
            let mut state = self.lock();
            for id in &removed {
                state.seen_heartbeat.remove(id);
            }
            tracing::info!(runners = ?removed, "removed silent runners");
        }
        Ok(removed)
    }

    /// Reaps every heartbeat interval until `cancel` fires.
    pub fn spawn_reaper(self: Arc<Self>, cancel: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.heartbeat_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = self.reap().await {
                    tracing::warn!(error = %e, "cannot reap silent runners");
                }
            }
        })
    }

    fn reservation(&self, runner_id: &str, id: u64) -> Reservation {
        Reservation {
            runner_id: runner_id.to_owned(),
            id,
            state: self.state.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Reservations> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One execution's hold on a runner slot; released on drop.
#[derive(Debug)]
pub struct Reservation {
    runner_id: String,
    id: u64,
    state: Arc<Mutex<Reservations>>,
}

impl Reservation {
    pub fn runner_id(&self) -> &str {
        &self.runner_id
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = state.by_runner.get_mut(&self.runner_id) {
            open.retain(|held| held.id != self.id);
            if open.is_empty() {
                state.by_runner.remove(&self.runner_id);
            }
        }
    }
}
