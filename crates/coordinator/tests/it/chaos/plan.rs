//! The faults of a battery, on a schedule drawn from a seed: the same seed gives the same
//! faults at the same moments (which runner or replica, and when).

use std::time::Duration;

/// One thing done to the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    KillRunner(usize),
    RestartRunner(usize),
    KillCoordinator(usize),
    RestartCoordinator(usize),
    StopRedis,
    StartRedis,
    RestartPostgres,
}

impl Fault {
    /// A fault proper (the restarts only undo one).
    pub fn is_injury(self) -> bool {
        matches!(
            self,
            Self::KillRunner(_)
                | Self::KillCoordinator(_)
                | Self::StopRedis
                | Self::RestartPostgres
        )
    }
}

/// Faults at moments after the workload starts, in order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub schedule: Vec<(Duration, Fault)>,
}

/// How many runners and replicas the plan may pick from.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub runners: usize,
    pub coordinators: usize,
}

impl Plan {
    /// No fault: the reference the wall time is measured against.
    pub fn none() -> Self {
        Self::default()
    }

    /// The full battery: a runner killed every 10 s and restarted 5 s later, for `span`;
    /// once each, a replica killed (restarted 5 s later), Redis stopped for 30 s and
    /// PostgreSQL restarted, at moments drawn from `seed` within the first minute and a half.
    pub fn full(seed: u64, shape: Shape, span: Duration) -> Self {
        let mut draw = SplitMix(seed);
        let mut schedule = Vec::new();
        let mut at = Duration::from_secs(10);
        while at < span {
            let runner = draw.below(shape.runners);
            schedule.push((at, Fault::KillRunner(runner)));
            schedule.push((at + Duration::from_secs(5), Fault::RestartRunner(runner)));
            at += Duration::from_secs(10);
        }
        let replica = draw.below(shape.coordinators);
        let killed = secs(draw.between(15, 45));
        schedule.push((killed, Fault::KillCoordinator(replica)));
        schedule.push((killed + secs(5), Fault::RestartCoordinator(replica)));
        let stopped = secs(draw.between(20, 60));
        schedule.push((stopped, Fault::StopRedis));
        schedule.push((stopped + secs(30), Fault::StartRedis));
        schedule.push((secs(draw.between(30, 90)), Fault::RestartPostgres));
        Self::sorted(schedule)
    }

    /// One fault of each kind early on (for CI): a runner killed (back 5 s later), a
    /// replica killed (back 5 s later), Redis stopped for 10 s, PostgreSQL restarted.
    pub fn one_of_each(seed: u64, shape: Shape) -> Self {
        let mut draw = SplitMix(seed);
        let runner = draw.below(shape.runners);
        let replica = draw.below(shape.coordinators);
        let schedule = vec![
            (secs(3), Fault::KillRunner(runner)),
            (secs(8), Fault::RestartRunner(runner)),
            (secs(6), Fault::KillCoordinator(replica)),
            (secs(11), Fault::RestartCoordinator(replica)),
            (secs(10), Fault::StopRedis),
            (secs(20), Fault::StartRedis),
            (secs(15), Fault::RestartPostgres),
        ];
        Self::sorted(schedule)
    }

    fn sorted(mut schedule: Vec<(Duration, Fault)>) -> Self {
        schedule.sort_by_key(|(at, _)| *at);
        Self { schedule }
    }

    /// The faults proper of the plan.
    pub fn injuries(&self) -> usize {
        self.schedule.iter().filter(|(_, f)| f.is_injury()).count()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A small seeded generator (SplitMix64): enough to draw victims and moments.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A number in `low..high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_schedule() {
        let shape = Shape {
            runners: 3,
            coordinators: 2,
        };
        let span = Duration::from_secs(120);
        let a = Plan::full(7, shape, span);
        assert_eq!(a.schedule, Plan::full(7, shape, span).schedule);
        assert_ne!(a.schedule, Plan::full(8, shape, span).schedule);
        assert_eq!(
            a.injuries(),
            11 + 3,
            "a runner every 10 s from 10 s, and one of each"
        );
    }
}
