//! Prometheus metrics without a global registry: each service owns a [`Metrics`] and shares
//! it by `Arc`. A metric is declared once as a [`Def`] constant (name, help, kind); the code
//! counts, sets or observes through it; [`Collect`]ors read what lives elsewhere (a store,
//! a cache directory) when `/metrics` is scraped. [`serve_metrics`] answers `GET /metrics`
//! (and gRPC health, for probes) on the service's own plaintext listener; [`scrape`] is its
//! client.

mod endpoint;
mod registry;
mod text;

pub use endpoint::{scrape, serve_metrics};
pub use registry::{Collect, Def, Kind, Metrics};

/// `aide_build_info{service, version}`, always 1: which service and version answers.
pub const BUILD_INFO: Def = Def::gauge(
    "aide_build_info",
    "Always 1, labelled with the service and the aide version it runs.",
);

/// Sets [`BUILD_INFO`] for `service`.
pub fn build_info(metrics: &Metrics, service: &str) {
    let labels = [("service", service), ("version", env!("CARGO_PKG_VERSION"))];
    metrics.set(&BUILD_INFO, &labels, 1.0);
}

/// Buckets for durations in seconds from a millisecond to ten minutes.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];
