//! The Redis of the test environment: `AIDE_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`), checked for a listening server under the [`crate::require`]
//! rule. Tests that need a Redis of their own (to stop and restart it) start one with
//! [`crate::process`].

/// The URL when `AIDE_TEST_REDIS_URL` is unset.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// `AIDE_TEST_REDIS_URL` or the default, unchecked.
pub fn url() -> String {
    std::env::var("AIDE_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// The test Redis URL when its server accepts connections; otherwise fails under CI or
/// returns `None` after a SKIPPED line.
pub fn require() -> Option<String> {
    let url = url();
    let reachable = crate::net::url_reachable(&url, 6379);
    crate::require::require(&format!("Redis at {url}"), reachable.map(|()| url.clone()))
}
