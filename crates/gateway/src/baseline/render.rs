//! Python rendering: turns a recipe and the task facts into one self-contained script from
//! the templates under `templates/`, including only the builders and features it uses.

use std::fmt::Write as _;

use aide_proto::v1::TaskFacts;

use super::recipe::{Family, Feature, Params, Recipe};
use super::task::{self, MetricKind};
use crate::Error;

const IMPORTS: &str = include_str!("templates/imports.py");
const DATA: &str = include_str!("templates/data.py");
const MAIN: &str = include_str!("templates/main.py");
const FEATURE_GROUP_SUMS: &str = include_str!("templates/feature_group_sums.py");
const FEATURE_MISSING_COUNT: &str = include_str!("templates/feature_missing_count.py");

fn builder_source(family: Family) -> &'static str {
    match family {
        Family::Gbm => include_str!("templates/model_gbm.py"),
        Family::Forest => include_str!("templates/model_forest.py"),
        Family::Linear => include_str!("templates/model_linear.py"),
        Family::Xgb => include_str!("templates/model_xgb.py"),
        Family::Knn => include_str!("templates/model_knn.py"),
        Family::Hgb => include_str!("templates/model_hgb.py"),
    }
}

/// A Python string literal (JSON string syntax is valid Python).
fn py_str(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// A Python float literal that always has a decimal point.
fn py_float(value: f64) -> String {
    format!("{value:?}")
}

fn py_params(p: &Params) -> String {
    format!(
        "{{\"trees\": {}, \"learning_rate\": {}, \"depth\": {}, \"reg\": {}, \"neighbors\": {}}}",
        p.trees,
        py_float(p.learning_rate),
        p.depth,
        py_float(p.reg),
        p.neighbors
    )
}

/// The seed the script uses for folds and models (a non-negative 31-bit integer).
pub fn script_seed(seed: u64) -> u64 {
    seed % 2_147_483_647
}

/// Renders the complete script for `recipe`.
///
/// Long because it writes the script top to bottom in the order the script runs (imports,
/// data, features, model, validation, submission), which keeps the template readable.
pub fn render(recipe: &Recipe, facts: &TaskFacts, seed: u64) -> Result<String, Error> {
    let metric = MetricKind::from_facts(facts);
    let mut out = String::with_capacity(24 * 1024);
    out.push_str(&recipe.to_comment().map_err(Error::Recipe)?);
    out.push('\n');
    let _ = writeln!(
        out,
        "# Written by aide's offline baseline author (deterministic templates, not an LLM)."
    );
    let _ = writeln!(out, "# Model: {}.", recipe.summary());
    let _ = writeln!(
        out,
        "# Validation: {}-fold cross-validation on {}.",
        task::folds(facts),
        metric.describe()
    );
    out.push_str(IMPORTS);
    out.push('\n');

    let _ = writeln!(out, "SEED = {}", script_seed(seed));
    let _ = writeln!(out, "K_FOLDS = {}", task::folds(facts));
    let _ = writeln!(out, "METRIC = {}", py_str(metric.key()));
    let _ = writeln!(out, "SUBMISSION_FILE = {}", py_str(&facts.submission_file));
    let _ = writeln!(out, "SAMPLE_HINT = {}", py_str(&facts.sample_submission));
    let _ = writeln!(out, "MAX_ROWS = {}", recipe.max_rows);
    let target_encode = if recipe.has_feature(Feature::TargetEncode) {
        "True"
    } else {
        "False"
    };
    let _ = writeln!(out, "TARGET_ENCODE = {target_encode}");
    let _ = writeln!(out, "MODEL_NAME = {}", py_str(&model_name(recipe)));
    let mut models = vec![(recipe.family, recipe.params)];
    if let Some(partner) = recipe.ensemble {
        models.push((partner, partner.default_params()));
    }
    out.push_str("MODELS = [\n");
    for (family, params) in &models {
        let _ = writeln!(
            out,
            "    ({}, {}),",
            py_str(family.key()),
            py_params(params)
        );
    }
    out.push_str("]\n\n\n");

    out.push_str(DATA);
    out.push_str("\n\n");
    let mut calls = Vec::new();
    for feature in &recipe.features {
        match feature {
            Feature::GroupSums => {
                out.push_str(FEATURE_GROUP_SUMS);
                calls.push("add_group_sums");
            }
            Feature::MissingCount => {
                out.push_str(FEATURE_MISSING_COUNT);
                calls.push("add_missing_count");
            }
            Feature::TargetEncode => continue,
        }
        out.push_str("\n\n");
    }
    out.push_str("def add_features(frame, numeric):\n");
    out.push_str(
        "    \"\"\"Row-wise feature engineering on train and test features together.\"\"\"\n",
    );
    for call in calls {
        let _ = writeln!(out, "    frame = {call}(frame, numeric)");
    }
    out.push_str("    return frame\n\n\n");

    let families = recipe.families();
    for family in &families {
        out.push_str(builder_source(*family));
        out.push_str("\n\n");
    }
    let entries: Vec<String> = families
        .iter()
        .map(|f| format!("{}: build_{}", py_str(f.key()), f.key()))
        .collect();
    let _ = writeln!(out, "BUILDERS = {{{}}}\n\n", entries.join(", "));
    out.push_str(MAIN);
    Ok(out)
}

fn model_name(recipe: &Recipe) -> String {
    match recipe.ensemble {
        Some(partner) => format!("{} + {}", recipe.family.short(), partner.short()),
        None => recipe.family.short().to_owned(),
    }
}
