//! The in-process rate limiter used while Redis is unavailable (or not configured): the same
//! FIFO queue per provider, the same passing rule and the same limit scopes as the shared
//! limiter, held in one mutex and woken by a `Notify`.

use super::{Plan, Scope, Tuning};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Admission inside this process only.
#[derive(Debug)]
pub(crate) struct LocalLimiter {
    state: Mutex<State>,
    notify: Notify,
    tuning: Tuning,
}

#[derive(Debug, Default)]
struct State {
    next_ticket: u64,
    /// Waiting tickets per queue, in arrival order, with the model scope each must fit.
    queues: HashMap<String, BTreeMap<u64, Option<(Scope, u64)>>>,
    scopes: HashMap<String, ScopeUse>,
}

/// What one limit scope has in use: held slots and the admissions of the current window.
#[derive(Debug, Default)]
struct ScopeUse {
    held: u32,
    requests: VecDeque<Instant>,
    /// (admitted at, ticket, tokens charged)
    tokens: VecDeque<(Instant, u64, u64)>,
}

impl LocalLimiter {
    pub(crate) fn new(tuning: Tuning) -> Self {
        Self {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            tuning,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits in the queue of `plan` until at its head with room in every scope.
    pub(crate) async fn acquire(self: &Arc<Self>, plan: &Plan) -> LocalHold {
        let ticket = {
            let mut state = self.lock();
            state.next_ticket += 1;
            let ticket = state.next_ticket;
            let model = plan
                .model_scope
                .map(|i| (plan.scopes[i].clone(), plan.estimate));
            state
                .queues
                .entry(plan.queue.clone())
                .or_default()
                .insert(ticket, model);
            ticket
        };
        let mut guard = LocalTicket {
            limiter: Arc::clone(self),
            queue: plan.queue.clone(),
            ticket: Some(ticket),
        };
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(hold) = self.try_admit(plan, ticket) {
                guard.ticket = None;
                return hold;
            }
            // Woken when a slot frees or the head moves; the timeout covers window expiry.
            let _ = tokio::time::timeout(self.tuning.poll, notified).await;
        }
    }

    fn try_admit(self: &Arc<Self>, plan: &Plan, ticket: u64) -> Option<LocalHold> {
        let mut state = self.lock();
        let ahead: Vec<Option<(Scope, u64)>> = state
            .queues
            .get(&plan.queue)?
            .range(..ticket)
            .map(|(_, model)| model.clone())
            .collect();
        let now = Instant::now();
        let window_start = now.checked_sub(self.tuning.window);
        let mine = plan.model_scope.map(|i| plan.scopes[i].name.as_str());
        // Pass a waiter ahead only while its own model's limits (not shared with us) block it.
        for model in ahead {
            let (scope, estimate) = model?;
            if Some(scope.name.as_str()) == mine {
                return None;
            }
            let used = state.scopes.entry(scope.name.clone()).or_default();
            if fits(used, &scope, estimate, window_start) {
                return None;
            }
        }
        for scope in &plan.scopes {
            let used = state.scopes.entry(scope.name.clone()).or_default();
            if !fits(used, scope, plan.estimate, window_start) {
                return None;
            }
        }
        let mut held = Vec::new();
        let mut charged = Vec::new();
        for scope in &plan.scopes {
            let used = state.scopes.entry(scope.name.clone()).or_default();
            if scope.max_concurrent.is_some() {
                used.held += 1;
                held.push(scope.name.clone());
            }
            if scope.requests.is_some() {
                used.requests.push_back(now);
            }
            if scope.tokens.is_some() {
                used.tokens.push_back((now, ticket, plan.estimate));
                charged.push(scope.name.clone());
            }
        }
        remove_ticket(&mut state, &plan.queue, ticket);
        drop(state);
        self.notify.notify_waiters();
        Some(LocalHold {
            limiter: Arc::clone(self),
            ticket,
            held,
            charged,
        })
    }
}

/// Whether one more call charged `estimate` tokens fits `scope` now; forgets admissions
/// older than the window on the way.
fn fits(used: &mut ScopeUse, scope: &Scope, estimate: u64, window_start: Option<Instant>) -> bool {
    if let Some(start) = window_start {
        while used.requests.front().is_some_and(|t| *t <= start) {
            used.requests.pop_front();
        }
        while used.tokens.front().is_some_and(|(t, _, _)| *t <= start) {
            used.tokens.pop_front();
        }
    }
    if scope.max_concurrent.is_some_and(|cap| used.held >= cap) {
        return false;
    }
    if scope
        .requests
        .is_some_and(|rpm| used.requests.len() as u64 >= u64::from(rpm))
    {
        return false;
    }
    if let Some(tpm) = scope.tokens {
        let total: u64 = used.tokens.iter().map(|(_, _, n)| n).sum();
        if total > 0 && total.saturating_add(estimate) > tpm {
            return false;
        }
    }
    true
}

fn remove_ticket(state: &mut State, queue: &str, ticket: u64) {
    if let Some(waiting) = state.queues.get_mut(queue) {
        waiting.remove(&ticket);
        if waiting.is_empty() {
            state.queues.remove(queue);
        }
    }
}

/// Leaves the queue when the waiting future is dropped before admission.
struct LocalTicket {
    limiter: Arc<LocalLimiter>,
    queue: String,
    ticket: Option<u64>,
}

impl Drop for LocalTicket {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            remove_ticket(&mut self.limiter.lock(), &self.queue, ticket);
            self.limiter.notify.notify_waiters();
        }
    }
}

/// A slot and a charge taken in this process; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct LocalHold {
    limiter: Arc<LocalLimiter>,
    ticket: u64,
    held: Vec<String>,
    charged: Vec<String>,
}

impl LocalHold {
    /// Replaces the estimated token charge by the actual count.
    pub(crate) fn settle(&self, actual: u64) {
        let mut state = self.limiter.lock();
        for name in &self.charged {
            if let Some(used) = state.scopes.get_mut(name) {
                for entry in used.tokens.iter_mut().filter(|e| e.1 == self.ticket) {
                    entry.2 = actual;
                }
            }
        }
    }
}

impl Drop for LocalHold {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        for name in &self.held {
            if let Some(used) = state.scopes.get_mut(name) {
                used.held = used.held.saturating_sub(1);
            }
        }
        drop(state);
        self.limiter.notify.notify_waiters();
    }
}
