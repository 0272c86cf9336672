//! aide-testkit's own integration tests: the harness run against the real machine.

mod hosts;
mod hosts_lifecycle;
