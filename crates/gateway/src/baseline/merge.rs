//! Merges: two recipes combined into one. The first (the better parent, as the policy
//! passes it) keeps its model and hyper-parameters; it borrows the second's feature steps,
//! and the second's model family as its ensemble partner when it has none and the families
//! differ. When the second has nothing the first lacks, the merge falls back to one
//! improvement of the first, so it never returns its parent unchanged.

use super::improve;
use super::recipe::{Applied, Change, Recipe, feature_name};

/// The recipe a merge of `first` and `second` writes; `step` and `seed` choose the fallback
/// improvement.
pub fn combine(first: &Recipe, second: &Recipe, step: u32, seed: u64) -> Applied {
    let mut recipe = first.clone();
    let mut borrowed = Vec::new();
    for feature in &second.features {
        if !recipe.has_feature(*feature) {
            recipe.features.push(*feature);
            borrowed.push(format!("its {} feature step", feature_name(*feature)));
        }
    }
    recipe.features.sort();
    if recipe.ensemble.is_none() && second.family != first.family {
        recipe.ensemble = Some(second.family);
        if !recipe.applied.contains(&Change::Ensemble) {
            recipe.applied.push(Change::Ensemble);
        }
        borrowed.push(format!(
            "its model ({}) as an ensemble partner",
            second.family.short()
        ));
    }
    if borrowed.is_empty() {
        let change = improve::choose_change(first, step, seed);
        let applied = improve::apply(first, change);
        return Applied {
            what: format!(
                "the second solution adds nothing the first lacks, so {} instead",
                applied.what
            ),
            ..applied
        };
    }
    Applied {
        recipe,
        what: format!(
            "keep the first solution ({}) and take from the second ({}) {}",
            first.summary(),
            second.summary(),
            borrowed.join(" and ")
        ),
        why: "each parent found something that works; combining them keeps the stronger \
              model and adds what made the other score well",
    }
}
