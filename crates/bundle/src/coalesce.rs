//! Coalescing: concurrent requests for the same key share one piece of work (one fetch of a
//! blob, one build of a bundle). The work runs as its own task, so it finishes even when the
//! caller that started it is cancelled, and every caller waiting gets its result.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

use crate::error::{Error, Result};

type SharedWork<V> = Shared<BoxFuture<'static, Result<V, Arc<Error>>>>;

/// Work in flight, by key.
pub(crate) struct Coalescer<K, V> {
    inflight: Arc<Mutex<HashMap<K, SharedWork<V>>>>,
}

impl<K, V> std::fmt::Debug for Coalescer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.inflight.lock().map_or(0, |m| m.len());
        f.debug_struct("Coalescer").field("in_flight", &n).finish()
    }
}

impl<K, V> Default for Coalescer<K, V> {
    fn default() -> Self {
        Self {
            inflight: Arc::default(),
        }
    }
}

impl<K, V> Coalescer<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The result of `work` for `key`: started now if nothing for `key` is in flight, else
    /// the result of the work already running (and `work` is dropped unstarted).
    pub async fn run<F>(&self, key: K, work: F) -> Result<V, Arc<Error>>
    where
        F: Future<Output = Result<V>> + Send + 'static,
    {
        let shared = {
            let mut inflight = self.inflight.lock().expect("coalescer lock");
            match inflight.get(&key) {
                Some(running) => running.clone(),
                None => {
                    let map = Arc::clone(&self.inflight);
                    let done_key = key.clone();
                    // Spawned under the lock, so it cannot remove its entry before it exists.
                    let task = tokio::spawn(async move {
                        let _done = Done { map, key: done_key };
                        work.await
                    });
                    let shared = async move {
                        match task.await {
                            Ok(result) => result.map_err(Arc::new),
                            Err(join) => Err(Arc::new(Error::Task(join))),
                        }
                    }
                    .boxed()
                    .shared();
                    inflight.insert(key, shared.clone());
                    shared
                }
            }
        };
        shared.await
    }
}

/// Removes a finished piece of work's entry, even when the work panicked.
struct Done<K: Eq + Hash, V> {
    map: Arc<Mutex<HashMap<K, SharedWork<V>>>>,
    key: K,
}

impl<K: Eq + Hash, V> Drop for Done<K, V> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&self.key);
        }
    }
}
