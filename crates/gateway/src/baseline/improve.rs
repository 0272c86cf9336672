//! Improvements: picks one atomic change for a parent recipe, deterministically from
//! (step, seed, recipe), never one the lineage already applied, and applies it.

use super::recipe::{Applied, Change, Family, Feature, Recipe};

/// How many of the highest-priority open changes rotate with the step, so re-improving the
/// same parent at successive steps tries different changes.
const WINDOW: usize = 3;

/// Upper bound on trees, so repeated "more trees" cannot blow the time limit.
const MAX_TREES: u32 = 4800;

/// The changes worth trying for a family, best first.
fn priorities(family: Family) -> &'static [Change] {
    use Change::*;
    match family {
        Family::Gbm | Family::Xgb | Family::Hgb => &[
            Ensemble,
            TargetEncode,
            GroupSums,
            MoreTrees,
            TreeShape,
            MissingCount,
        ],
        Family::Forest => &[
            Ensemble,
            GroupSums,
            TargetEncode,
            MoreTrees,
            TreeShape,
            MissingCount,
        ],
        Family::Linear => &[
            TargetEncode,
            Ensemble,
            GroupSums,
            Regularization,
            MissingCount,
        ],
        Family::Knn => &[Ensemble, Neighbors, GroupSums, TargetEncode, MissingCount],
    }
}

/// The hyper-parameter change a family may repeat once everything else was applied.
fn repeatable(family: Family) -> Change {
    match family {
        Family::Linear => Change::Regularization,
        Family::Knn => Change::Neighbors,
        _ => Change::MoreTrees,
    }
}

/// The changes still open for `recipe`, best first.
pub fn open_changes(recipe: &Recipe) -> Vec<Change> {
    priorities(recipe.family)
        .iter()
        .copied()
        .filter(|c| !recipe.applied.contains(c))
        .filter(|c| match c {
            Change::Ensemble => recipe.ensemble.is_none(),
            Change::GroupSums => !recipe.has_feature(Feature::GroupSums),
            Change::MissingCount => !recipe.has_feature(Feature::MissingCount),
            Change::TargetEncode => !recipe.has_feature(Feature::TargetEncode),
            Change::MoreTrees => recipe.params.trees < MAX_TREES,
            _ => true,
        })
        .collect()
}

/// SplitMix64 finaliser: spreads the seed's bits.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The change to apply next: one of the first few open changes, rotating with the step.
pub fn choose_change(recipe: &Recipe, step: u32, seed: u64) -> Change {
    let open = open_changes(recipe);
    if open.is_empty() {
        return repeatable(recipe.family);
    }
    let window = open.len().min(WINDOW) as u64;
    let pick = mix(seed).wrapping_add(u64::from(step)) % window;
    open[pick as usize]
}

/// Applies `change` to a copy of `parent` and records it in the history.
///
/// Long because it has one arm per change with its before/after wording: the catalogue of
/// improvements reads as one table here, and split up it would be scattered.
pub fn apply(parent: &Recipe, change: Change) -> Applied {
    let mut recipe = parent.clone();
    let p = parent.params;
    let (what, why) = match change {
        Change::MoreTrees => {
            recipe.params.trees = (p.trees * 2).clamp(100, MAX_TREES);
            if p.learning_rate > 0.0 {
                recipe.params.learning_rate = p.learning_rate / 2.0;
                (
                    format!(
                        "double the boosting rounds ({} → {}) and halve the learning rate \
                         ({} → {})",
                        p.trees, recipe.params.trees, p.learning_rate, recipe.params.learning_rate
                    ),
                    "smaller steps over more rounds usually generalise better than a few \
                     large ones",
                )
            } else {
                (
                    format!("grow more trees ({} → {})", p.trees, recipe.params.trees),
                    "averaging more trees lowers the forest's variance",
                )
            }
        }
        Change::TreeShape => {
            let (depth, direction) = match parent.family {
                Family::Xgb if p.depth > 3 => (3, "shallower"),
                Family::Xgb => (6, "deeper"),
                Family::Forest if p.depth == 0 => (16, "depth-limited"),
                Family::Forest => (0, "unlimited-depth"),
                _ if p.depth > 7 => (7, "smaller"),
                _ => (31, "larger"),
            };
            recipe.params.depth = depth;
            (
                format!(
                    "make the trees {direction} (size parameter {} → {depth})",
                    p.depth
                ),
                "tree size trades bias against variance; the other side of the default is \
                 worth measuring",
            )
        }
        Change::Regularization => {
            recipe.params.reg = p.reg * 3.0;
            (
                format!(
                    "strengthen the regularisation threefold (multiplier {} → {})",
                    p.reg, recipe.params.reg
                ),
                "with many one-hot columns a stronger penalty curbs over-fitting",
            )
        }
        Change::Neighbors => {
            recipe.params.neighbors = p.neighbors * 2;
            (
                format!(
                    "use more neighbours ({} → {})",
                    p.neighbors, recipe.params.neighbors
                ),
                "averaging over more neighbours smooths noisy predictions",
            )
        }
        Change::GroupSums => {
            add_feature(&mut recipe, Feature::GroupSums);
            (
                "add sums of numeric columns that share a name token and a scale (for \
                 example all *Area or *SF columns)"
                    .to_owned(),
                "totals of related quantities are often stronger predictors than their parts",
            )
        }
        Change::MissingCount => {
            add_feature(&mut recipe, Feature::MissingCount);
            (
                "add the number of missing values per row as a feature".to_owned(),
                "missingness often carries information the imputed values hide",
            )
        }
        Change::TargetEncode => {
            add_feature(&mut recipe, Feature::TargetEncode);
            (
                "add out-of-fold smoothed target means of high-cardinality categorical columns"
                    .to_owned(),
                "categories with many levels are hard to split or one-hot; their target mean \
                 summarises them in one number without leaking the validation rows",
            )
        }
        Change::Ensemble => {
            let partner = parent.family.ensemble_partner();
            recipe.ensemble = Some(partner);
            (
                format!(
                    "average the predictions with a second model family: {}",
                    partner.describe()
                ),
                "models with different inductive biases make different errors, so their \
                 average is usually better than either",
            )
        }
        Change::DropExternalLibraries | Change::Shrink | Change::Simplify => {
            return super::debug::apply_fix(parent, change);
        }
    };
    recipe.applied.push(change);
    Applied { recipe, what, why }
}

fn add_feature(recipe: &mut Recipe, feature: Feature) {
    if !recipe.features.contains(&feature) {
        recipe.features.push(feature);
        recipe.features.sort();
    }
}
