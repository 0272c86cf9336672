//! The rate limiter shared by all gateway replicas through Redis: one FIFO ticket queue per
//! provider, admission in arrival order when every limit scope has room, and
//! concurrency slots held under a refreshed lease so a crashed replica's slots free themselves.

use super::redis_conn::RedisLink;
use super::scripts;
use super::{Plan, Tuning};
use redis::Script;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The compiled scripts, shared by the limiter and the permits it hands out.
#[derive(Debug)]
struct Scripts {
    acquire: Script,
    leave: Script,
    refresh: Script,
    release: Script,
    settle: Script,
}

/// Admission through Redis. Every method returns `None` as soon as Redis fails; the caller
/// then falls back to the in-process limiter.
#[derive(Debug, Clone)]
pub(crate) struct RedisLimiter {
    link: Arc<RedisLink>,
    scripts: Arc<Scripts>,
    prefix: String,
    tuning: Tuning,
}

/// Redis keys of one limit scope.
#[derive(Debug, Clone)]
struct ScopeKeys {
    held: String,
    requests: String,
    tokens: String,
}

impl RedisLimiter {
    pub(crate) fn new(link: Arc<RedisLink>, prefix: String, tuning: Tuning) -> Self {
        let scripts = Scripts {
            acquire: Script::new(scripts::ACQUIRE),
            leave: Script::new(scripts::LEAVE),
            refresh: Script::new(scripts::REFRESH),
            release: Script::new(scripts::RELEASE),
            settle: Script::new(scripts::SETTLE),
        };
        Self {
            link,
            scripts: Arc::new(scripts),
            prefix,
            tuning,
        }
    }

    /// Waits in the queue of `plan` until admitted. `None` when Redis failed on the way (the
    /// caller's place in the queue is given up; it expires anyway).
    pub(crate) async fn acquire(&self, plan: &Plan) -> Option<RedisHold> {
        let queue_base = format!("{}q:{}", self.prefix, plan.queue);
        let keys: Vec<ScopeKeys> = plan
            .scopes
            .iter()
            .map(|scope| ScopeKeys {
                held: format!("{}l:{}:held", self.prefix, scope.name),
                requests: format!("{}l:{}:req", self.prefix, scope.name),
                tokens: format!("{}l:{}:tok", self.prefix, scope.name),
            })
            .collect();
        let window_ms = millis(self.tuning.window);
        let bucket_ms = (window_ms / 60).max(1);
        let idle_ms = millis(self.tuning.window.max(self.tuning.lease)) * 2 + 60_000;
        let model_spec = plan.model_scope.map_or_else(String::new, |i| {
            let (scope, k) = (&plan.scopes[i], &keys[i]);
            format!(
                "{}\n{}\n{}\n{}\n{}\n{}\n{}",
                k.held,
                k.requests,
                k.tokens,
                limit_arg(scope.max_concurrent.map(u64::from)),
                limit_arg(scope.requests.map(u64::from)),
                limit_arg(scope.tokens),
                plan.estimate
            )
        });
        let mut guard = TicketGuard {
            limiter: self.clone(),
            queue: format!("{queue_base}:queue"),
            alive: format!("{queue_base}:alive"),
            models: format!("{queue_base}:models"),
            ticket: 0,
        };
        loop {
            let mut call = self.scripts.acquire.prepare_invoke();
            call.key(format!("{queue_base}:seq"))
                .key(&guard.queue)
                .key(&guard.alive)
                .key(&guard.models);
            for scope in &keys {
                call.key(&scope.held)
                    .key(&scope.requests)
                    .key(&scope.tokens);
            }
            call.arg(guard.ticket)
                .arg(millis(self.tuning.alive))
                .arg(millis(self.tuning.lease))
                .arg(window_ms)
                .arg(bucket_ms)
                .arg(plan.estimate)
                .arg(&plan.holder)
                .arg(idle_ms)
                .arg(&model_spec);
            for scope in &plan.scopes {
                call.arg(limit_arg(scope.max_concurrent.map(u64::from)))
                    .arg(limit_arg(scope.requests.map(u64::from)))
                    .arg(limit_arg(scope.tokens));
            }
            let reply: (i64, u64, i64, u64) = self
                .link
                .run(|mut conn| async move { call.invoke_async(&mut conn).await })
                .await?;
            let (admitted, ticket, bucket, position) = reply;
            guard.ticket = ticket;
            if admitted == 1 {
                guard.ticket = 0;
                return Some(self.hold(plan, &keys, ticket, bucket));
            }
            // The head polls fast; the rest poll slower the further back they stand.
            let factor = u32::try_from(position.clamp(1, 16)).unwrap_or(16);
            tokio::time::sleep(self.tuning.poll * factor).await;
        }
    }

    fn hold(&self, plan: &Plan, keys: &[ScopeKeys], ticket: u64, bucket: i64) -> RedisHold {
        let held: Vec<String> = plan
            .scopes
            .iter()
            .zip(keys)
            .filter(|(scope, _)| scope.max_concurrent.is_some())
            .map(|(_, k)| k.held.clone())
            .collect();
        let tokens = plan
            .scopes
            .iter()
            .zip(keys)
            .filter(|(scope, _)| scope.tokens.is_some())
            .map(|(_, k)| k.tokens.clone())
            .collect();
        let holder = format!("{}#{ticket}", plan.holder);
        let refresher = (!held.is_empty()).then(|| {
            let limiter = self.clone();
            let (holder, held) = (holder.clone(), held.clone());
            tokio::spawn(async move {
                let every = limiter.tuning.lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    let mut call = limiter.scripts.refresh.prepare_invoke();
                    for key in &held {
                        call.key(key);
                    }
                    call.arg(&holder).arg(millis(limiter.tuning.lease));
                    let _ = limiter
                        .link
                        .run(|mut conn| async move { call.invoke_async::<()>(&mut conn).await })
                        .await;
                }
            })
        });
        RedisHold {
            limiter: self.clone(),
            holder,
            held,
            tokens,
            bucket,
            estimate: plan.estimate,
            refresher,
        }
    }
}

/// A slot and a charge taken through Redis; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct RedisHold {
    limiter: RedisLimiter,
    holder: String,
    held: Vec<String>,
    tokens: Vec<String>,
    bucket: i64,
    estimate: u64,
    refresher: Option<JoinHandle<()>>,
}

impl RedisHold {
    /// Replaces the estimated token charge by the actual count (best effort, in the background).
    pub(crate) fn settle(&self, actual: u64) {
        if self.tokens.is_empty() || actual == self.estimate {
            return;
        }
        let delta = i128::from(actual) - i128::from(self.estimate);
        let delta = i64::try_from(delta).unwrap_or(if delta > 0 { i64::MAX } else { i64::MIN });
        let limiter = self.limiter.clone();
        let (keys, bucket) = (self.tokens.clone(), self.bucket);
        spawn_detached(async move {
            let mut call = limiter.scripts.settle.prepare_invoke();
            for key in &keys {
                call.key(key);
            }
            call.arg(bucket).arg(delta);
            let _ = limiter
                .link
                .run(|mut conn| async move { call.invoke_async::<()>(&mut conn).await })
                .await;
        });
    }
}

impl Drop for RedisHold {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.take() {
            refresher.abort();
        }
        if self.held.is_empty() {
            return;
        }
        let limiter = self.limiter.clone();
        let (keys, holder) = (std::mem::take(&mut self.held), self.holder.clone());
        spawn_detached(async move {
            let mut call = limiter.scripts.release.prepare_invoke();
            for key in &keys {
                call.key(key);
            }
            call.arg(&holder);
            let _ = limiter
                .link
                .run(|mut conn| async move { call.invoke_async::<()>(&mut conn).await })
                .await;
        });
    }
}

/// Gives up a queue place when the waiting future is dropped before admission, so the
/// waiters behind do not wait for the liveness lease to lapse.
struct TicketGuard {
    limiter: RedisLimiter,
    queue: String,
    alive: String,
    models: String,
    ticket: u64,
}

impl Drop for TicketGuard {
    fn drop(&mut self) {
        if self.ticket == 0 {
            return;
        }
        let limiter = self.limiter.clone();
        let (queue, alive, models) = (self.queue.clone(), self.alive.clone(), self.models.clone());
        let ticket = self.ticket;
        spawn_detached(async move {
            let mut call = limiter.scripts.leave.prepare_invoke();
            call.key(&queue).key(&alive).key(&models).arg(ticket);
            let _ = limiter
                .link
                .run(|mut conn| async move { call.invoke_async::<()>(&mut conn).await })
                .await;
        });
    }
}

/// Runs cleanup work on the current runtime, if there is one (drops can happen outside).
fn spawn_detached(work: impl Future<Output = ()> + Send + 'static) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(work);
    }
}

fn limit_arg(limit: Option<u64>) -> i64 {
    limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
