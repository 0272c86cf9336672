//! Shared state of the gateway replicas, kept in Redis: the response cache and the rate
//! limiter (requests and tokens per window per provider and model, concurrent calls per
//! provider, fair FIFO waiting). Without Redis the gateway keeps serving: no cache, an
//! in-process limiter, one warning per outage, and automatic recovery.

mod cache;
mod key;
mod limiter;
mod local;
mod redis_conn;
mod scripts;

pub use key::{CacheKey, cache_enabled, cache_key};

use cache::ResponseCache;
use limiter::{RedisHold, RedisLimiter};
use local::{LocalHold, LocalLimiter};
use redis_conn::{LinkTimings, RedisLink};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Limits of one provider or one provider/model pair. `None` = unlimited. Zero counts as one.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Admissions per window (a minute unless [`Timings::limit_window`] says otherwise).
    pub requests_per_min: Option<u32>,
    /// Estimated tokens per window; a request is admitted into an empty window regardless.
    pub tokens_per_min: Option<u64>,
    /// Calls holding a permit at once.
    pub max_concurrent: Option<u32>,
}

impl Limits {
    fn is_unlimited(&self) -> bool {
        self.requests_per_min.is_none()
            && self.tokens_per_min.is_none()
            && self.max_concurrent.is_none()
    }
}

/// Configuration of the shared state.
#[derive(Debug, Clone)]
pub struct SharedConfig {
    /// `redis://…`; `None` runs with no cache and in-process limits only.
    pub redis_url: Option<String>,
    /// Lifetime of a cached response (default 7 days).
    pub cache_ttl: Duration,
    /// Prefix of every Redis key (default `aide:gw:`).
    pub key_prefix: String,
    /// Limits of a provider without its own entry in `limits`, field by field.
    pub default_limits: Limits,
    /// Limits per `"provider"` (applies to all its models together, missing fields fall back
    /// to `default_limits`) and per `"provider/model"` (that model only, in addition).
    pub limits: HashMap<String, Limits>,
}

impl Default for SharedConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            cache_ttl: Duration::from_secs(7 * 24 * 3600),
            key_prefix: "aide:gw:".to_owned(),
            default_limits: Limits::default(),
            limits: HashMap::new(),
        }
    }
}

/// Timing knobs of the shared state; the defaults suit production, tests shorten them.
#[derive(Debug, Clone)]
pub struct Timings {
    /// The window of `requests_per_min` and `tokens_per_min` (default 60 s).
    pub limit_window: Duration,
    /// Lease of a concurrency slot in Redis, refreshed while held (default 30 s); the slots of
    /// a crashed replica free themselves after it.
    pub slot_lease: Duration,
    /// Longest wait for one Redis command before Redis counts as down (default 250 ms).
    pub command_timeout: Duration,
    /// Ping / reconnect period of the background health task (default 1 s).
    pub health_interval: Duration,
    /// Poll period of a waiter at the head of a queue (default 15 ms); waiters further back
    /// poll proportionally slower, up to 16 times this.
    pub poll_interval: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            limit_window: Duration::from_secs(60),
            slot_lease: Duration::from_secs(30),
            command_timeout: Duration::from_millis(250),
            health_interval: Duration::from_secs(1),
            poll_interval: Duration::from_millis(15),
        }
    }
}

/// Timing knobs the two limiters share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    pub window: Duration,
    pub lease: Duration,
    /// How long a waiter's queue place survives without a poll (a crashed waiter's place).
    pub alive: Duration,
    pub poll: Duration,
}

/// One limit scope a request must fit in: a provider, or a provider/model pair.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub name: String,
    pub max_concurrent: Option<u32>,
    pub requests: Option<u32>,
    pub tokens: Option<u64>,
}

/// How one request is admitted: its queue (one per provider), its scopes and which of them
/// belongs to its model alone.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub queue: String,
    /// `provider/model`, naming the holders of concurrency slots.
    pub holder: String,
    pub scopes: Vec<Scope>,
    /// Index in `scopes` of the `provider/model` scope, if any.
    pub model_scope: Option<usize>,
    pub estimate: u64,
}

/// Handle on the cache and the limiter. Cheap to clone; the background health task ends
/// when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SharedState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SharedConfig,
    link: Option<Arc<RedisLink>>,
    cache: ResponseCache,
    redis: Option<RedisLimiter>,
    local: Arc<LocalLimiter>,
}

impl SharedState {
    /// Starts the shared state. Never fails: an unreachable Redis starts it degraded (one
    /// warning) and a background task reconnects; an unusable URL runs it without Redis.
    pub async fn new(config: SharedConfig) -> Self {
        Self::with_timings(config, Timings::default()).await
    }

    /// [`SharedState::new`] with other timings (shorter windows and leases in tests).
    pub async fn with_timings(config: SharedConfig, timings: Timings) -> Self {
        let tuning = Tuning {
            window: timings.limit_window,
            lease: timings.slot_lease,
            alive: Duration::from_secs(5).max(timings.poll_interval * 40),
            poll: timings.poll_interval,
        };
        let timings = LinkTimings {
            command_timeout: timings.command_timeout,
            connect_timeout: timings.command_timeout.max(Duration::from_millis(500)),
            health_interval: timings.health_interval,
        };
        let link = match &config.redis_url {
            None => None,
            Some(url) => match RedisLink::open(url, timings).await {
                Ok(link) => Some(link),
                Err(err) => {
                    tracing::warn!(error = %err, "unusable redis url: running without the response cache and with in-process rate limits");
                    None
                }
            },
        };
        let redis = link
            .as_ref()
            .map(|link| RedisLimiter::new(Arc::clone(link), config.key_prefix.clone(), tuning));
        let inner = Inner {
            cache: ResponseCache::new(&config.key_prefix, config.cache_ttl),
            link,
            redis,
            local: Arc::new(LocalLimiter::new(tuning)),
            config,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Whether the cache and the shared limits currently go through Redis.
    pub fn redis_healthy(&self) -> bool {
        self.inner.link.as_ref().is_some_and(|link| link.healthy())
    }

    /// How many Redis outages this state detected; each was logged once.
    pub fn redis_outages(&self) -> u64 {
        self.inner.link.as_ref().map_or(0, |link| link.outages())
    }

    /// The Redis key under which `key` is cached.
    pub fn cache_storage_key(&self, key: &CacheKey) -> String {
        self.inner.cache.storage_key(key)
    }

    /// The cached response of `key`; `None` on a miss or while Redis is unavailable.
    pub async fn cache_get(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let link = self.inner.link.as_ref()?;
        self.inner.cache.get(link, key).await
    }

    /// Stores a response under `key` with the configured TTL, best effort.
    pub async fn cache_put(&self, key: &CacheKey, value: &[u8]) {
        if let Some(link) = &self.inner.link {
            self.inner.cache.put(link, key, value).await;
        }
    }

    /// Waits, in arrival order across replicas, until a call to `provider`/`model` fits every
    /// limit, and charges it `estimated_tokens`. The permit holds a concurrency slot until
    /// dropped. Falls back to the in-process limiter while Redis is unavailable.
    pub async fn acquire(&self, provider: &str, model: &str, estimated_tokens: u64) -> Permit {
        let plan = self.plan(provider, model, estimated_tokens);
        if plan.scopes.is_empty() {
            return Permit { hold: Hold::Free };
        }
        if let Some(redis) = &self.inner.redis
            && self.redis_healthy()
            && let Some(hold) = redis.acquire(&plan).await
        {
            return Permit {
                hold: Hold::Redis(hold),
            };
        }
        Permit {
            hold: Hold::Local(self.inner.local.acquire(&plan).await),
        }
    }

    fn plan(&self, provider: &str, model: &str, estimate: u64) -> Plan {
        let config = &self.inner.config;
        let own = config.limits.get(provider).cloned().unwrap_or_default();
        let fallback = &config.default_limits;
        let provider_limits = Limits {
            requests_per_min: own.requests_per_min.or(fallback.requests_per_min),
            tokens_per_min: own.tokens_per_min.or(fallback.tokens_per_min),
            max_concurrent: own.max_concurrent.or(fallback.max_concurrent),
        };
        let pair = format!("{provider}/{model}");
        let mut scopes = Vec::new();
        for (name, limits) in [
            (provider.to_owned(), Some(provider_limits)),
            (pair.clone(), config.limits.get(&pair).cloned()),
        ] {
            if let Some(limits) = limits.filter(|l| !l.is_unlimited()) {
                scopes.push(Scope {
                    name,
                    max_concurrent: limits.max_concurrent.map(|n| n.max(1)),
                    requests: limits.requests_per_min.map(|n| n.max(1)),
                    tokens: limits.tokens_per_min,
                });
            }
        }
        let model_scope = scopes.iter().position(|scope| scope.name == pair);
        Plan {
            queue: provider.to_owned(),
            holder: pair,
            scopes,
            model_scope,
            estimate,
        }
    }
}

/// Leave to call a provider. Dropping it frees its concurrency slot.
#[derive(Debug)]
pub struct Permit {
    hold: Hold,
}

#[derive(Debug)]
enum Hold {
    /// No limit applies.
    Free,
    Redis(RedisHold),
    Local(LocalHold),
}

impl Permit {
    /// Corrects the token charge from the estimate to `actual_tokens`, then frees the slot.
    pub fn settle(self, actual_tokens: u64) {
        match &self.hold {
            Hold::Free => {}
            Hold::Redis(hold) => hold.settle(actual_tokens),
            Hold::Local(hold) => hold.settle(actual_tokens),
        }
    }

    /// Whether the permit was granted through Redis (shared by all replicas) rather than by
    /// the in-process fallback or because no limit applies.
    pub fn is_shared(&self) -> bool {
        matches!(self.hold, Hold::Redis(_))
    }
}
