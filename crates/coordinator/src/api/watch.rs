//! WatchRun: a run's stored events from a sequence number on, then live ones until the run
//! ends, each with a snapshot of the run; and the [`EventNotifier`] the engine pokes after
//! appending an event so watchers on this replica wake at once.
//!
//! The store is the source of truth: a watcher pages through `events_after`, then waits for
//! a notification *or* the poll interval (events appended by another replica are only seen
//! by polling). The stream ends once the run is terminal and its `run_finished` event was
//! sent, or, for a run that ended without one (a queued run cancelled at once), once the
//! run has been terminal for the grace period with no new event. A client that goes away
//! ends the task at its next send or wait. A store failure ends the stream with its status;
//! the client resumes from the last sequence number it received.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use aide_core::{RunEvent, RunId};
use aide_proto::v1;
use aide_store::Store;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

use super::WatchSlot;
use super::convert::event_to_proto;
use super::runs::view_of;
use super::{ApiConfig, store_status};

/// The response stream of WatchRun.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<v1::RunEvent, Status>> + Send>>;

/// Wakes the watchers of a run on this replica when the engine appended an event. Cheap to
/// clone; one channel per watched run, dropped with its last watcher.
#[derive(Debug, Clone, Default)]
pub struct EventNotifier {
    runs: Arc<Mutex<HashMap<RunId, watch::Sender<u64>>>>,
}

impl EventNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the watchers of `run_id` that it has new events (or changed state).
    pub fn notify(&self, run_id: RunId) {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = runs.get(&run_id) {
            if sender.receiver_count() == 0 {
                runs.remove(&run_id);
            } else {
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// The engine's hook that notifies this notifier after every appended event.
    pub fn hook(&self) -> crate::engine::EventHook {
        let notifier = self.clone();
        crate::engine::EventHook::new(move |run_id| notifier.notify(run_id))
    }

    /// Starts listening for notifications about `run_id`.
    pub fn subscribe(&self, run_id: RunId) -> EventSubscription {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let sender = runs.entry(run_id).or_insert_with(|| watch::channel(0).0);
        EventSubscription {
            receiver: sender.subscribe(),
            run_id,
            notifier: self.clone(),
        }
    }

    /// Runs with at least one channel (for tests of the clean-up).
    pub fn watched_runs(&self) -> usize {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One watcher's end of an [`EventNotifier`] channel; removes the channel when it is the
/// last one.
#[derive(Debug)]
pub struct EventSubscription {
    receiver: watch::Receiver<u64>,
    run_id: RunId,
    notifier: EventNotifier,
}

impl EventSubscription {
    /// Resolves at the next notification after the last one seen.
    pub async fn notified(&mut self) {
        if self.receiver.changed().await.is_err() {
            // The sender is gone (never while the notifier holds it); wait for the poll.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        let mut runs = self
            .notifier
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Our own receiver still counts here.
        if runs
            .get(&self.run_id)
            .is_some_and(|s| s.receiver_count() <= 1)
        {
            runs.remove(&self.run_id);
        }
    }
}

/// Starts the stream of `run_id`'s events after `after_seq`. `NOT_FOUND` for an unknown run
/// is returned before the stream starts.
pub(super) async fn watch_run<S: Store>(
    slot: WatchSlot,
    store: Arc<S>,
    notifier: &EventNotifier,
    config: &ApiConfig,
    run_id: RunId,
    after_seq: u64,
) -> Result<EventStream, Status> {
    store.get_run(run_id).await.map_err(store_status)?;
    let subscription = notifier.subscribe(run_id);
    let capacity = usize::try_from(config.watch_page.clamp(16, 1024)).unwrap_or(16);
    let (sender, receiver) = mpsc::channel(capacity);
    let span = tracing::debug_span!("watch_run", run_id = %run_id, after_seq);
    tokio::spawn(
        pump(
            slot,
            store,
            subscription,
            sender,
            config.clone(),
            run_id,
            after_seq,
        )
        .instrument(span),
    );
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

type Sender = mpsc::Sender<Result<v1::RunEvent, Status>>;

/// Sends events until the run is over or the client is gone; the caller's watch slot is
/// held until then.
async fn pump<S: Store>(
    _slot: WatchSlot,
    store: Arc<S>,
    mut subscription: EventSubscription,
    sender: Sender,
    config: ApiConfig,
    run_id: RunId,
    mut after: u64,
) {
    let mut finished_event_sent = false;
    let mut terminal_since: Option<Instant> = None;
    loop {
        // The status is read before the events: every event appended before the run was
        // seen terminal is in the pages below.
        let terminal = match store.get_run(run_id).await {
            Ok(run) => run.status.is_terminal(),
            Err(e) => return fail(&sender, store_status(e)).await,
        };
        let sent = match send_stored(&*store, &sender, &config, run_id, &mut after).await {
            Ok(Some(sent)) => sent,
            Ok(None) => return, // the client went away
            Err(status) => return fail(&sender, status).await,
        };
        finished_event_sent |= sent.finished;
        if terminal {
            if finished_event_sent {
                return;
            }
            let since = *terminal_since.get_or_insert_with(Instant::now);
            if sent.count == 0 && since.elapsed() >= config.finish_grace {
                return;
            }
        }
        tokio::select! {
            () = subscription.notified() => {}
            () = tokio::time::sleep(config.watch_poll) => {}
            () = sender.closed() => return,
        }
    }
}

/// What one catch-up sent.
struct Sent {
    count: usize,
    finished: bool,
}

/// Sends every stored event after `*after`, page by page, each page with a fresh run
/// snapshot. `None` when the client went away.
async fn send_stored<S: Store>(
    store: &S,
    sender: &Sender,
    config: &ApiConfig,
    run_id: RunId,
    after: &mut u64,
) -> Result<Option<Sent>, Status> {
    let mut sent = Sent {
        count: 0,
        finished: false,
    };
    loop {
        let page = store
            .events_after(run_id, *after, config.watch_page)
            .await
            .map_err(store_status)?;
        if page.is_empty() {
            return Ok(Some(sent));
        }
        // Read after the page, so the snapshot is at least as new as its events. The caller
        // was checked to see the run before the stream began.
        let run = store.get_run(run_id).await.map_err(store_status)?;
        let snapshot = view_of(store, &run).await?;
        for event in &page {
            let message = event_to_proto(event, Some(snapshot.clone()));
            if sender.send(Ok(message)).await.is_err() {
                return Ok(None);
            }
            *after = event.seq;
            sent.count += 1;
            sent.finished |= matches!(event.event, RunEvent::RunFinished(_));
        }
        if page.len() < usize::try_from(config.watch_page).unwrap_or(usize::MAX) {
            return Ok(Some(sent));
        }
    }
}

async fn fail(sender: &Sender, status: Status) {
    let _ = sender.send(Err(status)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notifications_wake_subscribers_and_channels_go_with_the_last_one() {
        let notifier = EventNotifier::new();
        let run = RunId::new();
        let mut first = notifier.subscribe(run);
        let second = notifier.subscribe(run);
        assert_eq!(notifier.watched_runs(), 1);
        (notifier.hook().0)(run);
        tokio::time::timeout(std::time::Duration::from_secs(1), first.notified())
            .await
            .expect("woken");
        notifier.notify(RunId::new()); // nobody watches it: no channel is made
        assert_eq!(notifier.watched_runs(), 1);
        drop(first);
        assert_eq!(notifier.watched_runs(), 1);
        drop(second);
        assert_eq!(notifier.watched_runs(), 0);
    }
}
