//! The run loop's picture of one run, and the one owner of the run's state while the loop
//! holds the lease: the run record as it is now (direction fixed, status finished), the
//! stored nodes, the policy's tree built from them, the random generator and the best node
//! with its submission, and the directives people gave. The outputs, the report and the
//! events are written from it.

use aide_core::steer::{Directive, Steered};
use aide_core::{Direction, NodeId, NodeStage, RunRng, SearchTree, Steering};
use aide_store::{NodeRecord, RunRecord};

use crate::tree::{search_tree, status_of};

/// One run as the loop tracks it.
#[derive(Debug)]
pub struct RunState {
    /// The run as this owner knows it: updated when the direction is fixed and when the
    /// run finishes.
    pub run: RunRecord,
    pub tree: SearchTree,
    /// Every node, in step order.
    pub records: Vec<NodeRecord>,
    pub rng: RunRng,
    pub best: Option<NodeId>,
    /// The best node's submission file, once known (from its execution or the store).
    pub best_submission: Option<Vec<u8>>,
    /// The directives taken in so far.
    pub steering: Steering,
}

impl RunState {
    /// The state of a run with `records` stored, its generator, and the directives read
    /// back from its log (pruned subtrees are marked in the tree; the run's settings
    /// already hold any budget directive).
    pub fn new(
        run: RunRecord,
        mut records: Vec<NodeRecord>,
        rng: RunRng,
        steering: Steering,
    ) -> Self {
        records.sort_by_key(|n| n.step);
        let mut tree = search_tree(&records);
        for node in steering.pruned() {
            tree.prune(*node);
        }
        let best = tree.best(run.direction).map(|n| n.id);
        Self {
            run,
            tree,
            records,
            rng,
            best,
            best_submission: None,
            steering,
        }
    }

    /// Takes in the directive of event `seq`: a prune marks the subtree, a budget replaces
    /// the run's settings (the caller retargets its budget), pins and notes are kept.
    /// Returns the directive when it was new.
    pub fn steer(&mut self, seq: u64, steered: &Steered) -> Option<Directive> {
        if seq <= self.steering.through() {
            return None;
        }
        self.steering.take(seq, steered);
        match &steered.directive {
            Directive::Prune { node } => {
                self.tree.prune(*node);
            }
            Directive::Budget { .. } => match steered.directive.applied_to(&self.run.settings) {
                Ok(settings) => self.run.settings = settings,
                Err(e) => tracing::warn!(error = %e, "a recorded budget directive does not apply"),
            },
            Directive::Pin { .. } | Directive::Note { .. } => {}
        }
        Some(steered.directive.clone())
    }

    /// The notes people added, for the prompts.
    pub fn notes(&self) -> Vec<String> {
        self.steering
            .notes()
            .iter()
            .map(|n| n.text.clone())
            .collect()
    }

    /// The run's metric direction, once fixed.
    pub fn direction(&self) -> Option<Direction> {
        self.run.direction
    }

    /// Nodes not yet reviewed, in step order (left by a previous owner).
    pub fn unfinished(&self) -> Vec<NodeRecord> {
        self.records
            .iter()
            .filter(|n| n.stage != NodeStage::Reviewed)
            .cloned()
            .collect()
    }

    /// Adds a node just stored.
    pub fn push(&mut self, record: NodeRecord) {
        self.records.push(record);
    }

    /// Records a reviewed node and the direction its review left fixed; returns the new
    /// best node when it changed (the caller then sets
    /// [`best_submission`](Self::best_submission)).
    pub fn reviewed(&mut self, record: NodeRecord, direction: Option<Direction>) -> Option<NodeId> {
        if self.run.direction.is_none() {
            self.run.direction = direction;
        }
        let status = status_of(&record);
        self.tree.set_status(record.id, status);
        match self.records.iter_mut().find(|n| n.id == record.id) {
            Some(slot) => *slot = record,
            None => self.records.push(record),
        }
        let best = self.tree.best(self.run.direction).map(|n| n.id);
        if best != self.best {
            self.best = best;
            self.best_submission = None;
            return best;
        }
        None
    }

    /// Replaces the stored copy of a node that moved on (a fork's first node, generated).
    pub fn update(&mut self, record: NodeRecord) {
        if let Some(slot) = self.records.iter_mut().find(|n| n.id == record.id) {
            *slot = record;
        }
    }

    pub fn record(&self, id: NodeId) -> Option<&NodeRecord> {
        self.records.iter().find(|n| n.id == id)
    }
}
