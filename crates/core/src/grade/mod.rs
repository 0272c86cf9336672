//! Grading a submission outside the agent's sandbox, the way benchmark operators report
//! results: the built-in metrics ([`metrics`]) and MLE-bench's medal rule ([`medal`]).

pub mod medal;
pub mod metrics;

pub use medal::{Medal, Placing, Thresholds};
pub use metrics::Metric;

/// Why a submission or a leaderboard cannot be graded. The message names what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GradeError {
    #[error("no predictions to grade")]
    Empty,
    #[error("{truth} answers but {predicted} predictions")]
    LengthMismatch { truth: usize, predicted: usize },
    #[error("{0}")]
    Invalid(String),
    #[error("unknown metric {0:?} (known: {known})", known = metrics::NAMES.join(", "))]
    UnknownMetric(String),
}

/// `Ok` when both sides have the same, non-zero length.
fn same_length(truth: usize, predicted: usize) -> Result<(), GradeError> {
    match (truth, predicted) {
        (0, _) => Err(GradeError::Empty),
        (t, p) if t != p => Err(GradeError::LengthMismatch {
            truth: t,
            predicted: p,
        }),
        _ => Ok(()),
    }
}
