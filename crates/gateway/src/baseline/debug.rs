//! Debugging: classifies the failure in a script's output and picks a simpler recipe —
//! scikit-learn instead of a missing library, fewer trees and rows after a memory error or
//! timeout, the simplest robust recipe for anything else.

use super::recipe::{Applied, Change, Recipe};

/// What went wrong, as far as the output tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// LightGBM or XGBoost could not be imported.
    MissingLibrary(String),
    /// Out of memory, killed, or out of time.
    Resources(String),
    /// Any other exception (the exception line, or a note when there is none).
    Other(String),
}

impl Failure {
    /// The line that best names the failure.
    pub fn line(&self) -> &str {
        match self {
            Self::MissingLibrary(l) | Self::Resources(l) | Self::Other(l) => l,
        }
    }
}

/// The last exception line of a Python traceback ("ValueError: ..."), if any.
pub fn exception_line(output: &str) -> Option<&str> {
    output.lines().rev().map(str::trim).find(|line| {
        let head = line.split(':').next().unwrap_or("");
        let name = head.rsplit('.').next().unwrap_or(head);
        line.contains(':')
            && !head.contains(' ')
            && !name.is_empty()
            && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && (name.ends_with("Error")
                || name.ends_with("Exception")
                || name.ends_with("Interrupt")
                || name == "StopIteration")
    })
}

/// Classifies the failure recorded in `output`.
pub fn classify(output: &str) -> Failure {
    let lower = output.to_ascii_lowercase();
    let line = exception_line(output).map(str::to_owned);
    if let Some(l) = &line {
        let name = l.split(':').next().unwrap_or("");
        let import = name.ends_with("ImportError") || name.ends_with("ModuleNotFoundError");
        let l_lower = l.to_ascii_lowercase();
        if import && (l_lower.contains("lightgbm") || l_lower.contains("xgboost")) {
            return Failure::MissingLibrary(l.clone());
        }
        if name.ends_with("MemoryError") || name.ends_with("TimeoutError") {
            return Failure::Resources(l.clone());
        }
    }
    let resource_words = [
        "memoryerror",
        "out of memory",
        "killed",
        "timed out",
        "timeout",
        "time limit",
    ];
    if line.is_none() && resource_words.iter().any(|w| lower.contains(w)) {
        let l = output
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| {
                let ll = l.to_ascii_lowercase();
                resource_words.iter().any(|w| ll.contains(w))
            })
            .unwrap_or("the script ran out of memory or time");
        return Failure::Resources(l.to_owned());
    }
    Failure::Other(line.unwrap_or_else(|| {
        "the script did not report a validation metric (no AIDE_METRIC line)".to_owned()
    }))
}

/// The fix a failure calls for, given the parent's recipe.
pub fn fix_for(parent: &Recipe, failure: &Failure) -> Change {
    match failure {
        Failure::MissingLibrary(_) if !parent.sklearn_only() => Change::DropExternalLibraries,
        Failure::Resources(_) => Change::Shrink,
        _ => Change::Simplify,
    }
}

/// Applies a debug change to a copy of `parent`.
pub fn apply_fix(parent: &Recipe, change: Change) -> Applied {
    let mut recipe = parent.clone();
    let (what, why) = match change {
        Change::DropExternalLibraries => {
            recipe.family = parent.family.without_external_library();
            recipe.ensemble = parent.ensemble.map(|f| f.without_external_library());
            if recipe.family != parent.family {
                recipe.params = recipe.family.default_params();
            }
            (
                format!(
                    "replace the third-party boosting library by {}",
                    recipe.family.describe()
                ),
                "the library is not installed in the sandbox; scikit-learn is",
            )
        }
        Change::Shrink => {
            recipe.params.trees = (parent.params.trees / 2).max(50);
            recipe.max_rows = match parent.max_rows {
                0 => 20_000,
                rows => (rows / 2).max(1_000),
            };
            (
                format!(
                    "halve the trees ({} → {}) and train on at most {} rows",
                    parent.params.trees, recipe.params.trees, recipe.max_rows
                ),
                "the script ran out of memory or time; a smaller model on fewer rows fits",
            )
        }
        _ => {
            let simplest = Recipe::simplest();
            let already = parent.family == simplest.family
                && parent.features.is_empty()
                && parent.ensemble.is_none();
            let mut fresh = if already {
                Recipe::draft(super::recipe::Family::Hgb)
            } else {
                simplest
            };
            fresh.max_rows = parent.max_rows;
            fresh.applied = parent.applied.clone();
            recipe = fresh;
            (
                format!(
                    "fall back to the simplest robust recipe: {} with median imputation and \
                     no extra features",
                    recipe.family.describe()
                ),
                "fewer moving parts leave fewer places for the error to come from",
            )
        }
    };
    recipe.applied.push(change);
    Applied { recipe, what, why }
}
