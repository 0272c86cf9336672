//! [`SignalWatch`]: one engine's watch for what people ask of the runs it drives: a cancel,
//! a new directive (ARCHITECTURE §14). Instead of each drive reading its run every second
//! (one query per run per second, the largest share of a busy replica's queries), one task
//! reads the signals of all of them in one query every [`SIGNAL_CHECK_EVERY`], fires the
//! cancel token of each run with a cancel request and sends each steered run the sequence
//! number of its newest directive. The task runs while at least one run is watched. Lease
//! renewals report cancel requests too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aide_core::RunId;
use aide_store::Store;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How soon a drive notices a cancel request or a directive.
pub const SIGNAL_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Where a watched run's signals go.
#[derive(Debug, Clone)]
pub struct RunSignals {
    /// Fired once a cancel is requested.
    pub cancel_requested: CancellationToken,
    /// The sequence number of the run's newest directive (0 before the first).
    pub steered: watch::Sender<u64>,
}

impl RunSignals {
    /// Signals whose cancel request fires `cancel_requested`, before any directive.
    pub fn new(cancel_requested: CancellationToken) -> Self {
        Self {
            cancel_requested,
            steered: watch::Sender::new(0),
        }
    }
}

/// The runs watched (each with the number of the watch that placed it), and whether the
/// reading task is running.
#[derive(Debug, Default)]
struct Watched {
    runs: HashMap<RunId, (u64, RunSignals)>,
    /// Numbers the watches, so a drive winding down never removes its successor's place.
    placed: u64,
    reading: bool,
}

/// The signals of an engine's runs, read together.
#[derive(Debug, Default)]
pub struct SignalWatch {
    watched: Mutex<Watched>,
}

/// A run's place in the watch; the run is no longer watched once it is dropped (unless a
/// later watch of the same run took the place).
#[derive(Debug)]
pub struct Watching {
    watch: Arc<SignalWatch>,
    run: RunId,
    number: u64,
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut watched = self.watch.lock();
        if watched
            .runs
            .get(&self.run)
            .is_some_and(|(n, _)| *n == self.number)
        {
            watched.runs.remove(&self.run);
        }
    }
}

impl SignalWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `run`'s signals to `to` until the returned guard is dropped. Starts the
    /// reading task on `store` when it is not running.
    pub fn watch<S: Store>(
        self: &Arc<Self>,
        store: &Arc<S>,
        run: RunId,
        to: RunSignals,
    ) -> Watching {
        let (number, start) = {
            let mut watched = self.lock();
            watched.placed += 1;
            let number = watched.placed;
            watched.runs.insert(run, (number, to));
            (number, !std::mem::replace(&mut watched.reading, true))
        };
        if start {
            tokio::spawn(read_until_empty(self.clone(), store.clone()));
        }
        Watching {
            watch: self.clone(),
            run,
            number,
        }
    }
}

/// Reads the signals of the watched runs every [`SIGNAL_CHECK_EVERY`] until none is
/// watched.
async fn read_until_empty<S: Store>(watch: Arc<SignalWatch>, store: Arc<S>) {
    loop {
        tokio::time::sleep(SIGNAL_CHECK_EVERY).await;
        let runs: Vec<RunId> = {
            let mut watched = watch.lock();
            if watched.runs.is_empty() {
                watched.reading = false;
                return;
            }
            watched.runs.keys().copied().collect()
        };
        match store.run_signals(&runs).await {
            Ok(signals) => {
                let watched = watch.lock();
                for signal in signals {
                    let Some((_, to)) = watched.runs.get(&signal.run) else {
                        continue;
                    };
                    if signal.cancel_requested {
                        to.cancel_requested.cancel();
                    }
                    to.steered.send_if_modified(|seq| {
                        let newer = signal.steered_seq > *seq;
                        *seq = (*seq).max(signal.steered_seq);
                        newer
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the runs' signals"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drive_winding_down_leaves_its_successor_watched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite:{}", dir.path().join("aide.db").display());
        let store = Arc::new(aide_store::connect(&url).await.expect("store"));
        let watch = Arc::new(SignalWatch::default());
        let run = RunId::new();
        let old = watch.watch(&store, run, RunSignals::new(CancellationToken::new()));
        let new = watch.watch(&store, run, RunSignals::new(CancellationToken::new()));
        drop(old);
        assert!(
            watch.lock().runs.contains_key(&run),
            "the new drive is still watched"
        );
        drop(new);
        assert!(!watch.lock().runs.contains_key(&run));
    }
}
