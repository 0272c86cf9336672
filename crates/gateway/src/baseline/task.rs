//! What the baseline reads from the task facts: the validation metric to compute, the
//! number of folds, and the metric direction for reviews.

use aide_core::Direction;
use aide_proto::v1::TaskFacts;

/// The metric a generated script computes. `Auto` lets the script choose at run time
/// (RMSE for regression, accuracy for classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// RMSE between log1p(prediction) and log1p(truth); the model trains on log1p(target).
    LogRmse,
    Rmse,
    Mae,
    Accuracy,
    Auc,
    LogLoss,
    F1,
    Auto,
}

impl MetricKind {
    /// The name the Python script uses.
    pub fn key(self) -> &'static str {
        match self {
            Self::LogRmse => "log_rmse",
            Self::Rmse => "rmse",
            Self::Mae => "mae",
            Self::Accuracy => "accuracy",
            Self::Auc => "auc",
            Self::LogLoss => "logloss",
            Self::F1 => "f1",
            Self::Auto => "auto",
        }
    }

    /// Human description for plans.
    pub fn describe(self) -> &'static str {
        match self {
            Self::LogRmse => "RMSE between the logarithms of predicted and observed values",
            Self::Rmse => "RMSE",
            Self::Mae => "mean absolute error",
            Self::Accuracy => "accuracy",
            Self::Auc => "ROC AUC",
            Self::LogLoss => "log loss",
            Self::F1 => "F1 score",
            Self::Auto => "RMSE for a numeric target, accuracy for a categorical one",
        }
    }

    /// Picks the metric from the task's metric name, then its evaluation text, then its goal.
    pub fn from_facts(task: &TaskFacts) -> Self {
        for text in [&task.metric_name, &task.eval, &task.goal] {
            if let Some(kind) = Self::from_text(text) {
                return kind;
            }
        }
        Self::Auto
    }

    fn from_text(text: &str) -> Option<Self> {
        let t = text.to_ascii_lowercase().replace(['-', '_'], " ");
        let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        let word = |ws: &[&str]| ws.iter().any(|w| words.contains(w));
        let phrase = |ps: &[&str]| ps.iter().any(|p| t.contains(p));
        if word(&["logloss", "crossentropy"]) || phrase(&["log loss", "cross entropy"]) {
            return Some(Self::LogLoss);
        }
        if word(&["auc", "roc", "auroc"]) || phrase(&["area under"]) {
            return Some(Self::Auc);
        }
        let squared = word(&["rmse", "mse"]) || phrase(&["mean squared", "mean square"]);
        if word(&["rmsle", "msle"]) || (squared && t.contains("log")) {
            return Some(Self::LogRmse);
        }
        if squared {
            return Some(Self::Rmse);
        }
        if word(&["mae"]) || phrase(&["mean absolute"]) {
            return Some(Self::Mae);
        }
        if word(&["f1"]) || phrase(&["f score", "f measure"]) {
            return Some(Self::F1);
        }
        if word(&["accuracy"]) || phrase(&["classification rate", "correctly classified"]) {
            return Some(Self::Accuracy);
        }
        None
    }

    /// Direction of the metric, when the kind is known.
    pub fn direction(self) -> Option<Direction> {
        match self {
            Self::LogRmse | Self::Rmse | Self::Mae | Self::LogLoss => Some(Direction::Minimize),
            Self::Accuracy | Self::Auc | Self::F1 => Some(Direction::Maximize),
            Self::Auto => None,
        }
    }
}

/// Folds for validation: the task's `k_fold`, at least 2, 5 when unset.
pub fn folds(task: &TaskFacts) -> u32 {
    match task.k_fold {
        0 => 5,
        k => k.max(2),
    }
}

/// Whether lower is better: the run's fixed direction, else the metric name, else the
/// metric named by the evaluation text, else `fallback_name` (e.g. the metric a script
/// printed), else true.
pub fn lower_is_better(task: &TaskFacts, fallback_name: Option<&str>) -> bool {
    if let Some(direction) = task.direction().to_domain() {
        return direction.lower_is_better();
    }
    if let Some(direction) = Direction::from_metric_name(&task.metric_name) {
        return direction.lower_is_better();
    }
    if let Some(direction) = [&task.metric_name, &task.eval]
        .into_iter()
        .find_map(|t| MetricKind::from_text(t).and_then(MetricKind::direction))
    {
        return direction.lower_is_better();
    }
    if let Some(direction) = fallback_name.and_then(|name| {
        Direction::from_metric_name(name)
            .or_else(|| MetricKind::from_text(name).and_then(MetricKind::direction))
    }) {
        return direction.lower_is_better();
    }
    direction_from_words(&format!("{} {}", task.eval, task.goal)).unwrap_or(true)
}

/// The direction implied by the first metric-like word of `text`.
fn direction_from_words(text: &str) -> Option<bool> {
    const LOWER: &[&str] = &["rmse", "mae", "error", "loss", "deviation", "distance"];
    const HIGHER: &[&str] = &["accuracy", "auc", "f1", "precision", "recall", "score"];
    let t = text.to_ascii_lowercase();
    let first = |words: &[&str]| words.iter().filter_map(|w| t.find(w)).min();
    match (first(LOWER), first(HIGHER)) {
        (Some(l), Some(h)) => Some(l < h),
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        (None, None) => None,
    }
}
