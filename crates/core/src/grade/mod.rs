//! Grading a submission outside the agent's sandbox, the way benchmark operators report
//! results: whether it has the sample submission's shape ([`validity`]), the built-in
//! metrics ([`metrics`]) and a submission file scored with them against an answers file
//! ([`score`]), MLE-bench's medal rule ([`medal`]), all of it for one submission
//! ([`cell`]), and the report's aggregates ([`stats`]).

pub mod cell;
pub mod medal;
pub mod metrics;
pub mod score;
pub mod stats;
pub mod validity;

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
