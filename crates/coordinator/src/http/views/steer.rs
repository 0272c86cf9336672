//! The JSON of steering a run: a directive ([`DirectiveBody`]), what recording it answers
//! ([`Steered`]) and a fork's request ([`ForkBody`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::RunSummary;

/// One directive: exactly one of `pin`, `prune`, `note` and `budget`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DirectiveBody {
    /// The node becomes the next expanded: improved when good, debugged when buggy.
    Pin { node_id: Uuid },
    /// The node and its descendants are never expanded again.
    Prune { node_id: Uuid },
    /// A note every later prompt shows (at most 2,000 characters).
    Note {
        #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
        text: String,
    },
    /// New budgets, counted from the run's start; at least one.
    Budget {
        #[serde(default)]
        #[schema(minimum = 1)]
        steps: Option<u32>,
        #[serde(default)]
        #[schema(minimum = 1, maximum = 315_360_000)]
        max_run_secs: Option<u64>,
    },
}

/// A directive recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Steered {
    /// The sequence number of its event in the run's log.
    pub seq: u64,
    /// The run after it.
    pub run: RunSummary,
}

/// A fork to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForkBody {
    /// The node whose code the new run starts from.
    pub node_id: Uuid,
    /// Display name of the new run; the source's name with "-fork" when absent.
    #[serde(default)]
    pub name: Option<String>,
}
