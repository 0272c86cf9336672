//! Test support for aide's integration suites, written once: the rule for a service a test
//! needs ([`require`]), a fresh Postgres database per test ([`postgres`]), the Redis of the
//! test environment ([`redis`]), child processes killed and reaped on drop ([`process`]),
//! loopback ports ([`net`]), the data the tests share ([`paths`]), a service binary's
//! `--print-config` ([`binary`]), the S3 server of the test environment ([`s3`]), the Python
//! for process-backend sandboxes ([`python`]), with the `services` feature an in-process
//! gateway and runner ([`services`]), database servers a test may stop and restart
//! ([`servers`]) and a throwaway cluster CA ([`tls`]), and several hosts on one machine, as network
//! namespaces that may hide directories ([`hosts`]), a synthetic MLE-bench competition
//! ([`mlebench`]), and with the `web` feature a headless browser ([`browser`]) and a reader
//! of server-sent events ([`sse`]), and waiting for a condition ([`wait`]).
//!
//! With the `fixtures` feature, a sample task and sweep ([`fixtures`]).
//!
//! Only a `[dev-dependencies]` entry.

pub mod binary;
#[cfg(feature = "web")]
pub mod browser;
pub mod error;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod hosts;
pub mod mlebench;
pub mod net;
pub mod paths;
pub mod postgres;
pub mod process;
pub mod python;
pub mod redis;
pub mod require;
pub mod s3;
#[cfg(feature = "services")]
pub mod servers;
#[cfg(feature = "services")]
pub mod services;
#[cfg(feature = "web")]
pub mod sse;
#[cfg(feature = "services")]
pub mod tls;
pub mod wait;

pub use error::Error;
pub use hosts::{Hidden, Host, Network};
pub use net::{free_port, wait_for_port};
pub use paths::{copy_tree, example_dir, house_prices_dir, repo_root};
pub use postgres::TestDatabase;
pub use process::ChildGuard;
pub use require::unavailable;

/// Runs `future` to completion on a runtime of its own (current thread), for synchronous
/// tests and for clean-up in `Drop`.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a test runtime")
        .block_on(future)
}

/// Whether the tests run as root (effective uid 0): sandbox uids, `unshare`, `runuser`.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}
