//! Waiting for a condition a test cannot be told about, by asking again until a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

/// Waits until `check` holds, asking every 200 ms; panics naming `what` after `within`.
pub async fn until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
