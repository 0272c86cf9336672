//! One reader of a run's event log per replica, shared by every watcher of the run: WatchRun
//! streams and the HTTP API's server-sent events alike. However many watch a run, the store
//! is asked once per poll whether the run moved, and each new page of events (with one
//! snapshot of the run) is read once and broadcast to all of them.
//!
//! A watcher ([`RunWatch`]) first catches up from the store on its own (the history it asked
//! for), then follows the feed. Sequence numbers are contiguous per run, so a gap between
//! what it delivered and a broadcast page (it subscribed while the feed was between reads,
//! or it lagged behind a burst) is filled from the store before the page is delivered.
//!
//! A feed ends — and tells its watchers — once the run is terminal and its `run_finished`
//! event went out, or, for a run that ended without one (a queued run cancelled at once),
//! once the run has been terminal for the grace period with no new event. It also ends as
//! soon as nobody watches. A store failure ends the feed's watchers with its status; they
//! resume from the last sequence number they received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aide_core::{RunEvent, RunId};
use aide_store::{EventRecord, NodeRecord, RunRecord, Store, Usage};
use tokio::sync::broadcast;
use tonic::Status;
use tracing::Instrument;

use super::{EventNotifier, EventSubscription, store_status};

/// Pages a feed keeps for watchers that are behind; one further behind catches up from
/// the store.
const BROADCAST_PAGES: usize = 64;

/// How a feed reads the store.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// How often the store is asked whether the run moved, when not notified sooner.
    pub poll: Duration,
    /// How long a terminal run without a `run_finished` event is watched for one.
    pub finish_grace: Duration,
    /// Events read per page.
    pub page: u32,
}

/// The run as it was when a page of its events was read.
#[derive(Debug)]
pub struct RunSnapshot {
    pub run: RunRecord,
    pub nodes: Vec<NodeRecord>,
    pub usage: Usage,
}

impl RunSnapshot {
    /// Reads the run, its tree and its usage.
    pub async fn read<S: Store>(store: &S, run_id: RunId) -> Result<Self, Status> {
        let run = store.get_run(run_id).await.map_err(store_status)?;
        Self::of(store, run).await
    }

    /// Reads the tree and usage of a run record already read.
    pub async fn of<S: Store>(store: &S, run: RunRecord) -> Result<Self, Status> {
        let (nodes, usage) = tokio::try_join!(store.load_tree(run.id), store.run_usage(run.id))
            .map_err(store_status)?;
        Ok(Self { run, nodes, usage })
    }
}

/// Events in order, with the run as it was once they were stored.
#[derive(Debug, Clone)]
pub struct FeedPage {
    pub events: Vec<EventRecord>,
    pub snapshot: Arc<RunSnapshot>,
}

impl FeedPage {
    fn finishes(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e.event, RunEvent::RunFinished(_)))
    }
}

/// What a feed sends its watchers.
#[derive(Debug, Clone)]
enum Broadcast {
    Page(Arc<FeedPage>),
    /// The run is over and everything was sent; or the feed failed.
    End(Option<Status>),
}

/// The feeds of one replica; cheap to clone.
#[derive(Debug)]
pub struct RunFeeds<S> {
    store: Arc<S>,
    notifier: EventNotifier,
    settings: FeedSettings,
    feeds: Arc<Mutex<HashMap<RunId, broadcast::Sender<Broadcast>>>>,
}

impl<S> Clone for RunFeeds<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            notifier: self.notifier.clone(),
            settings: self.settings,
            feeds: self.feeds.clone(),
        }
    }
}

impl<S: Store> RunFeeds<S> {
    pub fn new(store: Arc<S>, notifier: EventNotifier, settings: FeedSettings) -> Self {
        Self {
            store,
            notifier,
            settings,
            feeds: Arc::default(),
        }
    }

    /// Watches `run_id`'s events after `after_seq`: `NOT_FOUND` for an unknown run.
    pub async fn watch(&self, run_id: RunId, after_seq: u64) -> Result<RunWatch<S>, Status> {
        // Read before subscribing: a feed this call starts broadcasts every event after it,
        // and the watcher's catch-up, which comes later, reads every event up to it.
        let head = self
            .store
            .get_run(run_id)
            .await
            .map_err(store_status)?
            .last_event_seq;
        Ok(RunWatch {
            store: self.store.clone(),
            receiver: self.subscribe(run_id, head),
            run_id,
            after: after_seq,
            page: self.settings.page,
            caught_up: false,
            done: false,
        })
    }

    /// Runs with a feed now (for tests and metrics).
    pub fn live_feeds(&self) -> usize {
        self.lock().len()
    }

    /// A receiver of `run_id`'s feed, starting the feed (from `head`) when there is none.
    fn subscribe(&self, run_id: RunId, head: u64) -> broadcast::Receiver<Broadcast> {
        let mut feeds = self.lock();
        if let Some(sender) = feeds.get(&run_id) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(BROADCAST_PAGES);
        feeds.insert(run_id, sender.clone());
        let feed = Feed {
            feeds: self.clone(),
            subscription: self.notifier.subscribe(run_id),
            head,
            sender,
            run_id,
        };
        let span = tracing::debug_span!("run_feed", run_id = %run_id);
        tokio::spawn(feed.run().instrument(span));
        receiver
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, broadcast::Sender<Broadcast>>> {
        self.feeds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The task reading one run's log for every watcher on this replica.
struct Feed<S> {
    feeds: RunFeeds<S>,
    subscription: EventSubscription,
    /// The last event it need not send: every watcher reads up to it from the store.
    head: u64,
    sender: broadcast::Sender<Broadcast>,
    run_id: RunId,
}

impl<S: Store> Feed<S> {
    async fn run(mut self) {
        let ending = match self.follow().await {
            Ok(()) => Broadcast::End(None),
            Err(status) => Broadcast::End(Some(status)),
        };
        self.retire();
        let _ = self.sender.send(ending);
    }

    /// Broadcasts new pages until the run is over or nobody watches.
    async fn follow(&mut self) -> Result<(), Status> {
        let store = self.feeds.store.clone();
        let settings = self.feeds.settings;
        let mut head = self.head;
        let mut terminal_since: Option<Instant> = None;
        loop {
            // The status is read with the head: every event stored before the run was seen
            // terminal is at or below it.
            let run = store.get_run(self.run_id).await.map_err(store_status)?;
            let mut finished = false;
            let mut sent = 0;
            while head < run.last_event_seq {
                let events = store
                    .events_after(self.run_id, head, settings.page)
                    .await
                    .map_err(store_status)?;
                let Some(last) = events.last() else { break };
                head = last.seq;
                sent += events.len();
                let snapshot = Arc::new(RunSnapshot::read(&*store, self.run_id).await?);
                let page = FeedPage { events, snapshot };
                finished |= page.finishes();
                if self.sender.send(Broadcast::Page(Arc::new(page))).is_err()
                    && self.retire_if_unwatched()
                {
                    return Ok(());
                }
            }
            if run.status.is_terminal() {
                let since = *terminal_since.get_or_insert_with(Instant::now);
                if finished || (sent == 0 && since.elapsed() >= settings.finish_grace) {
                    return Ok(());
                }
            }
            if self.retire_if_unwatched() {
                return Ok(());
            }
            tokio::select! {
                () = self.subscription.notified() => {}
                () = tokio::time::sleep(settings.poll) => {}
            }
        }
    }

    /// Takes the feed out of the map when nobody watches it; whether it did. Checked under
    /// the map's lock, so no watcher subscribes between the check and the removal (and
    /// receives an end meant for nobody).
    fn retire_if_unwatched(&self) -> bool {
        let mut feeds = self.feeds.lock();
        if self.sender.receiver_count() > 0 {
            return false;
        }
        self.remove_from(&mut feeds);
        true
    }

    /// Takes the feed out of the map (under its lock, so no watcher subscribes to a feed
    /// that is ending without receiving its end).
    fn retire(&self) {
        self.remove_from(&mut self.feeds.lock());
    }

    /// Removes this feed's entry (not a newer feed's of the same run).
    fn remove_from(&self, feeds: &mut HashMap<RunId, broadcast::Sender<Broadcast>>) {
        if feeds
            .get(&self.run_id)
            .is_some_and(|s| s.same_channel(&self.sender))
        {
            feeds.remove(&self.run_id);
        }
    }
}

/// One watcher of a run: pages of events in sequence order, none twice, none missed.
#[derive(Debug)]
pub struct RunWatch<S> {
    store: Arc<S>,
    receiver: broadcast::Receiver<Broadcast>,
    run_id: RunId,
    after: u64,
    page: u32,
    caught_up: bool,
    done: bool,
}

impl<S: Store> RunWatch<S> {
    /// The next page of events, or `None` once the run is over and everything was
    /// delivered.
    pub async fn next_page(&mut self) -> Result<Option<FeedPage>, Status> {
        while !self.done {
            if !self.caught_up {
                if let Some(page) = self.read_stored().await? {
                    return Ok(Some(self.deliver(page)));
                }
                self.caught_up = true;
                continue;
            }
            match self.receiver.recv().await {
                Ok(Broadcast::Page(page)) => {
                    let first = page.events.first().map_or(0, |e| e.seq);
                    if first > self.after + 1 {
                        self.caught_up = false; // a gap: read it from the store first
                        continue;
                    }
                    let events: Vec<EventRecord> = page
                        .events
                        .iter()
                        .filter(|e| e.seq > self.after)
                        .cloned()
                        .collect();
                    if !events.is_empty() {
                        let snapshot = page.snapshot.clone();
                        return Ok(Some(self.deliver(FeedPage { events, snapshot })));
                    }
                }
                Ok(Broadcast::End(None)) | Err(broadcast::error::RecvError::Closed) => {
                    return self.drain().await;
                }
                Ok(Broadcast::End(Some(status))) => return Err(status),
                Err(broadcast::error::RecvError::Lagged(_)) => self.caught_up = false,
            }
        }
        Ok(None)
    }

    /// The feed ended: whatever the store still holds, then the end.
    async fn drain(&mut self) -> Result<Option<FeedPage>, Status> {
        match self.read_stored().await? {
            Some(page) => Ok(Some(self.deliver(page))),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// A page of stored events after the last delivered one, if there is any.
    async fn read_stored(&self) -> Result<Option<FeedPage>, Status> {
        let events = self
            .store
            .events_after(self.run_id, self.after, self.page)
            .await
            .map_err(store_status)?;
        if events.is_empty() {
            return Ok(None);
        }
        let snapshot = Arc::new(RunSnapshot::read(&*self.store, self.run_id).await?);
        Ok(Some(FeedPage { events, snapshot }))
    }

    fn deliver(&mut self, page: FeedPage) -> FeedPage {
        if let Some(last) = page.events.last() {
            self.after = last.seq;
        }
        self.done |= page.finishes();
        page
    }
}
