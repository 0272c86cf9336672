//! The registry: metric families by name, each a kind and its values by label set, and the
//! collectors run before each render.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

/// What a metric is, in Prometheus terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Only goes up (a count, a sum of seconds or dollars).
    Counter,
    /// A value now (slots busy, runs queued).
    Gauge,
    /// Observations counted into cumulative buckets with these upper bounds.
    Histogram(&'static [f64]),
}

/// One metric, declared once as a constant where it is counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Def {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
}

impl Def {
    pub const fn counter(name: &'static str, help: &'static str) -> Self {
        Self::of(name, help, Kind::Counter)
    }

    pub const fn gauge(name: &'static str, help: &'static str) -> Self {
        Self::of(name, help, Kind::Gauge)
    }

    pub const fn histogram(name: &'static str, help: &'static str, le: &'static [f64]) -> Self {
        Self::of(name, help, Kind::Histogram(le))
    }

    const fn of(name: &'static str, help: &'static str, kind: Kind) -> Self {
        Self { name, help, kind }
    }
}

/// Reads values that live outside the process's counters when `/metrics` is scraped.
pub trait Collect: Send + Sync + 'static {
    /// Sets this collector's gauges in `metrics`.
    fn collect<'a>(&'a self, metrics: &'a Metrics)
    -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

pub(super) type Labels = Vec<(String, String)>;

/// The value of one label set.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Number(f64),
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

#[derive(Debug)]
pub(super) struct Family {
    pub def: Def,
    pub values: BTreeMap<Labels, Value>,
}

/// The metrics of one process.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
    collectors: Mutex<Vec<Arc<dyn Collect>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds `by` to the counter `def` for `labels`.
    pub fn add(&self, def: &Def, labels: &[(&str, &str)], by: f64) {
        self.update(def, labels, |value| match value {
            Value::Number(n) => *n += by,
            Value::Histogram { .. } => {}
        });
    }

    /// Makes the series of `def` for `labels` exist at 0, so that its first increase shows
    /// as one (a series born at its first count hides that count from `increase()`).
    pub fn declare(&self, def: &Def, labels: &[(&str, &str)]) {
        self.update(def, labels, |_| {});
    }

    /// Adds one to the counter `def` for `labels`.
    pub fn inc(&self, def: &Def, labels: &[(&str, &str)]) {
        self.add(def, labels, 1.0);
    }

    /// Sets the gauge `def` for `labels`.
    pub fn set(&self, def: &Def, labels: &[(&str, &str)], to: f64) {
        self.update(def, labels, |value| *value = Value::Number(to));
    }

    /// Counts one observation of `value` into the histogram `def` for `labels`.
    pub fn observe(&self, def: &Def, labels: &[(&str, &str)], value: f64) {
        let Kind::Histogram(bounds) = def.kind else {
            return;
        };
        self.update(def, labels, |entry| {
            if let Value::Histogram { counts, sum, count } = entry {
                for (slot, bound) in counts.iter_mut().zip(bounds) {
                    if value <= *bound {
                        *slot += 1;
                    }
                }
                *sum += value;
                *count += 1;
            }
        });
    }

    /// The value of the counter or gauge `def` for `labels` (0 when never set), or the
    /// observation count of a histogram.
    pub fn get(&self, def: &Def, labels: &[(&str, &str)]) -> f64 {
        let families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        match families
            .get(def.name)
            .and_then(|f| f.values.get(&owned(labels)))
        {
            Some(Value::Number(n)) => *n,
            Some(Value::Histogram { count, .. }) => *count as f64,
            None => 0.0,
        }
    }

    /// Runs `collector` before every render.
    pub fn register(&self, collector: Arc<dyn Collect>) {
        self.collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(collector);
    }

    /// Runs the collectors, then renders every metric in the Prometheus text format.
    pub async fn collect_and_render(&self) -> String {
        let collectors = self
            .collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for collector in collectors {
            collector.collect(self).await;
        }
        self.render()
    }

    /// Every metric as it is now, in the Prometheus text format.
    pub fn render(&self) -> String {
        let families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        super::text::render(families.values())
    }

    fn update(&self, def: &Def, labels: &[(&str, &str)], change: impl FnOnce(&mut Value)) {
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let family = families.entry(def.name).or_insert_with(|| Family {
            def: *def,
            values: BTreeMap::new(),
        });
        let value = family
            .values
            .entry(owned(labels))
            .or_insert_with(|| initial(def.kind));
        change(value);
    }
}

fn initial(kind: Kind) -> Value {
    match kind {
        Kind::Histogram(bounds) => Value::Histogram {
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        },
        Kind::Counter | Kind::Gauge => Value::Number(0.0),
    }
}

fn owned(labels: &[(&str, &str)]) -> Labels {
    labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
