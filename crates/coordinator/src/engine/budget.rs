//! Run budgets (steps, wall-clock time, cost): which one is exhausted first, and the reason
//! recorded when it ends the run.

use std::time::{Duration, Instant};

use aide_core::RunSettings;

/// The limits of one run, measured from the run's start.
#[derive(Debug, Clone)]
pub struct Budget {
    steps: u32,
    max_time: Option<Duration>,
    max_cost_usd: Option<f64>,
    /// When the run started, on this process's clock (earlier than the engine's start when
    /// the run is resumed: the time spent by previous owners counts).
    started: Instant,
}

/// Why a budget ended the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Exhausted {
    Steps(u32),
    Time { elapsed: Duration, limit: Duration },
    Cost { spent: f64, limit: f64 },
}

impl Exhausted {
    /// The stop reason recorded on the run.
    pub fn reason(&self) -> String {
        match self {
            Self::Steps(n) => format!("steps budget reached ({n} nodes)"),
            Self::Time { elapsed, limit } => format!(
                "time budget reached ({}s of {}s)",
                elapsed.as_secs(),
                limit.as_secs()
            ),
            Self::Cost { spent, limit } => {
                format!("cost budget reached (${spent:.2} of ${limit:.2})")
            }
        }
    }
}

impl Budget {
    /// The budgets of `settings`, for a run that has already been going for `prior`.
    pub fn new(settings: &RunSettings, prior: Duration) -> Self {
        let now = Instant::now();
        Self {
            steps: settings.steps,
            max_time: settings.max_run_secs.map(Duration::from_secs),
            max_cost_usd: settings.max_cost_usd,
            started: now.checked_sub(prior).unwrap_or(now),
        }
    }

    /// Takes in budgets a person changed while the run goes on: steps and the time limit
    /// of `settings`, still counted from the run's start.
    pub fn retarget(&mut self, settings: &RunSettings) {
        self.steps = settings.steps;
        self.max_time = settings.max_run_secs.map(Duration::from_secs);
    }

    pub fn steps(&self) -> u32 {
        self.steps
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Time left before the time budget ends the run; `None` without a time budget.
    pub fn time_left(&self) -> Option<Duration> {
        self.max_time.map(|m| m.saturating_sub(self.elapsed()))
    }

    /// The time budget, if exhausted.
    pub fn time(&self) -> Option<Exhausted> {
        let limit = self.max_time?;
        let elapsed = self.elapsed();
        (elapsed >= limit).then_some(Exhausted::Time { elapsed, limit })
    }

    /// The cost budget, if `spent` exhausts it.
    pub fn cost(&self, spent: f64) -> Option<Exhausted> {
        let limit = self.max_cost_usd?;
        (spent >= limit).then_some(Exhausted::Cost { spent, limit })
    }

    /// Whether the run has all its nodes.
    pub fn steps_done(&self, nodes: usize) -> bool {
        nodes >= self.steps as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_budget_and_amounts() {
        let settings = RunSettings {
            steps: 3,
            max_cost_usd: Some(1.0),
            max_run_secs: Some(10),
            ..RunSettings::default()
        };
        let fresh = Budget::new(&settings, Duration::ZERO);
        assert_eq!(fresh.time(), None);
        assert_eq!(fresh.cost(0.99), None);
        assert_eq!(
            fresh.cost(1.02).expect("over").reason(),
            "cost budget reached ($1.02 of $1.00)"
        );
        assert!(!fresh.steps_done(2) && fresh.steps_done(3));
        assert_eq!(
            Exhausted::Steps(3).reason(),
            "steps budget reached (3 nodes)"
        );
        let mut more = fresh.clone();
        more.retarget(&RunSettings {
            steps: 5,
            max_run_secs: Some(3600),
            ..settings.clone()
        });
        assert!(!more.steps_done(3) && more.steps_done(5));
        assert!(more.time_left().expect("timed") > Duration::from_secs(3000));
        let resumed = Budget::new(&settings, Duration::from_secs(11));
        assert!(
            resumed
                .time()
                .expect("over")
                .reason()
                .starts_with("time budget reached")
        );
    }
}
