//! The offline `baseline` provider: a deterministic code author for tabular CSV tasks.
//!
//! It answers the requests an LLM gets, in the same reply format — a short plan and one
//! ```` ```python ```` block for draft, improve and debug; the `submit_review` arguments for a
//! review — from the structured [`AideContext`] alone. Scripts carry their [`Recipe`] in a
//! `# baseline-recipe:` comment so improvements and debugs can read it back. The same
//! context always gives the same answer, byte for byte. It is never presented as an LLM.

pub mod debug;
pub mod improve;
pub mod merge;
pub mod recipe;
pub mod render;
pub mod review;
pub mod task;

use aide_proto::v1::{ActionKind, AideContext, TaskFacts};

pub use recipe::{Change, DRAFT_FAMILIES, Family, Feature, Params, Recipe};

use crate::Error;

/// The provider name the gateway reports for baseline answers.
pub const PROVIDER: &str = "baseline";
/// The model name the gateway reports for baseline answers.
pub const MODEL: &str = "baseline-tabular-v1";

/// A baseline reply, in the shape an LLM reply would have.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineAnswer {
    /// Plan plus exactly one python code block (draft, improve, debug) or a report.
    Text(String),
    /// Arguments of the forced `submit_review` call.
    FunctionArguments(serde_json::Value),
}

/// Answers one request. Deterministic in `ctx`.
pub fn answer(ctx: &AideContext) -> Result<BaselineAnswer, Error> {
    let default_facts = TaskFacts::default();
    let facts = ctx.task.as_ref().unwrap_or(&default_facts);
    let action = ActionKind::try_from(ctx.action).map_err(|_| Error::UnknownAction(ctx.action))?;
    match action {
        ActionKind::Draft => draft(ctx, facts).map(BaselineAnswer::Text),
        ActionKind::Improve => improve(ctx, facts).map(BaselineAnswer::Text),
        ActionKind::Debug => debug(ctx, facts).map(BaselineAnswer::Text),
        ActionKind::Merge => merge(ctx, facts).map(BaselineAnswer::Text),
        ActionKind::Review => Ok(BaselineAnswer::FunctionArguments(review::review(
            facts,
            &ctx.last_output,
        ))),
        ActionKind::Report => Ok(BaselineAnswer::Text(report(ctx, facts))),
        ActionKind::Unspecified => Err(Error::UnsupportedAction("unspecified")),
    }
}

/// The draft recipe for a draft index: families rotate; later rounds start with more
/// of each family's changes already applied.
pub fn draft_recipe(draft_index: u32) -> Recipe {
    let family = DRAFT_FAMILIES[draft_index as usize % DRAFT_FAMILIES.len()];
    let mut recipe = Recipe::draft(family);
    for _ in 0..draft_index as usize / DRAFT_FAMILIES.len() {
        let change = improve::open_changes(&recipe)
            .first()
            .copied()
            .unwrap_or(Change::MoreTrees);
        recipe = improve::apply(&recipe, change).recipe;
    }
    recipe
}

fn reply(plan: &str, code: &str) -> String {
    format!("{}\n\n```python\n{}```\n", plan.trim_end(), code)
}

fn validation_sentence(facts: &TaskFacts) -> String {
    let metric = task::MetricKind::from_facts(facts);
    let mut text = format!(
        "It validates with {}-fold cross-validation on {}, prints the score and an \
         `AIDE_METRIC:` line",
        task::folds(facts),
        metric.describe()
    );
    if facts.submission_file.is_empty() {
        text.push('.');
    } else {
        text.push_str(&format!(
            ", and writes ./working/{} with the sample submission's columns and row order.",
            facts.submission_file
        ));
    }
    if metric == task::MetricKind::LogRmse {
        text.push_str(
            " Because the score is computed on logarithms, the model is trained on \
             log1p(target) and its predictions are transformed back with expm1.",
        );
    }
    text
}

fn draft(ctx: &AideContext, facts: &TaskFacts) -> Result<String, Error> {
    let recipe = draft_recipe(ctx.draft_index);
    let code = render::render(&recipe, facts, ctx.seed)?;
    let mut plan = format!(
        "Draft {}: {}. The script finds the training file, test file and sample submission \
         in ./input when it runs, takes the target from the sample submission's columns (or \
         the training column the test file lacks), infers whether the task is regression or \
         classification, and drops identifier, constant and free-text columns.",
        ctx.draft_index + 1,
        capitalize(recipe.family.describe()),
    );
    if !recipe.applied.is_empty() {
        plan.push_str(&format!(" It starts from: {}.", recipe.summary()));
    }
    plan.push(' ');
    plan.push_str(&validation_sentence(facts));
    Ok(reply(&plan, &code))
}

fn improve(ctx: &AideContext, facts: &TaskFacts) -> Result<String, Error> {
    let Some(parent) = Recipe::from_code(&ctx.parent_code) else {
        let recipe = draft_recipe(0);
        let code = render::render(&recipe, facts, ctx.seed)?;
        let plan = format!(
            "The previous solution was not written by this baseline, so its structure cannot \
             be changed one step at a time. Instead this writes a fresh, strong starting \
             point: {}. {}",
            recipe.family.describe(),
            validation_sentence(facts)
        );
        return Ok(reply(&plan, &code));
    };
    let change = improve::choose_change(&parent, ctx.step, ctx.seed);
    let applied = improve::apply(&parent, change);
    let code = render::render(&applied.recipe, facts, ctx.seed)?;
    let metric = ctx
        .parent_metric
        .map(|m| format!(", validation metric {m}"))
        .unwrap_or_default();
    let plan = format!(
        "The current best solution uses {}{metric}. This step makes exactly one change: {}, \
         because {}. Everything else — data handling, validation folds, metric and \
         submission — stays the same, so the new score is directly comparable.",
        parent.summary(),
        applied.what,
        applied.why
    );
    Ok(reply(&plan, &code))
}

fn merge(ctx: &AideContext, facts: &TaskFacts) -> Result<String, Error> {
    let (Some(first), Some(second)) = (
        Recipe::from_code(&ctx.parent_code),
        Recipe::from_code(&ctx.partner_code),
    ) else {
        // A parent this baseline did not write cannot be combined recipe by recipe.
        return improve(ctx, facts);
    };
    let applied = merge::combine(&first, &second, ctx.step, ctx.seed);
    let code = render::render(&applied.recipe, facts, ctx.seed)?;
    let metrics = match (ctx.parent_metric, ctx.partner_metric) {
        (Some(a), Some(b)) => format!(" (validation metrics {a} and {b})"),
        _ => String::new(),
    };
    let plan = format!(
        "This step merges two solutions{metrics}: {}, because {}. Data handling, validation \
         folds, metric and submission stay the same, so the new score is directly comparable.",
        applied.what, applied.why
    );
    Ok(reply(&plan, &code))
}

fn debug(ctx: &AideContext, facts: &TaskFacts) -> Result<String, Error> {
    let failure = debug::classify(&ctx.last_output);
    let Some(parent) = Recipe::from_code(&ctx.parent_code) else {
        let recipe = Recipe::simplest();
        let code = render::render(&recipe, facts, ctx.seed)?;
        let plan = format!(
            "The previous script failed ({}) and was not written by this baseline, so rather \
             than patch it this writes a fresh, simple and robust solution: {} with median \
             imputation. {}",
            failure.line(),
            recipe.family.describe(),
            validation_sentence(facts)
        );
        return Ok(reply(&plan, &code));
    };
    let change = debug::fix_for(&parent, &failure);
    let applied = debug::apply_fix(&parent, change);
    let code = render::render(&applied.recipe, facts, ctx.seed)?;
    let plan = format!(
        "The previous script failed: `{}`. Fix: {}, because {}. The rest of the solution \
         stays as it was.",
        failure.line(),
        applied.what,
        applied.why
    );
    Ok(reply(&plan, &code))
}

fn report(ctx: &AideContext, facts: &TaskFacts) -> String {
    let mut text = String::from("# Report (offline baseline author)\n\n");
    if !facts.goal.is_empty() {
        text.push_str(&format!("**Goal:** {}\n\n", facts.goal.trim()));
    }
    match Recipe::from_code(&ctx.parent_code) {
        Some(recipe) => text.push_str(&format!("**Best solution:** {}.\n\n", recipe.summary())),
        None if !ctx.parent_code.is_empty() => {
            text.push_str("**Best solution:** a script not written by the baseline.\n\n")
        }
        None => text.push_str("**Best solution:** none yet.\n\n"),
    }
    if let Some(metric) = ctx.parent_metric {
        text.push_str(&format!(
            "**Validation metric:** {metric} ({}-fold cross-validation on {}).\n\n",
            task::folds(facts),
            task::MetricKind::from_facts(facts).describe()
        ));
    }
    text.push_str(
        "The baseline drafts one model family per draft (gradient boosting, random forest, \
         linear, XGBoost, k-NN), then improves the best solution one atomic change at a time \
         (hyper-parameters, features, ensembling) and simplifies failing scripts.\n",
    );
    text
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
