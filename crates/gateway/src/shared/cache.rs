//! The response cache in Redis: opaque bytes under `<prefix>cache:<key>`, written with a TTL,
//! read best effort (a miss whenever Redis is unavailable).

use super::key::CacheKey;
use super::redis_conn::RedisLink;
use std::time::Duration;

/// Cache reads and writes over the shared link.
#[derive(Debug, Clone)]
pub(crate) struct ResponseCache {
    prefix: String,
    ttl: Duration,
}

impl ResponseCache {
    pub(crate) fn new(prefix: &str, ttl: Duration) -> Self {
        Self {
            prefix: format!("{prefix}cache:"),
            ttl,
        }
    }

    /// The Redis key holding the entry of `key`.
    pub(crate) fn storage_key(&self, key: &CacheKey) -> String {
        format!("{}{}", self.prefix, key.0)
    }

    pub(crate) async fn get(&self, link: &RedisLink, key: &CacheKey) -> Option<Vec<u8>> {
        let name = self.storage_key(key);
        link.run(|mut conn| async move {
            redis::cmd("GET")
                .arg(&name)
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
        })
        .await
        .flatten()
    }

    pub(crate) async fn put(&self, link: &RedisLink, key: &CacheKey, value: &[u8]) {
        let name = self.storage_key(key);
        let ttl_ms = u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = link
            .run(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&name)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }
}
