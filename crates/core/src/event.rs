//! The run events ([`RunEvent`]): what the engine appends to a run's log (and the API's audit
//! trail: who created, cancelled, steered, forked and exported the run), and what the watch API, the CLI's
//! progress display and the outputs read back. One serde-tagged enum
//! with a payload type per kind, so no reader looks a field up by name.
//!
//! Stored as a `kind` text plus the payload's JSON object ([`RunEvent::kind`],
//! [`RunEvent::payload`], [`RunEvent::from_parts`]); the payload shapes are the ones earlier
//! versions wrote, so their logs still decode. A kind this version does not know (written by
//! a newer one) or a payload that does not fit decodes as [`RunEvent::Unrecognised`], kept
//! verbatim, so reading a log never fails on one event.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::steer::{Forked, Steered};
use crate::{Action, BugReason, NodeId, RunRng, RunStatus};

/// One event of a run's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEvent {
    /// An owner took up a run that has no node yet (its first start).
    RunStarted(RunTaken),
    /// An owner took up a run that already had nodes (a resume after another owner).
    RunResumed(RunTaken),
    /// A node was decided and is about to be stored (written before the node itself).
    NodeCreated(NodeCreated),
    /// A node received its final verdict.
    NodeReviewed(NodeReviewed),
    /// The best node changed.
    BestChanged(BestChanged),
    /// An infrastructure failure is being retried.
    InfraRetry(InfraRetry),
    /// The model could not write the report's narrative (the deterministic report stands).
    ReportFailed(ReportFailed),
    /// The run finished (completed, cancelled or failed).
    RunFinished(RunFinished),
    /// A caller created the run.
    RunCreated(Audited),
    /// A caller asked to cancel the run.
    CancelRequested(Audited),
    /// A caller exported one of the run's outputs.
    RunExported(RunExported),
    /// A person steered the run (pin, prune, note, budget).
    Steered(Steered),
    /// A person started a new run from one of this run's nodes.
    Forked(Forked),
    /// A kind this version does not know, or a payload that does not fit its kind.
    #[serde(skip)]
    Unrecognised(UnrecognisedEvent),
}

/// Payload of [`RunEvent::RunStarted`] and [`RunEvent::RunResumed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTaken {
    /// The lease epoch of the new owner.
    pub epoch: u64,
    pub owner: String,
    /// Nodes already stored, and how many of them were not reviewed yet.
    pub nodes: u64,
    pub unfinished: u64,
}

/// Payload of [`RunEvent::NodeCreated`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCreated {
    pub node_id: NodeId,
    pub parent: Option<NodeId>,
    /// A merge's second parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<NodeId>,
    pub action: Action,
    pub step: u32,
    pub debug_depth: u32,
    /// The run generator's state right after the decision, for an exact resume.
    pub rng: RunRng,
    /// The sequence number of the pin directive this node carries out, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<u64>,
}

/// Payload of [`RunEvent::NodeReviewed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReviewed {
    pub node_id: NodeId,
    pub step: u32,
    pub action: Action,
    pub buggy: bool,
    /// The validation metric of a good node.
    pub metric: Option<f64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub bug_reasons: Vec<BugReason>,
}

/// Payload of [`RunEvent::BestChanged`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestChanged {
    pub node_id: NodeId,
    pub step: u32,
    pub metric: f64,
}

/// Payload of [`RunEvent::InfraRetry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfraRetry {
    /// The node whose step failed, when the failure was one node's.
    pub node_id: Option<NodeId>,
    pub step: Option<u32>,
    /// What was being done, e.g. "code call" or "execution attempt 2".
    pub what: String,
    /// 1 for the first retry.
    pub retry: u32,
    pub error: String,
    /// The wait before the next try.
    pub wait_ms: u64,
}

/// Payload of [`RunEvent::ReportFailed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFailed {
    pub error: String,
    pub attempts: u32,
}

/// Payload of [`RunEvent::RunFinished`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinished {
    pub status: RunStatus,
    pub reason: String,
}

/// Who did something to a run: the token, its project and its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub token_id: String,
    pub project: String,
    pub role: String,
}

/// Payload of the audit events that say only who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audited {
    pub by: Actor,
}

/// Payload of [`RunEvent::RunExported`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunExported {
    pub by: Actor,
    /// What was exported: journal, best_solution, submission, tree_html or report.
    pub format: String,
}

/// An event kept as it was stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UnrecognisedEvent {
    pub kind: String,
    pub payload: Value,
}

impl RunEvent {
    /// The stored kind, e.g. `node_reviewed` (the serde tag).
    pub fn kind(&self) -> &str {
        match self {
            Self::RunStarted(_) => "run_started",
            Self::RunResumed(_) => "run_resumed",
            Self::NodeCreated(_) => "node_created",
            Self::NodeReviewed(_) => "node_reviewed",
            Self::BestChanged(_) => "best_changed",
            Self::InfraRetry(_) => "infra_retry",
            Self::ReportFailed(_) => "report_failed",
            Self::RunFinished(_) => "run_finished",
            Self::RunCreated(_) => "run_created",
            Self::CancelRequested(_) => "cancel_requested",
            Self::RunExported(_) => "run_exported",
            Self::Steered(_) => "steered",
            Self::Forked(_) => "forked",
            Self::Unrecognised(event) => &event.kind,
        }
    }

    /// The stored payload: the event's fields as a JSON object, without the kind.
    pub fn payload(&self) -> Value {
        if let Self::Unrecognised(event) = self {
            return event.payload.clone();
        }
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(fields) = value.as_object_mut() {
            fields.remove("kind");
        }
        value
    }

    /// The event stored as `kind` and `payload`; [`Unrecognised`](Self::Unrecognised) when
    /// the kind is unknown or the payload does not fit it.
    pub fn from_parts(kind: &str, payload: Value) -> Self {
        let tagged = match &payload {
            Value::Object(fields) => {
                let mut fields = fields.clone();
                fields.insert("kind".into(), Value::String(kind.to_owned()));
                Value::Object(fields)
            }
            _ => Value::Null,
        };
        serde_json::from_value(tagged).unwrap_or_else(|_| {
            Self::Unrecognised(UnrecognisedEvent {
                kind: kind.to_owned(),
                payload,
            })
        })
    }
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests;
