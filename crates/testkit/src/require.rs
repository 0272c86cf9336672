//! The rule for a service a test needs (Postgres, Redis, Docker, a Python with packages,
//! root...): when it is missing the test FAILS if the environment variable `CI` is set, and
//! otherwise prints a loud SKIPPED line and returns early. Written once, here.

use std::fmt::Display;
use std::io::Write as _;

/// Reports that `what` is missing because of `why`: panics when `CI` is set, otherwise
/// prints a SKIPPED banner past the test harness's output capture and returns `None`, so a
/// test can `let Some(x) = ... else { return };`.
pub fn unavailable<T>(what: &str, why: impl Display) -> Option<T> {
    let test = std::thread::current()
        .name()
        .filter(|name| *name != "main")
        .map(|name| format!("{name}: "))
        .unwrap_or_default();
    if std::env::var_os("CI").is_some() {
        panic!("{test}{what} is unavailable and CI is set: {why}");
    }
    // Written to the real stderr, not through `eprintln!`, which the harness captures: a
    // skipped test must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {test}{what} is unavailable ({why}).\n\
         !!!!!!!! Provide it to run this test (AIDE_TEST_POSTGRES_URL, AIDE_TEST_REDIS_URL, \
         Docker...); CI=1 makes this fatal.\n"
    );
    None
}

/// `found`, or [`unavailable`] with its error.
pub fn require<T, E: Display>(what: &str, found: Result<T, E>) -> Option<T> {
    match found {
        Ok(value) => Some(value),
        Err(why) => unavailable(what, why),
    }
}
