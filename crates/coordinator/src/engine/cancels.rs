//! [`CancelWatch`]: one engine's watch for cancel requests of every run it drives. Instead
//! of each drive reading its run's flag every second (one query per run per second, the
//! largest share of a busy replica's queries), one task reads the flags of all of them in
//! one query every [`CANCEL_CHECK_EVERY`] and fires the token of each flagged run. The task
//! runs while at least one run is watched. Lease renewals report the flag too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aide_core::RunId;
use aide_store::Store;
use tokio_util::sync::CancellationToken;

/// How soon a drive notices a cancel request.
pub const CANCEL_CHECK_EVERY: Duration = Duration::from_secs(1);

/// The runs watched, and whether the reading task is running.
#[derive(Debug, Default)]
struct Watched {
    runs: HashMap<RunId, CancellationToken>,
    reading: bool,
}

/// The cancel requests of an engine's runs, read together.
#[derive(Debug, Default)]
pub struct CancelWatch {
    watched: Mutex<Watched>,
}

/// A run's place in the watch; the run is no longer watched once it is dropped.
#[derive(Debug)]
pub struct Watching {
    watch: Arc<CancelWatch>,
    run: RunId,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.watch.lock().runs.remove(&self.run);
    }
}

impl CancelWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fires `requested` once a cancel of `run` is requested, until the returned guard is
    /// dropped. Starts the reading task on `store` when it is not running.
    pub fn watch<S: Store>(
        self: &Arc<Self>,
        store: &Arc<S>,
        run: RunId,
        requested: CancellationToken,
    ) -> Watching {
        let start = {
            let mut watched = self.lock();
            watched.runs.insert(run, requested);
            !std::mem::replace(&mut watched.reading, true)
        };
        if start {
            tokio::spawn(read_until_empty(self.clone(), store.clone()));
        }
        Watching {
            watch: self.clone(),
            run,
        }
    }
}

/// Reads the flags of the watched runs every [`CANCEL_CHECK_EVERY`] until none is watched.
async fn read_until_empty<S: Store>(watch: Arc<CancelWatch>, store: Arc<S>) {
    loop {
        tokio::time::sleep(CANCEL_CHECK_EVERY).await;
        let runs: Vec<RunId> = {
            let mut watched = watch.lock();
            if watched.runs.is_empty() {
                watched.reading = false;
                return;
            }
            watched.runs.keys().copied().collect()
        };
        match store.cancels_requested(&runs).await {
            Ok(flagged) => {
                let watched = watch.lock();
                for run in flagged {
                    if let Some(requested) = watched.runs.get(&run) {
                        requested.cancel();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the runs' cancel requests"),
        }
    }
}
