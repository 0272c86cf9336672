//! aide-service: what the three services (`aide-coordinator`, `aide-gateway`,
//! `aide-runner`) and the all-in-one `aide serve` share around their own work.
//!
//! - [`config`]: the layered configuration loader, restate style: defaults → TOML file
//!   (`--config`) → `AIDE_*` environment variables → flags; each service's configuration
//!   is a plain serde struct with `Default`, so the all-in-one binaries build them as values.
//! - [`signals`]: the first SIGINT/SIGTERM cancels a shutdown token, the second exits.
//! - [`shell`]: gRPC serving with health, a drain step, background tasks on a
//!   `TaskTracker`, and the Prometheus endpoint on `--metrics-listen`.
//! - [`tls`]: mutual TLS between services under one cluster CA, plaintext on loopback only
//!   when asked for, and the peer identity each request carries;
//! - [`binary`]: the thin `main` of a service binary (`--print-config`, exit codes).

pub mod binary;
pub mod config;
pub mod error;
pub mod shell;
pub mod signals;
pub mod tls;

pub use config::Overlay;
pub use error::Error;
pub use shell::{Background, Shell, bind};
