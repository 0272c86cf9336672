//! The greedy AIDE policy of ARCHITECTURE §4, the reference's and the default.
//!
//! At each step, in this order:
//! 1. fewer than `num_drafts` root nodes exist (buggy and in-flight ones count) → draft;
//! 2. with probability `debug_prob`, debug a uniformly chosen buggy leaf whose
//!    `debug_depth <= max_debug_depth`, if any;
//! 3. no good node exists → draft;
//! 4. otherwise improve the best good node (first reached wins ties).
//!
//! The random draw happens only when step 2 is reached, so decisions replay exactly from the
//! run's seed and the same outcomes. Pruned subtrees are left out of steps 2 and 4; a run
//! nobody pruned decides exactly as the reference does.

use super::{Decision, SearchTree};
use crate::metric::Direction;
use crate::rng::RunRng;
use crate::settings::SearchSettings;

pub(super) fn decide(
    tree: &SearchTree,
    settings: &SearchSettings,
    direction: Option<Direction>,
    rng: &mut RunRng,
) -> Decision {
    if tree.draft_count() < settings.num_drafts as usize {
        return Decision::Draft;
    }
    if rng.chance(settings.debug_prob) {
        let candidates = tree.debuggable(settings.max_debug_depth);
        if !candidates.is_empty() {
            return Decision::Debug(candidates[rng.index(candidates.len())]);
        }
    }
    match tree.best_expandable(direction) {
        None => Decision::Draft,
        Some(best) => Decision::Improve(best.id),
    }
}
