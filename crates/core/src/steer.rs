//! Steering a live run (ARCHITECTURE §14): the directives a person gives ([`Directive`]),
//! the event that records one with its author ([`Steered`]), and what a run's directives add
//! up to for its owner ([`Steering`]). The owner rebuilds [`Steering`] from the run's log on
//! every start, so a resumed run is steered exactly as the live one was: a pin is spent by
//! the node it created (that node's `node_created` event names the pin), a prune, a note and
//! a budget hold from their event on.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::event::Actor;
use crate::node::NodeId;
use crate::policy::{Decision, NodeStatus, SearchTree};
use crate::settings::RunSettings;

/// The longest note a person may add to a run's memory, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;
/// The most notes one run keeps; a directive beyond it is refused.
pub const MAX_NOTES: usize = 50;

/// What a person asks of a running search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "directive", rename_all = "snake_case")]
pub enum Directive {
    /// The node becomes the next one expanded: improved when good, debugged when buggy.
    Pin { node: NodeId },
    /// The node and its descendants are never expanded again.
    Prune { node: NodeId },
    /// A line every later prompt shows under "Guidance".
    Note { text: String },
    /// New step and/or time budgets (absolute values, counted from the run's start).
    Budget {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        steps: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_run_secs: Option<u64>,
    },
}

impl Directive {
    /// The directive's name, as the CLI and the API spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pin { .. } => "pin",
            Self::Prune { .. } => "prune",
            Self::Note { .. } => "note",
            Self::Budget { .. } => "budget",
        }
    }

    /// The node the directive is about, if any.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Self::Pin { node } | Self::Prune { node } => Some(*node),
            Self::Note { .. } | Self::Budget { .. } => None,
        }
    }

    /// Refuses a directive no run can take, naming what is wrong: an empty or oversized
    /// note, a budget that changes nothing.
    pub fn check(&self) -> Result<(), crate::Error> {
        let bad = |why: &str| Err(crate::Error::InvalidDirective(why.to_owned()));
        match self {
            Self::Note { text } if text.trim().is_empty() => bad("note: must not be empty"),
            Self::Note { text } if text.chars().count() > MAX_NOTE_CHARS => bad(&format!(
                "note: must be at most {MAX_NOTE_CHARS} characters"
            )),
            Self::Budget {
                steps: None,
                max_run_secs: None,
            } => bad("budget: give steps, a time limit or both"),
            _ => Ok(()),
        }
    }

    /// `settings` with a budget directive applied (other directives leave them as they
    /// are), validated.
    pub fn applied_to(&self, settings: &RunSettings) -> Result<RunSettings, crate::Error> {
        let mut next = settings.clone();
        if let Self::Budget {
            steps,
            max_run_secs,
        } = self
        {
            if let Some(steps) = steps {
                next.steps = *steps;
            }
            if let Some(secs) = max_run_secs {
                next.max_run_secs = Some(*secs);
            }
            if next.max_run_secs == Some(0) {
                return Err(crate::Error::InvalidSettings(
                    "max_run_secs: must be at least 1 second".into(),
                ));
            }
        }
        next.validate()?;
        Ok(next)
    }
}

/// Payload of [`RunEvent::Steered`](crate::RunEvent::Steered): a directive and who gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steered {
    pub by: Actor,
    #[serde(flatten)]
    pub directive: Directive,
}

/// Payload of [`RunEvent::Forked`](crate::RunEvent::Forked): a new run was started from one
/// of this run's nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forked {
    pub by: Actor,
    pub node: NodeId,
    /// The new run.
    pub run: crate::node::RunId,
}

/// A note in a run's memory, with its author's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub by: String,
}

/// A pin not yet spent: the sequence number of its event and the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub seq: u64,
    pub node: NodeId,
}

/// What a run's directives add up to, for the run's owner.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Steering {
    /// Pins in the order they were given, not yet spent.
    pins: Vec<Pin>,
    pruned: Vec<NodeId>,
    notes: Vec<Note>,
    /// The newest directive taken in; later ones are read from the log after it.
    through: u64,
    /// Pins already spent by a node (read from `node_created` events).
    spent: HashSet<u64>,
}

impl Steering {
    /// Takes in the directive of event `seq` (events are taken in order; an older one is
    /// ignored).
    pub fn take(&mut self, seq: u64, steered: &Steered) {
        if seq <= self.through {
            return;
        }
        self.through = seq;
        match &steered.directive {
            Directive::Pin { node } if !self.spent.contains(&seq) => {
                self.pins.push(Pin { seq, node: *node })
            }
            Directive::Pin { .. } => {}
            Directive::Prune { node } => self.pruned.push(*node),
            // The API refuses a note past the last; one that raced in is ignored here.
            Directive::Note { text } if self.notes.len() < MAX_NOTES => self.notes.push(Note {
                text: text.clone(),
                by: steered.by.token_id.clone(),
            }),
            Directive::Note { .. } => {}
            Directive::Budget { .. } => {}
        }
    }

    /// Marks pin `seq` spent (a node was created for it).
    pub fn spend(&mut self, seq: u64) {
        self.spent.insert(seq);
        self.pins.retain(|p| p.seq != seq);
    }

    /// The newest directive taken in.
    pub fn through(&self) -> u64 {
        self.through
    }

    pub fn pruned(&self) -> &[NodeId] {
        &self.pruned
    }

    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The next pin the tree can act on, as the decision it asks for, and the pin's
    /// sequence number. A pin whose node is gone from the tree or pruned is dropped; a pin
    /// whose node is still in flight, or is buggy with a debug in flight, waits.
    pub fn next_pin(&mut self, tree: &SearchTree) -> Option<(u64, Decision)> {
        let mut i = 0;
        while i < self.pins.len() {
            let pin = self.pins[i];
            let status = tree.get(pin.node).map(|n| n.status);
            let decision = match status {
                _ if tree.is_pruned(pin.node) => None,
                None => None,
                Some(NodeStatus::InFlight) => {
                    i += 1;
                    continue;
                }
                // A buggy node being debugged already waits: no node is debugged twice at
                // once.
                Some(NodeStatus::Buggy) if has_child_in_flight(tree, pin.node) => {
                    i += 1;
                    continue;
                }
                Some(NodeStatus::Buggy) => Some(Decision::Debug(pin.node)),
                Some(NodeStatus::Good(_)) => Some(Decision::Improve(pin.node)),
            };
            self.pins.remove(i);
            if let Some(decision) = decision {
                return Some((pin.seq, decision));
            }
        }
        None
    }
}

fn has_child_in_flight(tree: &SearchTree, node: NodeId) -> bool {
    tree.children(node).iter().any(|c| {
        tree.get(*c)
            .is_some_and(|c| c.status == NodeStatus::InFlight)
    })
}

#[cfg(test)]
mod tests;
