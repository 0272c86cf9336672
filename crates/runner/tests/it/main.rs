//! The integration tests of aide-runner in one test binary (one link instead of one per
//! file). Suites sharing this process run in parallel threads, so each process-backend
//! runner gets sandbox uids of its own: `process` 21000-21111, `quota` 21600, `warm` 21700-21720,
//! `provision` 21910,
//! `service` 23000-23042 (a runner kills every process of its uids when it cleans up).
//! Signals go to child runners only, and no test sets environment variables.

mod common;

mod binary;
mod docker;
mod docker_volumes;
mod process;
mod provision;
mod quota;
mod service;
mod warm;
