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
