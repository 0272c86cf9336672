//! The queue depth of one replica: node executions waiting for a runner slot. An execution
//! that gave up waiting (the engine backs off, then asks again) still counts for
//! [`STILL_WAITING`], so that the gauge an autoscaler reads does not blink to zero between
//! two tries; it leaves the queue once a runner is lent to it, or once that time passes
//! without a new try (its run ended or moved).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an execution that gave up waiting still counts: longer than the engine's
/// longest backoff (30 s) plus one slot wait.
pub const STILL_WAITING: Duration = Duration::from_secs(60);

/// The executions waiting for a slot, by the node (or grading id) they run.
#[derive(Debug, Default)]
pub struct SlotQueue {
    waiting: Mutex<HashMap<uuid::Uuid, Waiting>>,
}

#[derive(Debug, Clone, Copy)]
enum Waiting {
    /// Asking the pool now.
    Now,
    /// Gave up at this instant; the engine will ask again.
    Since(Instant),
}

/// One execution in the queue: [`Waiter::served`] takes it out; dropped unserved (no slot
/// in time, or the caller went away) it counts as having given up, for now.
#[derive(Debug)]
pub struct Waiter<'a> {
    queue: &'a SlotQueue,
    id: uuid::Uuid,
    served: bool,
}

impl Waiter<'_> {
    /// The execution got a runner.
    pub fn served(mut self) {
        self.served = true;
        self.queue.lock().remove(&self.id);
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if !self.served {
            self.queue
                .lock()
                .insert(self.id, Waiting::Since(Instant::now()));
        }
    }
}

impl SlotQueue {
    /// `id` starts (or resumes) waiting for a slot.
    pub fn wait(&self, id: uuid::Uuid) -> Waiter<'_> {
        self.lock().insert(id, Waiting::Now);
        Waiter {
            queue: self,
            id,
            served: false,
        }
    }

    /// How many executions are waiting now; forgets those past [`STILL_WAITING`].
    pub fn depth(&self) -> usize {
        let mut waiting = self.lock();
        waiting.retain(|_, w| match w {
            Waiting::Now => true,
            Waiting::Since(at) => at.elapsed() < STILL_WAITING,
        });
        waiting.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<uuid::Uuid, Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::SlotQueue;

    #[test]
    fn an_execution_counts_until_it_is_served() {
        let queue = SlotQueue::default();
        let (a, b) = (aide_core::NodeId::new().0, aide_core::NodeId::new().0);
        let first_try = queue.wait(a);
        let other = queue.wait(b);
        assert_eq!(queue.depth(), 2);
        drop(first_try);
        assert_eq!(queue.depth(), 2, "between two tries it still waits");
        queue.wait(a).served();
        other.served();
        assert_eq!(queue.depth(), 0);
    }
}
