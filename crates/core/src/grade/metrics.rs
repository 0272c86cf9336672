//! The built-in metrics, as scikit-learn computes them (MAP@k as Kaggle does). Each works on
//! answers and predictions already aligned row by row:
//!
//! - regression: rmse, rmsle, mae;
//! - labels: accuracy, F1 (binary, positive label `1`) and macro F1, quadratic weighted
//!   kappa (integer ratings);
//! - probabilities: ROC AUC (binary), log loss (binary from the positive class's
//!   probability, or multi-class from one probability per class);
//! - rankings: MAP@k (each row's answer against its space-separated predictions).

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;

use super::{GradeError, same_length};

/// A metric by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Rmse,
    Rmsle,
    Mae,
    Accuracy,
    Auc,
    LogLoss,
    F1,
    MacroF1,
    QuadraticWeightedKappa,
    MapAtK(usize),
}

/// The names [`Metric::from_str`] accepts (MAP@k as `map@<k>`).
pub const NAMES: &[&str] = &[
    "rmse", "rmsle", "mae", "accuracy", "auc", "log_loss", "f1", "macro_f1", "qwk", "map@k",
];

impl FromStr for Metric {
    type Err = GradeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match name.as_str() {
            "rmse" => Self::Rmse,
            "rmsle" => Self::Rmsle,
            "mae" => Self::Mae,
            "accuracy" => Self::Accuracy,
            "auc" | "roc_auc" => Self::Auc,
            "log_loss" | "logloss" => Self::LogLoss,
            "f1" => Self::F1,
            "macro_f1" | "f1_macro" => Self::MacroF1,
            "qwk" | "quadratic_weighted_kappa" => Self::QuadraticWeightedKappa,
            other => match other.strip_prefix("map@").map(str::parse::<usize>) {
                Some(Ok(k)) if k > 0 => Self::MapAtK(k),
                _ => return Err(GradeError::UnknownMetric(s.trim().to_owned())),
            },
        })
    }
}

impl Metric {
    /// Whether lower values are better.
    pub fn lower_is_better(self) -> bool {
        matches!(self, Self::Rmse | Self::Rmsle | Self::Mae | Self::LogLoss)
    }
}

/// Root mean squared error.
pub fn rmse(truth: &[f64], predicted: &[f64]) -> Result<f64, GradeError> {
    Ok(mean_of(truth, predicted, |t, p| (t - p).powi(2))?.sqrt())
}

/// Root mean squared logarithmic error; every value must be above -1.
pub fn rmsle(truth: &[f64], predicted: &[f64]) -> Result<f64, GradeError> {
    if truth.iter().chain(predicted).any(|v| *v <= -1.0) {
        return Err(GradeError::Invalid(
            "rmsle takes values above -1 only".into(),
        ));
    }
    Ok(mean_of(truth, predicted, |t, p| (t.ln_1p() - p.ln_1p()).powi(2))?.sqrt())
}

/// Mean absolute error.
pub fn mae(truth: &[f64], predicted: &[f64]) -> Result<f64, GradeError> {
    mean_of(truth, predicted, |t, p| (t - p).abs())
}

fn mean_of(
    truth: &[f64],
    predicted: &[f64],
    term: impl Fn(f64, f64) -> f64,
) -> Result<f64, GradeError> {
    same_length(truth.len(), predicted.len())?;
    let sum: f64 = truth.iter().zip(predicted).map(|(t, p)| term(*t, *p)).sum();
    Ok(sum / truth.len() as f64)
}

/// The share of rows whose label is right (`1` and `1.0` are the same label).
pub fn accuracy(truth: &[&str], predicted: &[&str]) -> Result<f64, GradeError> {
    same_length(truth.len(), predicted.len())?;
    let right = truth
        .iter()
        .zip(predicted)
        .filter(|(t, p)| same_label(t, p))
        .count();
    Ok(right as f64 / truth.len() as f64)
}

/// Labels match as numbers when both are numbers, else as trimmed text.
pub fn same_label(a: &str, b: &str) -> bool {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// Area under the ROC curve of `scores` for the binary `truth`: the probability that a
/// positive row scores above a negative one, ties counting half (average ranks).
pub fn roc_auc(truth: &[bool], scores: &[f64]) -> Result<f64, GradeError> {
    same_length(truth.len(), scores.len())?;
    let positives = truth.iter().filter(|t| **t).count();
    let negatives = truth.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(GradeError::Invalid(
            "ROC AUC needs both classes among the answers".into(),
        ));
    }
    let ranks = average_ranks(scores);
    let positive_rank_sum: f64 = truth
        .iter()
        .zip(&ranks)
        .filter(|(t, _)| **t)
        .map(|(_, r)| r)
        .sum();
    let (p, n) = (positives as f64, negatives as f64);
    Ok((positive_rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// 1-based ranks of `values`, ties sharing their average rank.
fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && values[order[end + 1]] == values[order[start]] {
            end += 1;
        }
        let rank = (start + end) as f64 / 2.0 + 1.0;
        for &i in &order[start..=end] {
            ranks[i] = rank;
        }
        start = end + 1;
    }
    ranks
}

/// Cross-entropy of the predicted class probabilities: each row of `probabilities` holds
/// one probability per class (rows are renormalised to sum to 1, values clipped away from 0
/// and 1 by the machine epsilon), `truth` the index of the right class.
pub fn log_loss(truth: &[usize], probabilities: &[Vec<f64>]) -> Result<f64, GradeError> {
    same_length(truth.len(), probabilities.len())?;
    let mut total = 0.0;
    for (class, row) in truth.iter().zip(probabilities) {
        if *class >= row.len() {
            return Err(GradeError::Invalid(format!(
                "class {class} has no probability in a row of {} classes",
                row.len()
            )));
        }
        if row.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return Err(GradeError::Invalid(
                "a probability is negative or not a number".into(),
            ));
        }
        let clipped: Vec<f64> = row
            .iter()
            .map(|p| p.clamp(f64::EPSILON, 1.0 - f64::EPSILON))
            .collect();
        let sum: f64 = clipped.iter().sum();
        total -= (clipped[*class] / sum).ln();
    }
    Ok(total / truth.len() as f64)
}

/// Log loss of binary answers from the positive class's probability.
pub fn binary_log_loss(truth: &[bool], positive: &[f64]) -> Result<f64, GradeError> {
    let classes: Vec<usize> = truth.iter().map(|t| usize::from(*t)).collect();
    let rows: Vec<Vec<f64>> = positive.iter().map(|p| vec![1.0 - p, *p]).collect();
    log_loss(&classes, &rows)
}

/// F1 of the label `positive`: 2·precision·recall / (precision + recall), 0 when undefined.
pub fn f1(truth: &[&str], predicted: &[&str], positive: &str) -> Result<f64, GradeError> {
    same_length(truth.len(), predicted.len())?;
    Ok(f1_of(truth, predicted, positive))
}

fn f1_of(truth: &[&str], predicted: &[&str], label: &str) -> f64 {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (t, p) in truth.iter().zip(predicted) {
        match (same_label(t, label), same_label(p, label)) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    match 2 * tp + fp + fn_ {
        0 => 0.0,
        denominator => 2.0 * tp as f64 / denominator as f64,
    }
}

/// The unweighted mean of the F1 of every label found in the answers or the predictions.
pub fn macro_f1(truth: &[&str], predicted: &[&str]) -> Result<f64, GradeError> {
    same_length(truth.len(), predicted.len())?;
    let labels = distinct_labels(truth.iter().chain(predicted));
    let sum: f64 = labels.iter().map(|l| f1_of(truth, predicted, l)).sum();
    Ok(sum / labels.len() as f64)
}

/// Distinct labels, numbers that are equal counting once (`1` and `1.0`).
fn distinct_labels<'a>(labels: impl Iterator<Item = &'a &'a str>) -> Vec<&'a str> {
    let mut distinct: Vec<&str> = Vec::new();
    for label in labels {
        if !distinct.iter().any(|d| same_label(d, label)) {
            distinct.push(label);
        }
    }
    distinct
}

/// Cohen's kappa with quadratic weights over integer ratings: 1 − Σ w·O / Σ w·E, with
/// w = (i − j)² over the ratings seen, O the observed and E the expected confusion.
pub fn quadratic_weighted_kappa(truth: &[i64], predicted: &[i64]) -> Result<f64, GradeError> {
    same_length(truth.len(), predicted.len())?;
    let ratings: Vec<i64> = truth
        .iter()
        .chain(predicted)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: HashMap<i64, usize> = ratings.iter().enumerate().map(|(i, r)| (*r, i)).collect();
    let k = ratings.len();
    let mut observed = vec![vec![0.0f64; k]; k];
    for (t, p) in truth.iter().zip(predicted) {
        observed[index[t]][index[p]] += 1.0;
    }
    let n = truth.len() as f64;
    let row_sums: Vec<f64> = observed.iter().map(|r| r.iter().sum()).collect();
    let col_sums: Vec<f64> = (0..k)
        .map(|j| observed.iter().map(|r| r[j]).sum())
        .collect();
    let (mut weighted_observed, mut weighted_expected) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            let weight = (i as f64 - j as f64).powi(2);
            weighted_observed += weight * observed[i][j];
            weighted_expected += weight * row_sums[i] * col_sums[j] / n;
        }
    }
    if weighted_expected == 0.0 {
        return Err(GradeError::Invalid(
            "kappa is undefined when every rating is the same".into(),
        ));
    }
    Ok(1.0 - weighted_observed / weighted_expected)
}

/// Mean average precision at `k`: for each row, the precision at each of the first `k`
/// predictions that is a new right answer, summed and divided by min(answers, k).
pub fn map_at_k(truth: &[Vec<&str>], predicted: &[Vec<&str>], k: usize) -> Result<f64, GradeError> {
    same_length(truth.len(), predicted.len())?;
    if k == 0 {
        return Err(GradeError::Invalid("MAP@k needs k ≥ 1".into()));
    }
    let mut total = 0.0;
    for (answers, guesses) in truth.iter().zip(predicted) {
        if answers.is_empty() {
            continue;
        }
        let mut hits = 0.0;
        let mut score = 0.0;
        for (i, guess) in guesses.iter().take(k).enumerate() {
            if answers.contains(guess) && !guesses[..i].contains(guess) {
                hits += 1.0;
                score += hits / (i as f64 + 1.0);
            }
        }
        total += score / answers.len().min(k) as f64;
    }
    Ok(total / truth.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_parse_and_unknown_ones_are_named() {
        assert_eq!("RMSE".parse::<Metric>(), Ok(Metric::Rmse));
        assert_eq!("map@5".parse::<Metric>(), Ok(Metric::MapAtK(5)));
        assert_eq!("roc-auc".parse::<Metric>(), Ok(Metric::Auc));
        let err = "map@0".parse::<Metric>().expect_err("k = 0").to_string();
        assert!(err.contains("map@0") && err.contains("rmsle"), "{err}");
        assert!(Metric::LogLoss.lower_is_better() && !Metric::Auc.lower_is_better());
    }

    #[test]
    fn small_cases_worked_by_hand() {
        assert!((rmse(&[10.0, 20.0], &[6.0, 23.0]).unwrap() - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(mae(&[1.0], &[3.0]).unwrap(), 2.0);
        assert_eq!(roc_auc(&[false, true], &[0.1, 0.9]).unwrap(), 1.0);
        assert_eq!(roc_auc(&[false, true], &[0.5, 0.5]).unwrap(), 0.5);
        assert_eq!(accuracy(&["1", "0"], &["1.0", "1"]).unwrap(), 0.5);
        assert_eq!(map_at_k(&[vec!["a"]], &[vec!["b", "a"]], 3).unwrap(), 0.5);
        assert!(matches!(
            rmse(&[1.0], &[]),
            Err(GradeError::LengthMismatch { .. })
        ));
        assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_err());
        assert!(rmsle(&[-2.0], &[0.0]).is_err());
    }
}
