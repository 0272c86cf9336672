//! WatchRun: a run's stored events from a sequence number on, then live ones until the run
//! ends, each with a snapshot of the run, read through the replica's shared
//! [`RunFeeds`]; and the [`EventNotifier`] the engine pokes after appending an event so the
//! feeds on this replica wake at once (events appended by another replica are seen by
//! polling). A client that goes away ends the task at its next send or wait. A store
//! failure ends the stream with its status; the client resumes from the last sequence
//! number it received.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use aide_core::RunId;
use aide_proto::v1;
use aide_store::Store;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

use super::convert::{event_to_proto, run_to_proto};
use super::feed::{RunFeeds, RunWatch};
use super::{ApiConfig, WatchSlot};

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

/// Starts the stream of `run_id`'s events after `after_seq`, each with a snapshot of the
/// run. `NOT_FOUND` for an unknown run is returned before the stream starts.
pub(super) async fn watch_run<S: Store>(
    slot: WatchSlot,
    feeds: &RunFeeds<S>,
    config: &ApiConfig,
    run_id: RunId,
    after_seq: u64,
) -> Result<EventStream, Status> {
    let watch = feeds.watch(run_id, after_seq).await?;
    let capacity = usize::try_from(config.watch_page.clamp(16, 1024)).unwrap_or(16);
    let (sender, receiver) = mpsc::channel(capacity);
    let span = tracing::debug_span!("watch_run", run_id = %run_id, after_seq);
    tokio::spawn(pump(slot, watch, sender).instrument(span));
    Ok(Box::pin(ReceiverStream::new(receiver)))
}

type Sender = mpsc::Sender<Result<v1::RunEvent, Status>>;

/// Sends events until the run is over or the client is gone; the caller's watch slot is
/// held until then.
async fn pump<S: Store>(_slot: WatchSlot, mut watch: RunWatch<S>, sender: Sender) {
    loop {
        let page = tokio::select! {
            page = watch.next_page() => page,
            () = sender.closed() => return,
        };
        let page = match page {
            Ok(Some(page)) => page,
            Ok(None) => return,
            Err(status) => {
                let _ = sender.send(Err(status)).await;
                return;
            }
        };
        let snapshot = &page.snapshot;
        let run = run_to_proto(&snapshot.run, &snapshot.nodes, &snapshot.usage);
        for event in &page.events {
            if sender
                .send(Ok(event_to_proto(event, Some(run.clone()))))
                .await
                .is_err()
            {
                return;
            }
        }
    }
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
