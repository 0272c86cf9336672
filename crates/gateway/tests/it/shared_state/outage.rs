//! Degraded mode against a private redis-server that the tests stop and restart: one warning
//! per outage, local limits meanwhile, recovery on its own, and the end of the background task
//! with the last handle.

use super::{config, key};
use crate::support::redis_server::RedisServer;
use aide_gateway::shared::{Limits, SharedState};
use std::time::{Duration, Instant};

/// Polls until `state` reports Redis healthy again; returns how long that took.
async fn wait_healthy(state: &SharedState) -> Duration {
    let start = Instant::now();
    while !state.redis_healthy() {
        assert!(
            start.elapsed() < Duration::from_secs(6),
            "redis never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_degrades_once_and_recovers_on_its_own() {
    let mut server = RedisServer::start();
    let limits = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let state = SharedState::new(config(Some(server.url()), "outage", limits)).await;
    assert!(state.redis_healthy());
    let key = key("outage");
    state.cache_put(&key, b"v1").await;
    assert_eq!(state.cache_get(&key).await.as_deref(), Some(&b"v1"[..]));
    assert!(state.acquire("prov", "m", 0).await.is_shared());

    server.stop();
    assert_eq!(state.cache_get(&key).await, None);
    assert!(!state.redis_healthy());
    for _ in 0..3 {
        state.cache_put(&key, b"lost").await;
        assert_eq!(state.cache_get(&key).await, None);
        let permit = tokio::time::timeout(Duration::from_secs(2), state.acquire("prov", "m", 0))
            .await
            .expect("the local limiter admits while redis is down");
        assert!(!permit.is_shared());
    }
    // The local limiter still enforces the cap.
    let held = state.acquire("prov", "m", 0).await;
    let blocked = tokio::time::timeout(Duration::from_millis(200), state.acquire("prov", "m", 0));
    assert!(blocked.await.is_err(), "local cap not enforced");
    drop(held);
    tokio::time::sleep(Duration::from_millis(1500)).await; // several failed health checks
    assert_eq!(state.redis_outages(), 1, "warned more than once");

    server.restart();
    let took = wait_healthy(&state).await;
    eprintln!("recovered {took:?} after redis-server restarted");
    assert_eq!(
        state.cache_get(&key).await,
        None,
        "restarted server is empty"
    );
    state.cache_put(&key, b"v2").await;
    assert_eq!(state.cache_get(&key).await.as_deref(), Some(&b"v2"[..]));
    assert!(state.acquire("prov", "m", 0).await.is_shared());
    assert_eq!(state.redis_outages(), 1);

    // A second outage is a second warning.
    server.stop();
    assert_eq!(state.cache_get(&key).await, None);
    assert_eq!(state.redis_outages(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_degraded_without_redis_and_connects_when_it_appears() {
    let mut server = RedisServer::start();
    server.stop();
    let limits = Limits {
        requests_per_min: Some(100),
        ..Limits::default()
    };
    let start = Instant::now();
    let state = SharedState::new(config(Some(server.url()), "late", limits)).await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "construction blocked"
    );
    assert!(!state.redis_healthy());
    assert_eq!(state.redis_outages(), 1);
    assert_eq!(state.cache_get(&key("late")).await, None);
    assert!(!state.acquire("prov", "m", 10).await.is_shared());

    server.restart();
    wait_healthy(&state).await;
    state.cache_put(&key("late"), b"x").await;
    assert_eq!(
        state.cache_get(&key("late")).await.as_deref(),
        Some(&b"x"[..])
    );
    assert!(state.acquire("prov", "m", 10).await.is_shared());
    assert_eq!(state.redis_outages(), 1);
}

/// Connections the server at `url` has open, as CLIENT LIST reports them (this one included).
async fn client_count(url: &str) -> usize {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    list.lines().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_clone_stops_the_background_task() {
    let server = RedisServer::start();
    let limits = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    assert_eq!(client_count(&server.url()).await, 1);
    let state = SharedState::new(config(Some(server.url()), "drop", limits)).await;
    let clone = state.clone();
    drop(clone.acquire("prov", "m", 0).await);
    assert_eq!(client_count(&server.url()).await, 2);
    drop(state);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        client_count(&server.url()).await,
        2,
        "a clone is still alive"
    );
    drop(clone);
    // The health task notices at its next tick, then the connection closes.
    let start = Instant::now();
    while client_count(&server.url()).await > 1 {
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "background task kept running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
