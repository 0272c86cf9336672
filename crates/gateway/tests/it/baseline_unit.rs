//! Unit tests of the baseline author that need no Python: determinism, reply format, recipe
//! round-trip, draft variety, atomic improvements, debug fixes and the review's JSON shape.

use std::collections::HashSet;

use aide_gateway::Error;
use aide_gateway::baseline::{
    BaselineAnswer, Change, Family, MODEL, Recipe, answer, debug, draft_recipe, improve,
};
use aide_proto::v1::{ActionKind, AideContext, MetricDirection, TaskFacts};

fn facts() -> TaskFacts {
    TaskFacts {
        goal: "Predict the sales price for each house".into(),
        eval: "Use the RMSE metric between the logarithm of the predicted value and the \
               logarithm of the observed sales price."
            .into(),
        submission_file: "submission.csv".into(),
        sample_submission: "sample_submission.csv".into(),
        k_fold: 5,
        ..Default::default()
    }
}

fn ctx(action: ActionKind) -> AideContext {
    AideContext {
        action: action as i32,
        task: Some(facts()),
        seed: 11,
        ..Default::default()
    }
}

fn text(ctx: &AideContext) -> String {
    match answer(ctx) {
        Ok(BaselineAnswer::Text(text)) => text,
        other => panic!("expected text, got {other:?}"),
    }
}

fn code(ctx: &AideContext) -> String {
    let text = text(ctx);
    let start = text.find("```python\n").unwrap() + "```python\n".len();
    let end = start + text[start..].find("```").unwrap();
    text[start..end].to_owned()
}

fn review(task: TaskFacts, output: &str) -> serde_json::Value {
    let mut c = ctx(ActionKind::Review);
    c.task = Some(task);
    c.last_output = output.into();
    match answer(&c) {
        Ok(BaselineAnswer::FunctionArguments(v)) => v,
        other => panic!("expected function arguments, got {other:?}"),
    }
}

fn improve_ctx(parent: &str, step: u32) -> AideContext {
    let mut c = ctx(ActionKind::Improve);
    c.parent_code = parent.into();
    c.step = step;
    c.parent_metric = Some(0.13);
    c
}

#[test]
fn same_context_same_answer() {
    let draft = code(&ctx(ActionKind::Draft));
    let mut contexts = vec![ctx(ActionKind::Draft), ctx(ActionKind::Report)];
    let mut improve = improve_ctx(&draft, 6);
    improve.seed = 99;
    contexts.push(improve);
    let mut debug = ctx(ActionKind::Debug);
    debug.parent_code = draft.clone();
    debug.last_output = "Traceback (most recent call last):\nValueError: bad".into();
    contexts.push(debug);
    let mut review = ctx(ActionKind::Review);
    review.last_output = "AIDE_METRIC: 0.5\n".into();
    contexts.push(review);
    for c in &contexts {
        assert_eq!(answer(c).unwrap(), answer(c).unwrap());
    }
}

#[test]
fn replies_are_a_plan_and_one_python_block() {
    for action in [ActionKind::Draft, ActionKind::Improve, ActionKind::Debug] {
        let mut c = ctx(action);
        c.parent_code = code(&ctx(ActionKind::Draft));
        let reply = text(&c);
        assert_eq!(reply.matches("```python\n").count(), 1, "{reply}");
        assert_eq!(reply.matches("```").count(), 2);
        let plan = &reply[..reply.find("```").unwrap()];
        assert!(plan.trim().len() > 40, "plan too short: {plan}");
        assert!(reply.ends_with("```\n"));
        assert!(!reply.to_lowercase().contains("as an ai"));
    }
    assert!(MODEL.contains("baseline"));
}

#[test]
fn unspecified_action_is_an_error_and_report_is_text() {
    assert!(matches!(
        answer(&ctx(ActionKind::Unspecified)),
        Err(Error::UnsupportedAction(_))
    ));
    let mut bad = ctx(ActionKind::Draft);
    bad.action = 42;
    assert!(matches!(answer(&bad), Err(Error::UnknownAction(42))));
    assert!(text(&ctx(ActionKind::Report)).starts_with("# Report"));
}

#[test]
fn recipe_round_trips_through_the_script() {
    let mut recipe = draft_recipe(3);
    recipe = improve::apply(&recipe, Change::TargetEncode).recipe;
    recipe = improve::apply(&recipe, Change::Ensemble).recipe;
    recipe = improve::apply(&recipe, Change::MoreTrees).recipe;
    let script = aide_gateway::baseline::render::render(&recipe, &facts(), 3).unwrap();
    assert!(script.starts_with("# baseline-recipe: {"));
    assert_eq!(Recipe::from_code(&script), Some(recipe));
    assert_eq!(Recipe::from_code("print('hello')"), None);
}

#[test]
fn drafts_use_distinct_families() {
    let families: Vec<Family> = (0..5).map(|i| draft_recipe(i).family).collect();
    assert_eq!(families.iter().collect::<HashSet<_>>().len(), 5);
    let codes: HashSet<String> = (0..6)
        .map(|i| {
            let mut c = ctx(ActionKind::Draft);
            c.draft_index = i;
            code(&c)
        })
        .collect();
    assert_eq!(codes.len(), 6, "every draft index gives a different script");
    // A second round starts from the same family with one change applied.
    assert_eq!(draft_recipe(5).family, draft_recipe(0).family);
    assert_eq!(draft_recipe(5).applied.len(), 1);
}

/// The parts of a recipe an improvement may change.
fn parts(r: &Recipe) -> [String; 4] {
    [
        format!("{:?}", r.family),
        format!("{:?}", r.params),
        format!("{:?}", r.features),
        format!("{:?}", r.ensemble),
    ]
}

#[test]
fn improve_changes_exactly_one_thing() {
    for draft_index in 0..5 {
        let mut c = ctx(ActionKind::Draft);
        c.draft_index = draft_index;
        let mut parent_code = code(&c);
        let mut seen = Vec::new();
        for step in 5..12 {
            let parent = Recipe::from_code(&parent_code).unwrap();
            let child_code = code(&improve_ctx(&parent_code, step));
            let child = Recipe::from_code(&child_code).unwrap();
            let changed = parts(&parent)
                .iter()
                .zip(parts(&child).iter())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(changed, 1, "{parent:?} -> {child:?}");
            assert_eq!(child.applied.len(), parent.applied.len() + 1);
            let change = *child.applied.last().unwrap();
            if step < 9 {
                assert!(!seen.contains(&change), "{change:?} repeated");
            }
            seen.push(change);
            parent_code = child_code;
        }
    }
}

#[test]
fn re_improving_one_parent_tries_different_changes() {
    let parent = code(&ctx(ActionKind::Draft));
    let changes: HashSet<Change> = (5..8)
        .map(|step| {
            let child = Recipe::from_code(&code(&improve_ctx(&parent, step))).unwrap();
            *child.applied.last().unwrap()
        })
        .collect();
    assert_eq!(changes.len(), 3);
}

#[test]
fn metric_folds_and_submission_follow_the_task() {
    let draft = code(&ctx(ActionKind::Draft));
    assert!(draft.contains("METRIC = \"log_rmse\""));
    assert!(draft.contains("K_FOLDS = 5"));
    assert!(draft.contains("SUBMISSION_FILE = \"submission.csv\""));
    assert!(draft.contains("AIDE_METRIC: "));
    let cases = [
        ("Submissions are scored on accuracy.", "accuracy"),
        ("Area under the ROC curve", "auc"),
        ("multi-class log loss", "logloss"),
        ("root mean squared error", "rmse"),
        ("mean absolute error", "mae"),
        ("Predict well.", "auto"),
    ];
    for (eval, metric) in cases {
        let mut c = ctx(ActionKind::Draft);
        let task = c.task.as_mut().unwrap();
        task.eval = eval.into();
        task.goal = String::new();
        task.k_fold = 1;
        task.submission_file = String::new();
        let script = code(&c);
        assert!(script.contains(&format!("METRIC = \"{metric}\"")), "{eval}");
        assert!(script.contains("K_FOLDS = 2"));
        assert!(script.contains("SUBMISSION_FILE = \"\""));
    }
}

#[test]
fn debug_picks_a_simpler_recipe() {
    let gbm = code(&ctx(ActionKind::Draft));
    let fix = |parent: &str, output: &str| {
        let mut c = ctx(ActionKind::Debug);
        c.parent_code = parent.into();
        c.last_output = output.into();
        code(&c)
    };
    let no_lib = fix(
        &gbm,
        "Traceback (most recent call last):\nModuleNotFoundError: No module named 'lightgbm'",
    );
    assert!(!no_lib.contains("lightgbm") && !no_lib.contains("xgboost"));
    assert_eq!(Recipe::from_code(&no_lib).unwrap().family, Family::Hgb);

    let memory = Recipe::from_code(&fix(
        &gbm,
        "Traceback (most recent call last):\nMemoryError",
    ))
    .unwrap();
    assert_eq!(memory.params.trees, 300);
    assert!(memory.max_rows > 0);

    let other = fix(
        &gbm,
        "Traceback (most recent call last):\nKeyError: 'SalePrice'",
    );
    assert_eq!(Recipe::from_code(&other).unwrap().family, Family::Linear);

    let foreign = fix(
        "import pandas as pd\nprint(1/0)\n",
        "ZeroDivisionError: division by zero",
    );
    let fresh = Recipe::from_code(&foreign).unwrap();
    assert_eq!(fresh, Recipe::simplest());

    let failure = debug::classify("Traceback (most recent call last):\n  x\nValueError: no");
    assert_eq!(failure.line(), "ValueError: no");
}

#[test]
fn review_reads_the_metric_line() {
    let ok = review(
        facts(),
        "fold 1/5: log_rmse 0.12\nValidation log_rmse (5-fold): 0.123400\nAIDE_METRIC: 0.9\n\
         AIDE_METRIC: 0.1234\n",
    );
    let keys: HashSet<&str> = ok.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from(["is_bug", "summary", "metric", "lower_is_better"])
    );
    assert_eq!(ok["is_bug"], false);
    assert_eq!(ok["metric"].as_f64(), Some(0.1234));
    assert_eq!(ok["lower_is_better"], true);
    assert!(ok["summary"].as_str().unwrap().contains("0.1234"));

    let crash = review(
        facts(),
        "AIDE_METRIC: 0.2\nTraceback (most recent call last):\n  File \"s.py\"\nKeyError: 'x'\n",
    );
    assert_eq!(crash["is_bug"], true);
    assert!(crash["metric"].is_null());
    assert!(crash["summary"].as_str().unwrap().contains("KeyError: 'x'"));

    let silent = review(facts(), "done\n");
    assert_eq!(silent["is_bug"], true);
    assert!(silent["metric"].is_null());

    let mut fixed = facts();
    fixed.direction = MetricDirection::Maximize as i32;
    assert_eq!(review(fixed, "AIDE_METRIC: 1")["lower_is_better"], false);
    let accuracy = TaskFacts {
        eval: "Submissions are evaluated on accuracy.".into(),
        ..Default::default()
    };
    assert_eq!(
        review(accuracy, "AIDE_METRIC: 0.8")["lower_is_better"],
        false
    );
    let named = TaskFacts {
        metric_name: "auc".into(),
        ..Default::default()
    };
    assert_eq!(review(named, "AIDE_METRIC: 0.8")["lower_is_better"], false);
    let unknown = review(
        TaskFacts::default(),
        "Validation accuracy (5-fold): 0.8\nAIDE_METRIC: 0.8",
    );
    assert_eq!(unknown["lower_is_better"], false);
    assert_eq!(
        review(TaskFacts::default(), "AIDE_METRIC: 3")["lower_is_better"],
        true
    );
}

fn merge_ctx(first: &str, second: &str) -> AideContext {
    let mut c = ctx(ActionKind::Merge);
    c.parent_code = first.into();
    c.partner_code = second.into();
    c.parent_metric = Some(0.13);
    c.partner_metric = Some(0.15);
    c.step = 9;
    c
}

#[test]
fn merge_keeps_the_first_model_and_borrows_the_second() {
    let draft = |index| {
        let mut c = ctx(ActionKind::Draft);
        c.draft_index = index;
        code(&c)
    };
    // A first recipe with no features, and a second (another family) with target encoding.
    let first = draft(0);
    let second = (0..12)
        .map(|step| code(&improve_ctx(&draft(1), step)))
        .find(|c| Recipe::from_code(c).is_some_and(|r| !r.features.is_empty()))
        .expect("an improvement that adds a feature step");
    let (a, b) = (
        Recipe::from_code(&first).unwrap(),
        Recipe::from_code(&second).unwrap(),
    );
    assert!(b.features.iter().any(|f| !a.features.contains(f)), "{b:?}");
    let merged_text = text(&merge_ctx(&first, &second));
    assert!(
        merged_text.contains("merges two solutions"),
        "{merged_text}"
    );
    let merged = Recipe::from_code(&code(&merge_ctx(&first, &second))).unwrap();
    assert_eq!((merged.family, merged.params), (a.family, a.params));
    for feature in a.features.iter().chain(&b.features) {
        assert!(merged.features.contains(feature), "{feature:?} lost");
    }
    assert_eq!(
        merged.ensemble,
        Some(b.family),
        "the second's model joins the ensemble"
    );
    assert_eq!(
        code(&merge_ctx(&first, &second)),
        code(&merge_ctx(&first, &second)),
        "same context, same answer"
    );
}

#[test]
fn a_merge_with_nothing_to_borrow_still_changes_one_thing() {
    let mut c = ctx(ActionKind::Draft);
    c.draft_index = 0;
    let first = code(&c);
    let merged = Recipe::from_code(&code(&merge_ctx(&first, &first))).unwrap();
    let parent = Recipe::from_code(&first).unwrap();
    assert_eq!(merged.applied.len(), parent.applied.len() + 1, "{merged:?}");
    // A partner the baseline did not write: the merge answers as an improvement.
    let foreign = text(&merge_ctx(&first, "print('hello')"));
    assert!(
        foreign.contains("This step makes exactly one change"),
        "{foreign}"
    );
}
