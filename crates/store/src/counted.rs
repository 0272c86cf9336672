//! [`Counted`]: a store that counts every call of a store method before forwarding it to
//! the store it wraps, by method name. Benchmarks use it to report store calls per node;
//! its store traits are implemented by `store_trait!` from each trait's one declaration, so
//! no method can be left uncounted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// How many times each store method was called.
#[derive(Debug, Default)]
pub struct StoreCalls {
    by_method: Mutex<BTreeMap<&'static str, u64>>,
}

impl StoreCalls {
    /// Counts one call of `method`.
    pub fn count(&self, method: &'static str) {
        let mut calls = self
            .by_method
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *calls.entry(method).or_default() += 1;
    }

    /// The calls so far, by method name.
    pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
        self.by_method
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every call so far.
    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// Forgets the calls counted so far.
    pub fn reset(&self) {
        self.by_method
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A store that counts its calls in a shared [`StoreCalls`].
#[derive(Debug, Clone)]
pub struct Counted<S> {
    pub(crate) inner: S,
    pub(crate) calls: Arc<StoreCalls>,
}

impl<S> Counted<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Arc::default(),
        }
    }

    /// The counts of this store's calls.
    pub fn calls(&self) -> &Arc<StoreCalls> {
        &self.calls
    }

    /// The store the calls go to (calls made through it are not counted).
    pub fn inner(&self) -> &S {
        &self.inner
    }
}
