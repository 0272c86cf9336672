//! Validation metrics: direction, comparison, the machine-readable metric line and the
//! cross-check of a reviewer's metric against the program's own output (ARCHITECTURE §4).
//!
//! The direction of a run is fixed once (task config, else the metric's name, else the
//! first review) and never flips. Values are finite `f64`s; integers are valid metrics.
//! Comparison never panics: NaN and infinities are rejected at construction.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The token that starts the machine-readable metric line a solution prints,
/// e.g. `AIDE_METRIC: 0.1234`. The last such line of the output wins.
pub const METRIC_LINE_PREFIX: &str = "AIDE_METRIC:";

/// Whether lower or higher metric values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Minimize,
    Maximize,
}

impl Direction {
    /// From a reviewer's `lower_is_better` flag.
    pub fn from_lower_is_better(lower_is_better: bool) -> Self {
        if lower_is_better {
            Self::Minimize
        } else {
            Self::Maximize
        }
    }

    pub fn lower_is_better(self) -> bool {
        self == Self::Minimize
    }

    /// Parses the spellings a task file may use: `minimize`/`min`/`lower`/`lower_is_better`
    /// and `maximize`/`max`/`higher`/`higher_is_better`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "minimize" | "min" | "lower" | "lower_is_better" | "descending" => Some(Self::Minimize),
            "maximize" | "max" | "higher" | "higher_is_better" | "ascending" => {
                Some(Self::Maximize)
            }
            _ => None,
        }
    }

    /// Infers the direction from a well-known metric name (`rmse` → minimize,
    /// `accuracy` → maximize); `None` when the name says nothing reliable.
    pub fn from_metric_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        const LOWER: &[&str] = &[
            "rmse",
            "mse",
            "mae",
            "rmsle",
            "msle",
            "mape",
            "smape",
            "logloss",
            "log_loss",
            "cross_entropy",
            "crossentropy",
            "error",
            "err",
            "loss",
            "wer",
            "cer",
            "brier",
            "medae",
            "mean_absolute_error",
            "mean_squared_error",
            "root_mean_squared_error",
        ];
        const HIGHER: &[&str] = &[
            "accuracy",
            "acc",
            "auc",
            "roc_auc",
            "auroc",
            "f1",
            "f1_score",
            "macro_f1",
            "micro_f1",
            "precision",
            "recall",
            "r2",
            "r_squared",
            "map",
            "map@k",
            "ndcg",
            "kappa",
            "quadratic_weighted_kappa",
            "qwk",
            "iou",
            "dice",
            "bleu",
            "rouge",
            "spearman",
            "pearson",
            "balanced_accuracy",
            "mcc",
            "average_precision",
        ];
        if LOWER.contains(&n.as_str()) {
            return Some(Self::Minimize);
        }
        if HIGHER.contains(&n.as_str()) {
            return Some(Self::Maximize);
        }
        // Compound names such as "rmse_log_price" or "val_accuracy".
        let parts: Vec<&str> = n.split('_').collect();
        let lower = parts.iter().any(|p| LOWER.contains(p));
        let higher = parts.iter().any(|p| HIGHER.contains(p));
        match (lower, higher) {
            (true, false) => Some(Self::Minimize),
            (false, true) => Some(Self::Maximize),
            _ => None,
        }
    }
}

impl Direction {
    /// `minimize` or `maximize`, as outputs and configs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minimize => "minimize",
            Self::Maximize => "maximize",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric as people read it: full precision, no trailing noise, and a `.0` on whole
/// numbers so a metric never reads as a count.
pub fn format_metric(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// A finite metric value. Construction rejects NaN and infinities so comparisons are total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct MetricValue(f64);

impl MetricValue {
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }

    /// How `self` ranks against `other` under `direction`: `Greater` means `self` is better.
    pub fn rank(self, other: Self, direction: Direction) -> Ordering {
        match direction {
            Direction::Maximize => self.0.total_cmp(&other.0),
            Direction::Minimize => other.0.total_cmp(&self.0),
        }
    }

    /// Strictly better (ties are not better, so the first node reached keeps a tie).
    pub fn is_better_than(self, other: Self, direction: Direction) -> bool {
        self.rank(other, direction) == Ordering::Greater
    }
}

impl TryFrom<f64> for MetricValue {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Self::new(value).ok_or_else(|| format!("metric value {value} is not finite"))
    }
}

impl From<MetricValue> for f64 {
    fn from(value: MetricValue) -> Self {
        value.0
    }
}

impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The value on the last `AIDE_METRIC: <number>` line of `output`, if any line parses.
/// Integer values (`AIDE_METRIC: 3`) are valid; a non-finite value is ignored.
pub fn parse_metric_line(output: &str) -> Option<MetricValue> {
    output.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix(METRIC_LINE_PREFIX)?;
        let token = rest.split_whitespace().next()?;
        token.parse::<f64>().ok().and_then(MetricValue::new)
    })
}

/// Where a node's accepted metric came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricSource {
    /// The program printed the machine-readable line; this is authoritative.
    MetricLine,
    /// The reviewer reported it and the number appears in the output.
    Review,
}

/// The outcome of reconciling the program's output with the reviewer's metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetricCheck {
    Accepted {
        value: MetricValue,
        source: MetricSource,
    },
    /// No usable metric: the reason is recorded on the node.
    Missing { reason: String },
}

impl MetricCheck {
    pub fn value(&self) -> Option<MetricValue> {
        match self {
            Self::Accepted { value, .. } => Some(*value),
            Self::Missing { .. } => None,
        }
    }
}

/// Applies the §4 rules: the metric line is authoritative when present; otherwise the
/// reviewer's metric is kept only if the same number appears in the output.
pub fn cross_check(output: &str, review_metric: Option<f64>) -> MetricCheck {
    if let Some(value) = parse_metric_line(output) {
        return MetricCheck::Accepted {
            value,
            source: MetricSource::MetricLine,
        };
    }
    let Some(reported) = review_metric else {
        return MetricCheck::Missing {
            reason: "no metric line in the output and none reported by the review".into(),
        };
    };
    let Some(value) = MetricValue::new(reported) else {
        return MetricCheck::Missing {
            reason: format!("the review reported a non-finite metric ({reported})"),
        };
    };
    if output_mentions(output, reported) {
        MetricCheck::Accepted {
            value,
            source: MetricSource::Review,
        }
    } else {
        MetricCheck::Missing {
            reason: format!(
                "the review reported metric {reported}, which does not appear in the output"
            ),
        }
    }
}

/// True when some number printed in `output` equals `value` to the precision it was printed
/// with (a review quoting `0.1234` matches a printed `0.12341987`, not `0.5`).
fn output_mentions(output: &str, value: f64) -> bool {
    numbers_in(output).any(|(printed, decimals)| {
        if printed == value {
            return true;
        }
        // The reviewer may round the printed number or quote it in full; accept either
        // when they agree to the coarser of the two precisions.
        let reported_decimals = decimals_of(value);
        let places = decimals.min(reported_decimals).min(12) as i32;
        let scale = 10f64.powi(places);
        (printed * scale).round() == (value * scale).round()
            && (printed - value).abs() <= 0.5 / scale + f64::EPSILON * value.abs().max(1.0)
    })
}

/// Decimal places of `value` in its shortest round-trip representation.
fn decimals_of(value: f64) -> usize {
    let text = format!("{value}");
    text.split_once('.').map_or(0, |(_, frac)| frac.len())
}

/// Every number-looking token in `text`, with its count of decimal places.
fn numbers_in(text: &str) -> impl Iterator<Item = (f64, usize)> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .filter_map(|token| {
            let token = token.trim_matches(|c: char| matches!(c, '.' | 'e' | 'E' | '+'));
            let value: f64 = token.parse().ok()?;
            let mantissa = token.split(['e', 'E']).next().unwrap_or(token);
            let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len());
            value.is_finite().then_some((value, decimals))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(v: f64) -> MetricValue {
        MetricValue::new(v).expect("finite")
    }

    #[test]
    fn direction_parsing_and_names() {
        assert_eq!(Direction::parse("Minimize"), Some(Direction::Minimize));
        assert_eq!(
            Direction::parse("lower-is-better"),
            Some(Direction::Minimize)
        );
        assert_eq!(Direction::parse("max"), Some(Direction::Maximize));
        assert_eq!(Direction::parse("sideways"), None);
        assert_eq!(
            Direction::from_metric_name("RMSE"),
            Some(Direction::Minimize)
        );
        assert_eq!(
            Direction::from_metric_name("rmse_log_price"),
            Some(Direction::Minimize)
        );
        assert_eq!(
            Direction::from_metric_name("val_accuracy"),
            Some(Direction::Maximize)
        );
        assert_eq!(
            Direction::from_metric_name("ROC-AUC"),
            Some(Direction::Maximize)
        );
        assert_eq!(Direction::from_metric_name("score"), None);
        assert_eq!(Direction::from_lower_is_better(true), Direction::Minimize);
    }

    #[test]
    fn comparison_follows_direction_and_ties_are_not_better() {
        assert!(m(0.1).is_better_than(m(0.2), Direction::Minimize));
        assert!(m(0.2).is_better_than(m(0.1), Direction::Maximize));
        assert!(!m(0.2).is_better_than(m(0.2), Direction::Maximize));
        assert!(!m(0.2).is_better_than(m(0.2), Direction::Minimize));
        assert_eq!(m(-0.0).rank(m(0.0), Direction::Minimize), Ordering::Greater);
    }

    #[test]
    fn non_finite_values_are_rejected_everywhere() {
        assert!(MetricValue::new(f64::NAN).is_none());
        assert!(MetricValue::new(f64::INFINITY).is_none());
        assert!(serde_json::from_str::<MetricValue>("1e999").is_err());
        assert_eq!(
            serde_json::from_str::<MetricValue>("3").expect("int").get(),
            3.0
        );
    }

    #[test]
    fn metric_line_last_one_wins_and_integers_count() {
        let out = "fold 1\nAIDE_METRIC: 0.5\nmore\n  AIDE_METRIC: 42  \n";
        assert_eq!(parse_metric_line(out), Some(m(42.0)));
        assert_eq!(
            parse_metric_line("AIDE_METRIC: 1.5e-3 rmse"),
            Some(m(0.0015))
        );
        assert_eq!(parse_metric_line("AIDE_METRIC: nan\n"), None);
        assert_eq!(
            parse_metric_line("AIDE_METRIC: nan\nAIDE_METRIC: 0.7"),
            Some(m(0.7))
        );
        assert_eq!(parse_metric_line("metric 0.3"), None);
    }

    #[test]
    fn cross_check_prefers_the_metric_line() {
        let check = cross_check("RMSE 0.2\nAIDE_METRIC: 0.19\n", Some(0.2));
        assert_eq!(
            check,
            MetricCheck::Accepted {
                value: m(0.19),
                source: MetricSource::MetricLine
            }
        );
    }

    #[test]
    fn cross_check_accepts_review_metric_present_in_output() {
        let check = cross_check("Validation RMSE: 0.13412987\n", Some(0.1341));
        assert_eq!(check.value(), Some(m(0.1341)));
        let check = cross_check("accuracy=0.87", Some(0.87));
        assert_eq!(
            check,
            MetricCheck::Accepted {
                value: m(0.87),
                source: MetricSource::Review
            }
        );
        let check = cross_check("correct: 12 of 13", Some(12.0));
        assert_eq!(check.value(), Some(m(12.0)));
    }

    #[test]
    fn cross_check_rejects_invented_or_missing_metrics() {
        assert!(matches!(
            cross_check("Validation RMSE: 0.134", Some(0.5)),
            MetricCheck::Missing { .. }
        ));
        assert!(matches!(
            cross_check("no numbers here", Some(0.9)),
            MetricCheck::Missing { .. }
        ));
        assert!(matches!(
            cross_check("rmse 0.1", None),
            MetricCheck::Missing { .. }
        ));
        assert!(matches!(
            cross_check("rmse nan", Some(f64::NAN)),
            MetricCheck::Missing { .. }
        ));
    }
}
