//! Run-level vocabulary shared by the store, the engine and every reader of a run: where
//! a run is in its life ([`RunStatus`]) and what an LLM call of a run was for
//! ([`LlmPurpose`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Created, never claimed.
    Queued,
    /// Claimed at least once and not finished (it may be between owners).
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl RunStatus {
    /// Every status, in the order of a run's life.
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "completed" => Some(Self::Completed),
            "failed" => Some(Self::Failed),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }

    /// Completed, failed and cancelled runs never change again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run's LLM call was for; the ledger groups cost by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmPurpose {
    /// A draft, improvement or debug: the code model.
    Code,
    /// A review of an execution: the feedback model.
    Feedback,
    /// The narrative of the run's report.
    Report,
}

impl LlmPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Feedback => "feedback",
            Self::Report => "report",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "code" => Some(Self::Code),
            "feedback" => Some(Self::Feedback),
            "report" => Some(Self::Report),
            _ => None,
        }
    }
}

impl fmt::Display for LlmPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
