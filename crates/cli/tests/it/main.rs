//! The integration tests of the `aide` binary in one test binary (one link instead of one
//! per file). Every test drives `aide` as child processes; a process-sandbox run picks its
//! sandbox uids from its own pid, so parallel tests of this binary never share uids, and
//! signals go to those children only.

mod serve_support;
mod support;
mod web_support;

mod access;
mod bench;
mod certs;
mod embedded;
mod resume;
mod run;
mod serve;
mod submit_input;
mod watch_storm;
mod web;
