//! MLE-bench's medal rule (Kaggle's progression system as mle-bench applies it): the
//! thresholds are the scores found at ranks of the competition's leaderboard that depend on
//! its number of teams, and a score takes the best medal whose threshold it reaches.
//!
//! | teams | gold | silver | bronze |
//! |---|---|---|---|
//! | 1–99 | top 10 % | top 20 % | top 40 % |
//! | 100–249 | top 10 | top 20 % | top 40 % |
//! | 250–999 | top 10 + 0.2 % | top 50 | top 100 |
//! | 1,000 and more | top 10 + 0.2 % | top 5 % | top 10 % |
//!
//! Ranks are whole numbers (fractions dropped, at least 1); "above median" is strictly
//! better than the leaderboard's median score.

use super::GradeError;

/// The medals, best first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Medal {
    Gold,
    Silver,
    Bronze,
}

/// The scores a submission must reach, from a leaderboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub gold: f64,
    pub silver: f64,
    pub bronze: f64,
    pub median: f64,
    /// Whether lower scores are better (the leaderboard's first score is below its last).
    pub lower_is_better: bool,
}

/// Where a score lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placing {
    pub medal: Option<Medal>,
    pub above_median: bool,
}

impl Thresholds {
    /// The thresholds of a leaderboard given as its scores in leaderboard order (best first).
    pub fn of_leaderboard(scores: &[f64]) -> Result<Self, GradeError> {
        if scores.is_empty() {
            return Err(GradeError::Invalid("the leaderboard has no teams".into()));
        }
        if let Some(bad) = scores.iter().find(|s| !s.is_finite()) {
            return Err(GradeError::Invalid(format!(
                "the leaderboard holds a score that is not a number: {bad}"
            )));
        }
        let teams = scores.len();
        let at = |rank: usize| scores[rank.clamp(1, teams) - 1];
        let share = |fraction: f64| ((teams as f64 * fraction) as usize).max(1);
        let (gold, silver, bronze) = match teams {
            1..=99 => (at(share(0.1)), at(share(0.2)), at(share(0.4))),
            100..=249 => (at(10), at(share(0.2)), at(share(0.4))),
            250..=999 => (at(10 + (teams as f64 * 0.002) as usize), at(50), at(100)),
            _ => (
                at(10 + (teams as f64 * 0.002) as usize),
                at(share(0.05)),
                at(share(0.1)),
            ),
        };
        Ok(Self {
            gold,
            silver,
            bronze,
            median: median(scores),
            lower_is_better: scores[0] < scores[teams - 1],
        })
    }

    /// The medal `score` earns and whether it beats the median.
    pub fn place(&self, score: f64) -> Placing {
        let reaches = |threshold: f64| match self.lower_is_better {
            true => score <= threshold,
            false => score >= threshold,
        };
        let medal = [
            (Medal::Gold, self.gold),
            (Medal::Silver, self.silver),
            (Medal::Bronze, self.bronze),
        ]
        .into_iter()
        .find(|(_, threshold)| reaches(*threshold))
        .map(|(medal, _)| medal);
        let above_median = match self.lower_is_better {
            true => score < self.median,
            false => score > self.median,
        };
        Placing {
            medal,
            above_median,
        }
    }
}

/// The median (the mean of the two middle scores for an even count).
fn median(scores: &[f64]) -> f64 {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() % 2 {
        1 => sorted[middle],
        _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_leaderboard_gives_medals_by_share_and_direction() {
        // 10 teams, higher is better: gold at rank 1, silver at 2, bronze at 4.
        let scores: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        let t = Thresholds::of_leaderboard(&scores).expect("thresholds");
        assert!(!t.lower_is_better);
        assert_eq!(
            (t.gold, t.silver, t.bronze, t.median),
            (10.0, 9.0, 7.0, 5.5)
        );
        assert_eq!(t.place(9.5).medal, Some(Medal::Silver));
        assert_eq!(t.place(7.0).medal, Some(Medal::Bronze));
        assert_eq!(t.place(6.0).medal, None);
        assert!(t.place(6.0).above_median && !t.place(5.5).above_median);
        assert!(Thresholds::of_leaderboard(&[]).is_err());
        assert!(Thresholds::of_leaderboard(&[1.0, f64::NAN]).is_err());
    }
}
