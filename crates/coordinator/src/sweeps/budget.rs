//! A sweep's budget: its total model spending and its wall clock (from its creation).

use aide_store::SweepRecord;
use chrono::{DateTime, Utc};

/// Why `sweep` must stop, having spent `cost_usd` by `now`; `None` while within budget.
pub fn spent(sweep: &SweepRecord, cost_usd: f64, now: DateTime<Utc>) -> Option<String> {
    if let Some(limit) = sweep.budget.cost_usd
        && cost_usd >= limit
    {
        return Some(format!(
            "cost budget of ${limit:.2} reached (${cost_usd:.2} spent)"
        ));
    }
    let limit = sweep.budget.wall_clock_secs?;
    let elapsed = (now - sweep.created_at).num_seconds();
    (elapsed >= 0 && elapsed.unsigned_abs() >= limit)
        .then(|| format!("wall-clock budget of {limit} s reached"))
}

#[cfg(test)]
mod tests {
    use aide_core::sweep::SweepDefinition;
    use aide_core::sweep::definition::SweepBudget;
    use aide_store::{CellCounts, SweepRecord};
    use chrono::{Duration, Utc};

    use super::spent;

    fn sweep(cost_usd: Option<f64>, wall_clock_secs: Option<u64>) -> SweepRecord {
        let now = Utc::now();
        SweepRecord {
            id: aide_core::sweep::SweepId::new(),
            project: aide_core::access::ProjectName::default_project(),
            name: "s".into(),
            definition: SweepDefinition {
                tasks: Vec::new(),
                arms: Vec::new(),
                seeds: Vec::new(),
            },
            status: aide_core::sweep::SweepStatus::Running,
            stop_reason: None,
            budget: SweepBudget {
                cost_usd,
                wall_clock_secs,
                cells_at_once: Some(1),
            },
            cells: CellCounts::default(),
            created_at: now,
            updated_at: now,
            finished_at: None,
        }
    }

    #[test]
    fn a_budget_is_spent_at_its_cost_or_its_wall_clock_and_not_before() {
        let now = Utc::now();
        assert_eq!(spent(&sweep(None, None), 1e9, now), None);
        assert_eq!(spent(&sweep(Some(2.0), None), 1.99, now), None);
        let reason = spent(&sweep(Some(2.0), None), 2.0, now).expect("spent");
        assert!(
            reason.contains("$2.00") && reason.contains("cost"),
            "{reason}"
        );
        let clock = sweep(None, Some(60));
        assert_eq!(spent(&clock, 0.0, now + Duration::seconds(59)), None);
        let reason = spent(&clock, 0.0, now + Duration::seconds(61)).expect("spent");
        assert!(reason.contains("wall-clock budget of 60 s"), "{reason}");
    }
}
