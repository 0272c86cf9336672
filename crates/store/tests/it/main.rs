//! The integration tests of aide-store in one test binary (one link instead of one per
//! backend): the conformance suite, shared by both backends, run on Postgres and on SQLite,
//! and each backend's own tests.

#[macro_use]
mod conformance;
mod postgres;
mod sqlite;
