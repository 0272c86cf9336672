//! The recipe model: what a baseline script is made of (model family, hyper-parameters,
//! features, ensemble partner), the atomic changes an improvement or a debug applies, and
//! the machine-readable comment line that lets the recipe be read back from a script.

use serde::{Deserialize, Serialize};

/// The comment that carries the recipe inside a generated script, followed by its JSON.
pub const RECIPE_MARKER: &str = "# baseline-recipe:";

/// A model family. Each renders to one Python builder function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// LightGBM, falling back to scikit-learn's HistGradientBoosting when not installed.
    Gbm,
    /// A random forest.
    Forest,
    /// Ridge regression / logistic regression on one-hot categories and scaled numerics.
    Linear,
    /// XGBoost, falling back to HistGradientBoosting when not installed.
    Xgb,
    /// Distance-weighted k nearest neighbours.
    Knn,
    /// scikit-learn's HistGradientBoosting only (no third-party library).
    Hgb,
}

/// The draft families in the order of `draft_index`.
pub const DRAFT_FAMILIES: [Family; 5] = [
    Family::Gbm,
    Family::Forest,
    Family::Linear,
    Family::Xgb,
    Family::Knn,
];

impl Family {
    /// The name the Python builder and the `MODELS` list use.
    pub fn key(self) -> &'static str {
        match self {
            Self::Gbm => "gbm",
            Self::Forest => "forest",
            Self::Linear => "linear",
            Self::Xgb => "xgb",
            Self::Knn => "knn",
            Self::Hgb => "hgb",
        }
    }

    /// A human description for plans and summaries.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Gbm => {
                "LightGBM gradient-boosted trees (scikit-learn's HistGradientBoosting when \
                 LightGBM is not installed)"
            }
            Self::Forest => "a random forest",
            Self::Linear => {
                "a regularised linear model (ridge for regression, logistic regression for \
                 classification) on scaled, log-transformed-if-skewed numerics and one-hot \
                 categories"
            }
            Self::Xgb => {
                "XGBoost gradient-boosted trees (scikit-learn's HistGradientBoosting when \
                 XGBoost is not installed)"
            }
            Self::Knn => "distance-weighted k nearest neighbours on scaled, one-hot features",
            Self::Hgb => "scikit-learn's HistGradientBoosting (no third-party library)",
        }
    }

    /// Short name for the script's validation line.
    pub fn short(self) -> &'static str {
        match self {
            Self::Gbm => "LightGBM",
            Self::Forest => "random forest",
            Self::Linear => "ridge/logistic",
            Self::Xgb => "XGBoost",
            Self::Knn => "k-NN",
            Self::Hgb => "HistGradientBoosting",
        }
    }

    /// Whether the family imports a third-party boosting library.
    pub fn uses_external_library(self) -> bool {
        matches!(self, Self::Gbm | Self::Xgb)
    }

    pub fn is_tree_based(self) -> bool {
        matches!(self, Self::Gbm | Self::Forest | Self::Xgb | Self::Hgb)
    }

    /// Starting hyper-parameters.
    pub fn default_params(self) -> Params {
        let (trees, learning_rate, depth) = match self {
            Self::Gbm | Self::Hgb => (600, 0.03, 15),
            Self::Xgb => (600, 0.03, 4),
            Self::Forest => (300, 0.0, 0),
            Self::Linear | Self::Knn => (0, 0.0, 0),
        };
        Params {
            trees,
            learning_rate,
            depth,
            reg: 1.0,
            neighbors: 10,
        }
    }

    /// The second model an ensemble change averages with: a different inductive bias.
    pub fn ensemble_partner(self) -> Family {
        if self.is_tree_based() {
            Self::Linear
        } else {
            Self::Hgb
        }
    }

    /// The same family without third-party libraries.
    pub fn without_external_library(self) -> Family {
        if self.uses_external_library() {
            Self::Hgb
        } else {
            self
        }
    }
}

/// Hyper-parameters; each family reads the ones it understands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Trees / boosting rounds.
    pub trees: u32,
    /// Boosting learning rate.
    pub learning_rate: f64,
    /// Leaves per tree (LightGBM, HistGradientBoosting), depth (XGBoost, forest; 0 = none).
    pub depth: u32,
    /// Regularisation strength multiplier (ridge alpha = 10·reg, logistic C = 1/reg, L2 for boosting).
    pub reg: f64,
    /// Neighbours of k-NN.
    pub neighbors: u32,
}

/// A feature-engineering step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Sums of numeric columns sharing a name token and a scale (total-area style).
    GroupSums,
    /// Count of missing values per row.
    MissingCount,
    /// Out-of-fold smoothed target mean of high-cardinality categoricals.
    TargetEncode,
}

/// One atomic change, recorded in the recipe's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    MoreTrees,
    TreeShape,
    Regularization,
    Neighbors,
    GroupSums,
    MissingCount,
    TargetEncode,
    Ensemble,
    /// Debug: replace LightGBM/XGBoost by scikit-learn.
    DropExternalLibraries,
    /// Debug: fewer trees and rows after a memory error or a timeout.
    Shrink,
    /// Debug: the simplest robust recipe.
    Simplify,
}

/// Everything that determines a generated script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipe {
    pub family: Family,
    pub params: Params,
    #[serde(default)]
    pub features: Vec<Feature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<Family>,
    /// Cap on training rows (0 = all).
    #[serde(default)]
    pub max_rows: u32,
    /// Changes applied since the draft, oldest first.
    #[serde(default)]
    pub applied: Vec<Change>,
}

impl Recipe {
    /// The draft recipe of a family.
    pub fn draft(family: Family) -> Self {
        Self {
            family,
            params: family.default_params(),
            features: Vec::new(),
            ensemble: None,
            max_rows: 0,
            applied: Vec::new(),
        }
    }

    /// The simplest robust recipe: a linear model with median imputation, nothing else.
    pub fn simplest() -> Self {
        Self::draft(Family::Linear)
    }

    pub fn has_feature(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// The families the script must define builders for, in a stable order.
    pub fn families(&self) -> Vec<Family> {
        let mut out = vec![self.family];
        if let Some(partner) = self.ensemble {
            out.push(partner);
        }
        if out.iter().any(|f| f.uses_external_library()) {
            out.push(Family::Hgb);
        }
        let mut seen = Vec::new();
        out.retain(|f| {
            let fresh = !seen.contains(f);
            seen.push(*f);
            fresh
        });
        out
    }

    /// True when the script imports neither LightGBM nor XGBoost.
    pub fn sklearn_only(&self) -> bool {
        !self.families().iter().any(|f| f.uses_external_library())
    }

    /// The `# baseline-recipe: {...}` line.
    pub fn to_comment(&self) -> Result<String, serde_json::Error> {
        Ok(format!("{RECIPE_MARKER} {}", serde_json::to_string(self)?))
    }

    /// The recipe embedded in `code`, if a baseline script wrote it.
    pub fn from_code(code: &str) -> Option<Self> {
        code.lines().find_map(|line| {
            let json = line.trim().strip_prefix(RECIPE_MARKER)?;
            serde_json::from_str(json.trim()).ok()
        })
    }

    /// One-line summary, e.g. "LightGBM + ridge/logistic (600 trees, ...), features: group sums".
    pub fn summary(&self) -> String {
        let mut text = self.family.short().to_owned();
        if let Some(partner) = self.ensemble {
            text.push_str(" + ");
            text.push_str(partner.short());
        }
        let p = &self.params;
        let shape = match self.family {
            Family::Gbm | Family::Hgb => format!(
                "{} trees, learning rate {}, {} leaves",
                p.trees, p.learning_rate, p.depth
            ),
            Family::Xgb => format!(
                "{} trees, learning rate {}, depth {}",
                p.trees, p.learning_rate, p.depth
            ),
            Family::Forest if p.depth == 0 => format!("{} trees, unlimited depth", p.trees),
            Family::Forest => format!("{} trees, depth {}", p.trees, p.depth),
            Family::Linear => format!("regularisation multiplier {}", p.reg),
            Family::Knn => format!("{} neighbours", p.neighbors),
        };
        text.push_str(&format!(" ({shape})"));
        if !self.features.is_empty() {
            let names: Vec<&str> = self.features.iter().map(|f| feature_name(*f)).collect();
            text.push_str(&format!(", features: {}", names.join(", ")));
        }
        if self.max_rows > 0 {
            text.push_str(&format!(", at most {} training rows", self.max_rows));
        }
        text
    }
}

pub fn feature_name(feature: Feature) -> &'static str {
    match feature {
        Feature::GroupSums => "group sums",
        Feature::MissingCount => "missing-value count",
        Feature::TargetEncode => "target encoding",
    }
}

/// What a change did, for the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub recipe: Recipe,
    /// What changes, with the before/after values.
    pub what: String,
    /// Why it should help.
    pub why: &'static str,
}
