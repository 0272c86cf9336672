//! The run loop's picture of one run, and the one owner of the run's state while the loop
//! holds the lease: the run record as it is now (direction fixed, status finished), the
//! stored nodes, the policy's tree built from them, the random generator and the best node
//! with its submission. The outputs, the report and the events are written from it.

use aide_core::{Direction, NodeId, NodeStage, RunRng, SearchTree};
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
}

impl RunState {
    pub fn new(run: RunRecord, mut records: Vec<NodeRecord>, rng: RunRng) -> Self {
        records.sort_by_key(|n| n.step);
        let tree = search_tree(&records);
        let best = tree.best(run.direction).map(|n| n.id);
        Self {
            run,
            tree,
            records,
            rng,
            best,
            best_submission: None,
        }
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

    pub fn record(&self, id: NodeId) -> Option<&NodeRecord> {
        self.records.iter().find(|n| n.id == id)
    }
}
