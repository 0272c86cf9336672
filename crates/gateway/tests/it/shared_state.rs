//! Shared state against real Redis: the response cache, the shared rate limiter (windows,
//! concurrency, fairness across two replicas, leases of crashed replicas) and degraded mode
//! while a private redis-server is stopped and restarted.

#[path = "shared_state/outage.rs"]
mod outage;

use crate::support::redis_server::unique_prefix;
use aide_gateway::shared::{
    CacheKey, Limits, Permit, SharedConfig, SharedState, Timings, cache_enabled, cache_key,
};
use aide_testkit::redis::require as shared_redis_url;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn config(url: Option<String>, test: &str, limits: Limits) -> SharedConfig {
    SharedConfig {
        redis_url: url,
        key_prefix: unique_prefix(test),
        limits: HashMap::from([("prov".to_owned(), limits)]),
        ..SharedConfig::default()
    }
}

fn key(model: &str) -> CacheKey {
    cache_key(
        "prov",
        model,
        &[("user", "hello")],
        None,
        Some(0.0),
        Some(100),
    )
}

#[tokio::test]
async fn cache_misses_then_hits_and_sets_the_ttl() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let mut cfg = config(Some(url.clone()), "cache", Limits::default());
    cfg.cache_ttl = Duration::from_secs(600);
    let state = SharedState::new(cfg).await;
    assert!(state.redis_healthy());
    let key = key("m");
    assert_eq!(state.cache_get(&key).await, None);
    state.cache_put(&key, b"answer").await;
    assert_eq!(state.cache_get(&key).await.as_deref(), Some(&b"answer"[..]));

    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(state.cache_storage_key(&key))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
}

#[test]
fn cache_key_changes_with_every_input() {
    let spec =
        serde_json::json!({"name": "f", "description": "d", "parameters": {"type": "object"}});
    let base = cache_key("p", "m", &[("user", "x")], Some(&spec), Some(0.0), Some(10));
    let other_spec =
        serde_json::json!({"name": "g", "description": "d", "parameters": {"type": "object"}});
    let variants = [
        cache_key("q", "m", &[("user", "x")], Some(&spec), Some(0.0), Some(10)),
        cache_key("p", "n", &[("user", "x")], Some(&spec), Some(0.0), Some(10)),
        cache_key("p", "m", &[("user", "y")], Some(&spec), Some(0.0), Some(10)),
        cache_key(
            "p",
            "m",
            &[("system", "x")],
            Some(&spec),
            Some(0.0),
            Some(10),
        ),
        cache_key(
            "p",
            "m",
            &[("user", "x"), ("user", "x")],
            Some(&spec),
            Some(0.0),
            Some(10),
        ),
        cache_key(
            "p",
            "m",
            &[("user", "x")],
            Some(&other_spec),
            Some(0.0),
            Some(10),
        ),
        cache_key("p", "m", &[("user", "x")], None, Some(0.0), Some(10)),
        cache_key("p", "m", &[("user", "x")], Some(&spec), Some(0.5), Some(10)),
        cache_key("p", "m", &[("user", "x")], Some(&spec), None, Some(10)),
        cache_key("p", "m", &[("user", "x")], Some(&spec), Some(0.0), Some(11)),
        cache_key("p", "m", &[("user", "x")], Some(&spec), Some(0.0), None),
    ];
    for (i, variant) in variants.iter().enumerate() {
        assert_ne!(&base, variant, "variant {i}");
    }
    assert_eq!(base.0.len(), 64);
    assert!(base.0.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        base,
        cache_key("p", "m", &[("user", "x")], Some(&spec), Some(0.0), Some(10))
    );
}

#[test]
fn cache_key_ignores_json_key_order() {
    let a: serde_json::Value = serde_json::from_str(
        r#"{"name":"review","description":"d","parameters":{"type":"object","properties":{"metric":{"type":"number"},"is_bug":{"type":"boolean"}},"required":["is_bug","metric"]}}"#,
    )
    .unwrap();
    let b: serde_json::Value = serde_json::from_str(
        r#"{"parameters":{"required":["is_bug","metric"],"properties":{"is_bug":{"type":"boolean"},"metric":{"type":"number"}},"type":"object"},"description":"d","name":"review"}"#,
    )
    .unwrap();
    let msgs = [("system", "s"), ("user", "u")];
    assert_eq!(
        cache_key("p", "m", &msgs, Some(&a), Some(0.0), None),
        cache_key("p", "m", &msgs, Some(&b), Some(0.0), None)
    );
}

#[test]
fn cache_is_opt_in_and_on_by_default_only_at_temperature_zero() {
    assert!(cache_enabled(None, Some(0.0)));
    assert!(!cache_enabled(None, Some(0.7)));
    assert!(!cache_enabled(None, None));
    assert!(cache_enabled(Some(true), Some(0.7)));
    assert!(cache_enabled(Some(true), None));
    assert!(!cache_enabled(Some(false), Some(0.0)));
}

/// Acquires one permit and reports how long it took.
async fn timed(state: &SharedState, tokens: u64) -> (Permit, Duration) {
    let start = Instant::now();
    let permit = state.acquire("prov", "m", tokens).await;
    (permit, start.elapsed())
}

/// A state whose limit window is 2 s instead of a minute.
async fn windowed(url: Option<String>, test: &str, limits: Limits) -> SharedState {
    let timings = Timings {
        limit_window: Duration::from_secs(2),
        ..Timings::default()
    };
    SharedState::with_timings(config(url, test, limits), timings).await
}

async fn sixth_caller_waits(state: &SharedState, shared: bool) {
    let start = Instant::now();
    for _ in 0..5 {
        let (permit, _) = timed(state, 0).await;
        assert_eq!(permit.is_shared(), shared);
    }
    assert!(start.elapsed() < Duration::from_millis(1500));
    let (_, waited) = timed(state, 0).await;
    let total = start.elapsed();
    eprintln!("sixth caller waited {waited:?}, admitted {total:?} after the first");
    assert!(
        total >= Duration::from_millis(1900),
        "admitted too early: {total:?}"
    );
    assert!(
        total < Duration::from_secs(4),
        "admitted too late: {total:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_window_make_the_sixth_caller_wait() {
    let limits = Limits {
        requests_per_min: Some(5),
        ..Limits::default()
    };
    let local = windowed(None, "rpm-local", limits.clone()).await;
    sixth_caller_waits(&local, false).await;
    let Some(url) = shared_redis_url() else {
        return;
    };
    let state = windowed(Some(url), "rpm", limits).await;
    sixth_caller_waits(&state, true).await;
}

async fn token_budget_holds(state: &SharedState) {
    // 600 estimated, 100 used: the next 600 fits at once.
    let (permit, _) = timed(state, 600).await;
    permit.settle(100);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (permit, waited) = timed(state, 600).await;
    assert!(waited < Duration::from_millis(500), "waited {waited:?}");
    drop(permit);
    // Now 700 are charged: another 600 must wait for the window to pass.
    let (_, waited) = timed(state, 600).await;
    eprintln!("token-limited caller waited {waited:?}");
    assert!(waited >= Duration::from_millis(1200), "waited {waited:?}");
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    // A request bigger than the whole budget still goes once the window is empty.
    let (_, waited) = timed(state, 5000).await;
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_per_window_wait_and_settle_corrects_the_charge() {
    let limits = Limits {
        tokens_per_min: Some(1000),
        ..Limits::default()
    };
    let local = windowed(None, "tpm-local", limits.clone()).await;
    token_budget_holds(&local).await;
    let Some(url) = shared_redis_url() else {
        return;
    };
    token_budget_holds(&windowed(Some(url), "tpm", limits).await).await;
}

async fn concurrency_cap_holds(state: &SharedState) {
    let (a, _) = timed(state, 0).await;
    let (b, _) = timed(state, 0).await;
    let third = tokio::spawn({
        let state = state.clone();
        async move { timed(&state, 0).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!third.is_finished(), "the third caller got past a cap of 2");
    let released = Instant::now();
    drop(a);
    let (_c, _) = tokio::time::timeout(Duration::from_secs(2), third)
        .await
        .expect("third caller admitted after a drop")
        .unwrap();
    eprintln!("slot handed over in {:?}", released.elapsed());
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_cap_makes_the_next_caller_wait_for_a_drop() {
    let limits = Limits {
        max_concurrent: Some(2),
        ..Limits::default()
    };
    // In-process limiter (no Redis configured) and the shared one.
    concurrency_cap_holds(&SharedState::new(config(None, "cap-local", limits.clone())).await).await;
    let Some(url) = shared_redis_url() else {
        return;
    };
    concurrency_cap_holds(&SharedState::new(config(Some(url), "cap", limits)).await).await;
}

/// Runs `tasks` callers, arriving `gap` apart, alternating between models `a` and `b` when
/// `two_models` and alternating between `replicas`, against a
/// cap of one slot; returns the arrival indices in admission order.
async fn admission_order(
    replicas: &[SharedState],
    tasks: usize,
    gap: Duration,
    two_models: bool,
) -> Vec<usize> {
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for arrival in 0..tasks {
        let state = replicas[arrival % replicas.len()].clone();
        let order = Arc::clone(&order);
        handles.push(tokio::spawn(async move {
            let model = if two_models && arrival % 3 == 0 {
                "a"
            } else {
                "b"
            };
            let permit = state.acquire("prov", model, 0).await;
            order.lock().unwrap().push(arrival);
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(permit);
        }));
        tokio::time::sleep(gap).await;
    }
    for handle in handles {
        tokio::time::timeout(Duration::from_secs(30), handle)
            .await
            .expect("a caller starved")
            .unwrap();
    }
    Arc::try_unwrap(order).unwrap().into_inner().unwrap()
}

/// For each caller, how many later arrivals were admitted before it; the largest such count.
fn worst_overtaking(order: &[usize]) -> usize {
    order
        .iter()
        .enumerate()
        .map(|(pos, &arrival)| order[..pos].iter().filter(|&&a| a > arrival).count())
        .max()
        .unwrap_or(0)
}

/// Gives model `a` a (generous) limit of its own, so its waiters carry a model scope.
fn with_model_limit(mut cfg: SharedConfig) -> SharedConfig {
    let own = Limits {
        requests_per_min: Some(100_000),
        ..Limits::default()
    };
    cfg.limits.insert("prov/a".to_owned(), own);
    cfg
}

/// A caller of a model whose own limit is spent waits at the head of the provider's queue;
/// a later caller of another model goes past it, and the first still goes when its window
/// passes.
async fn blocked_model_is_passed(state: &SharedState) {
    let start = Instant::now();
    drop(state.acquire("prov", "slow", 0).await);
    let slow = tokio::spawn({
        let state = state.clone();
        async move {
            state.acquire("prov", "slow", 0).await;
            start.elapsed()
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fast = Instant::now();
    let permit = tokio::time::timeout(Duration::from_secs(1), state.acquire("prov", "fast", 0))
        .await
        .expect("a caller of another model waited behind a model-blocked one");
    eprintln!("passed a model-blocked waiter in {:?}", fast.elapsed());
    drop(permit);
    let slow = tokio::time::timeout(Duration::from_secs(4), slow)
        .await
        .expect("the model-blocked caller starved")
        .unwrap();
    assert!(
        slow >= Duration::from_millis(1900),
        "slow admitted after {slow:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_blocked_by_its_own_model_limit_is_passed_not_starved() {
    let provider = Limits {
        max_concurrent: Some(4),
        ..Limits::default()
    };
    let slow = Limits {
        requests_per_min: Some(1),
        ..Limits::default()
    };
    let timings = Timings {
        limit_window: Duration::from_secs(2),
        ..Timings::default()
    };
    let mut cfg = config(None, "pass-local", provider.clone());
    cfg.limits.insert("prov/slow".to_owned(), slow.clone());
    blocked_model_is_passed(&SharedState::with_timings(cfg, timings.clone()).await).await;
    let Some(url) = shared_redis_url() else {
        return;
    };
    let mut cfg = config(Some(url), "pass", provider);
    cfg.limits.insert("prov/slow".to_owned(), slow);
    let state = SharedState::with_timings(cfg, timings).await;
    assert!(state.acquire("prov", "fast", 0).await.is_shared());
    blocked_model_is_passed(&state).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_across_two_replicas_are_served_in_arrival_order() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let limits = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let cfg = with_model_limit(config(Some(url), "fair", limits));
    let replicas = [
        SharedState::new(cfg.clone()).await,
        SharedState::new(cfg).await,
    ];
    for (gap_ms, two_models) in [(5, false), (1, false), (1, true)] {
        let start = Instant::now();
        let gap = Duration::from_millis(gap_ms);
        let order = admission_order(&replicas, 20, gap, two_models).await;
        let worst = worst_overtaking(&order);
        eprintln!(
            "redis, arrivals {gap_ms} ms apart, two models {two_models}: admission order {order:?}, worst overtaking {worst}, {:?}",
            start.elapsed()
        );
        assert_eq!(order.len(), 20);
        assert!(worst <= 3, "order {order:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_in_the_local_limiter_are_served_in_arrival_order() {
    let limits = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let state = SharedState::new(with_model_limit(config(None, "fair-local", limits))).await;
    for (gap_ms, two_models) in [(5, false), (1, false), (1, true)] {
        let gap = Duration::from_millis(gap_ms);
        let order = admission_order(std::slice::from_ref(&state), 20, gap, two_models).await;
        let worst = worst_overtaking(&order);
        eprintln!(
            "local, arrivals {gap_ms} ms apart, two models {two_models}: admission order {order:?}, worst overtaking {worst}"
        );
        assert_eq!(order.len(), 20);
        assert!(worst <= 1, "order {order:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_replicas_slot_frees_itself_after_its_lease() {
    let Some(url) = shared_redis_url() else {
        return;
    };
    let limits = Limits {
        max_concurrent: Some(1),
        ..Limits::default()
    };
    let cfg = config(Some(url), "lease", limits);
    let timings = Timings {
        slot_lease: Duration::from_millis(900),
        ..Timings::default()
    };
    // The "crashed" replica takes the slot, then its runtime dies without releasing it.
    let (crashed, crashed_timings) = (cfg.clone(), timings.clone());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let state = SharedState::with_timings(crashed, crashed_timings).await;
            let permit = state.acquire("prov", "m", 0).await;
            assert!(permit.is_shared());
            std::mem::forget(permit);
        });
    })
    .join()
    .unwrap();
    let state = SharedState::with_timings(cfg, timings).await;
    let (_, waited) = tokio::time::timeout(Duration::from_secs(5), timed(&state, 0))
        .await
        .expect("the dead replica's slot never freed");
    eprintln!("slot of the crashed replica freed after {waited:?}");
    assert!(waited >= Duration::from_millis(500), "waited {waited:?}");
}
