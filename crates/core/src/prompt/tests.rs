//! Which sections each prompt has, and what the instructions say in each situation.

use std::path::PathBuf;

use super::*;
use crate::metric::{Direction, METRIC_LINE_PREFIX};
use crate::task::{MetricSpec, SubmissionSpec, TaskLayout};
use crate::tokens::TokenCounter;

fn task(with_test_data: bool) -> Task {
    Task {
        name: "house-prices".into(),
        goal: "Predict the sale price of each house.".into(),
        eval: Some("RMSE between log predicted and log observed prices.".into()),
        description: Some(
            "# Overview\nHouses in Ames, Iowa.\n## Files\ntrain.csv, test.csv".into(),
        ),
        input: crate::task::TaskData::local("/data/house-prices"),
        metric: MetricSpec {
            name: Some("RMSE".into()),
            direction: None,
        },
        submission: with_test_data.then(|| SubmissionSpec {
            file_name: "preds.csv".into(),
            sample: Some(PathBuf::from("sample_submission.csv")),
        }),
        answers: None,
        layout: TaskLayout::Manifest,
    }
}

fn memory() -> Vec<MemoryEntry> {
    vec![
        MemoryEntry {
            plan: "Ridge regression on one-hot features.".into(),
            findings: "Validation RMSE 0.14; residuals skewed.".into(),
            metric: MetricValue::new(0.14),
        },
        MemoryEntry {
            plan: "LightGBM with default settings.".into(),
            findings: "Validation RMSE 0.13.".into(),
            metric: MetricValue::new(0.13),
        },
    ]
}

fn packages() -> Vec<String> {
    ["numpy", "pandas", "scikit-learn", "lightgbm"]
        .map(String::from)
        .to_vec()
}

const PREVIEW: &str = "train.csv: 1460 rows, 81 columns\ntest.csv: 1459 rows, 80 columns";

fn subtitles(prompt: &Prompt, section: &str) -> Vec<String> {
    prompt
        .section(section)
        .expect(section)
        .subsections
        .iter()
        .map(|s| s.title.clone())
        .collect()
}

#[test]
fn draft_has_exactly_its_sections() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let pkgs = packages();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW))
        .with_packages(&pkgs);
    let p = draft_prompt(&ctx);
    assert_eq!(
        p.titles(),
        [
            title::INTRODUCTION,
            title::TASK,
            title::MEMORY,
            title::INSTRUCTIONS,
            title::DATA_OVERVIEW
        ]
    );
    assert_eq!(
        subtitles(&p, title::INSTRUCTIONS),
        [
            title::RESPONSE_FORMAT,
            title::DRAFT_GUIDELINE,
            title::IMPLEMENTATION,
            title::PACKAGES
        ]
    );
    let text = p.render();
    assert!(text.contains("`scikit-learn`"));
    assert!(text.contains(PREVIEW));
    assert!(
        text.contains("different approach"),
        "memory asks for variety"
    );
}

#[test]
fn draft_without_optional_parts() {
    let tokens = TokenCounter::new();
    let task = task(false);
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens);
    let p = draft_prompt(&ctx);
    assert_eq!(
        p.titles(),
        [title::INTRODUCTION, title::TASK, title::INSTRUCTIONS]
    );
    assert_eq!(
        subtitles(&p, title::INSTRUCTIONS),
        [
            title::RESPONSE_FORMAT,
            title::DRAFT_GUIDELINE,
            title::IMPLEMENTATION
        ]
    );
    assert!(!p.render().contains("different approach"));
}

#[test]
fn improve_has_previous_solution_and_no_data_overview() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let pkgs = packages();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW))
        .with_packages(&pkgs);
    let prev = PreviousSolution {
        plan: "LightGBM with default settings.",
        code: "import lightgbm\nprint('AIDE_METRIC: 0.13')",
        output: Some("AIDE_METRIC: 0.13"),
    };
    let p = improve_prompt(&ctx, &prev);
    assert_eq!(
        p.titles(),
        [
            title::INTRODUCTION,
            title::TASK,
            title::MEMORY,
            title::INSTRUCTIONS,
            title::PREVIOUS_SOLUTION
        ]
    );
    assert_eq!(
        subtitles(&p, title::INSTRUCTIONS),
        [
            title::RESPONSE_FORMAT,
            title::IMPROVE_GUIDELINE,
            title::IMPLEMENTATION
        ]
    );
    // The solution is Memory's second entry: its plan and findings are not repeated under
    // Previous solution, nor the output the findings summarise.
    assert_eq!(subtitles(&p, title::PREVIOUS_SOLUTION), [title::CODE]);
    let previous = p.section(title::PREVIOUS_SOLUTION).expect("previous");
    assert_eq!(previous.body, "Its plan and findings are under Memory.");
    assert_eq!(
        p.render()
            .matches("LightGBM with default settings.")
            .count(),
        1
    );
    let unseen = improve_prompt(
        &ctx,
        &PreviousSolution {
            plan: "CatBoost with ordered boosting.",
            ..prev
        },
    );
    assert_eq!(
        subtitles(&unseen, title::PREVIOUS_SOLUTION),
        [title::PLAN, title::CODE, title::OUTPUT]
    );
    let text = p.render();
    assert!(text.contains("```python\nimport lightgbm\nprint('AIDE_METRIC: 0.13')\n```"));
    assert!(!text.contains(PREVIEW) && !text.contains("`scikit-learn`"));
    assert!(text.contains("exactly one atomic change"));

    let bare = improve_prompt(
        &ctx,
        &PreviousSolution {
            plan: " ",
            output: None,
            ..prev
        },
    );
    assert_eq!(subtitles(&bare, title::PREVIOUS_SOLUTION), [title::CODE]);
}

#[test]
fn merge_shows_both_solutions_after_its_instructions() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW));
    let first = PreviousSolution {
        plan: "LightGBM with target encoding.",
        code: "import lightgbm\nprint('AIDE_METRIC: 0.13')",
        output: Some("AIDE_METRIC: 0.13"),
    };
    let second = PreviousSolution {
        plan: "Ridge on log-transformed areas.",
        code: "import sklearn\nprint('AIDE_METRIC: 0.15')",
        output: None,
    };
    let p = merge_prompt(&ctx, &first, &second);
    assert_eq!(
        p.titles(),
        [
            title::INTRODUCTION,
            title::TASK,
            title::MEMORY,
            title::INSTRUCTIONS,
            title::FIRST_SOLUTION,
            title::SECOND_SOLUTION
        ]
    );
    assert_eq!(
        subtitles(&p, title::INSTRUCTIONS),
        [
            title::RESPONSE_FORMAT,
            title::MERGE_GUIDELINE,
            title::IMPLEMENTATION
        ]
    );
    assert_eq!(
        subtitles(&p, title::FIRST_SOLUTION),
        [title::PLAN, title::CODE, title::OUTPUT]
    );
    assert_eq!(
        subtitles(&p, title::SECOND_SOLUTION),
        [title::PLAN, title::CODE]
    );
    let text = p.render();
    assert!(text.contains("import lightgbm") && text.contains("import sklearn"));
    assert!(!text.contains(PREVIEW), "a merge needs no data overview");
}

#[test]
fn debug_has_buggy_code_output_and_data_overview() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let pkgs = packages();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW))
        .with_packages(&pkgs);
    let buggy = BuggySolution {
        code: "import pandas as pd\npd.read_csv('train.csv')",
        output: "Traceback (most recent call last):\nFileNotFoundError: train.csv",
    };
    let p = debug_prompt(&ctx, &buggy);
    assert_eq!(
        p.titles(),
        [
            title::INTRODUCTION,
            title::TASK,
            title::BUGGY_SOLUTION,
            title::EXECUTION_OUTPUT,
            title::INSTRUCTIONS,
            title::DATA_OVERVIEW
        ]
    );
    assert_eq!(
        subtitles(&p, title::INSTRUCTIONS),
        [
            title::RESPONSE_FORMAT,
            title::DEBUG_GUIDELINE,
            title::IMPLEMENTATION
        ]
    );
    let text = p.render();
    assert!(text.contains("FileNotFoundError: train.csv"));
    assert!(text.contains("pd.read_csv('train.csv')"));
    assert!(
        !text.contains("Ridge regression"),
        "no memory in debug prompts"
    );
    assert!(
        !text.contains("`scikit-learn`"),
        "no package list in debug prompts"
    );
}

#[test]
fn review_has_code_output_and_the_direction() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens);
    let run = ExecutedSolution {
        code: "print('AIDE_METRIC: 0.12')",
        output: "AIDE_METRIC: 0.12",
    };
    let p = review_prompt(&ctx, &run);
    assert_eq!(
        p.titles(),
        [
            title::INTRODUCTION,
            title::TASK,
            title::CODE,
            title::EXECUTION_OUTPUT
        ]
    );
    // RMSE fixes the direction, said in the evaluation line; the call is described by its
    // schema alone, and forced by the request.
    let task_section = &p.section(title::TASK).expect("task").body;
    assert_eq!(
        task_section,
        "**Goal:** Predict the sale price of each house.\n\n**Evaluation:** RMSE between \
         log predicted and log observed prices. The metric is RMSE; lower values are better."
    );
    let text = p.render();
    assert!(text.contains("```python\nprint('AIDE_METRIC: 0.12')\n```"));
    assert!(text.contains("```\nAIDE_METRIC: 0.12\n```"));
    let unnamed = PromptContext {
        metric_name: None,
        ..ctx
    };
    let open = unnamed.clone().with_direction(None);
    let text = review_prompt(&open, &run).render();
    assert!(
        !text.contains("better"),
        "no direction before the run fixed one:\n{text}"
    );
    let minimised = unnamed.with_direction(Some(Direction::Minimize));
    let text = review_prompt(&minimised, &run).render();
    assert!(
        text.contains("For this task's metric, lower values are better."),
        "{text}"
    );
}

#[test]
fn review_carries_only_what_the_verdict_needs() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let pkgs = packages();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW))
        .with_packages(&pkgs);
    let run = ExecutedSolution {
        code: "print('AIDE_METRIC: 0.12')",
        output: "AIDE_METRIC: 0.12",
    };
    let text = review_prompt(&ctx, &run).render();
    // Not the task's long description, memory, data overview, packages or the author's rules.
    for absent in [
        "Houses in Ames",
        "Ridge regression",
        PREVIEW,
        "`scikit-learn`",
        "-fold cross-validation",
        "./working/preds.csv",
    ] {
        assert!(!text.contains(absent), "{absent:?} in:\n{text}");
    }
    // Each field is explained once, in the schema sent with the call, not in the prompt.
    let schema = review_function().parameters.to_string();
    for (field, explanation) in [
        ("is_bug", "does not do what the task asks"),
        ("summary", "do not restate the code"),
        ("metric", "Never estimate"),
        ("lower_is_better", "smaller values of the metric are better"),
    ] {
        assert!(schema.contains(explanation), "{field}");
        assert!(
            !text.contains(explanation),
            "{field} explained in the prompt too"
        );
    }
    let draft = draft_prompt(&ctx).render();
    assert!(
        tokens.count(&text) * 2 < tokens.count(&draft),
        "the review is far shorter than a draft"
    );
}

#[test]
fn submission_instruction_only_with_test_data() {
    let tokens = TokenCounter::new();
    let settings = RunSettings::default();
    let with = task(true);
    let text = draft_prompt(&PromptContext::new(&with, &settings, &tokens)).render();
    assert!(text.contains("`./working/preds.csv`"));
    assert!(text.contains("`./input/sample_submission.csv`"));
    assert!(text.contains("and predicts the test set"));
    let without = task(false);
    let text = draft_prompt(&PromptContext::new(&without, &settings, &tokens)).render();
    assert!(!text.contains("./working/preds.csv") && !text.contains("submission"));
    assert!(!text.contains("test set"));
}

#[test]
fn implementation_guideline_specifics() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mut settings = RunSettings::default();
    let text = draft_prompt(&PromptContext::new(&task, &settings, &tokens)).render();
    assert!(text.contains("within 1 hour;"));
    assert!(text.contains("5-fold cross-validation"));
    assert!(text.contains(&format!("`{METRIC_LINE_PREFIX} 0.8731`")));
    assert!(text.contains("`./input`"));
    assert!(!text.contains("predict()"));

    settings.k_fold_validation = 1;
    settings.exec_timeout_secs = 5400;
    settings.expose_prediction = true;
    let text = draft_prompt(&PromptContext::new(&task, &settings, &tokens)).render();
    assert!(!text.contains("-fold"));
    assert!(text.contains("held-out validation split"));
    assert!(text.contains("within 1 hour 30 minutes;"));
    assert!(text.contains("`predict()`"));
}

#[test]
fn memory_budget_is_respected_with_many_entries() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let entries: Vec<MemoryEntry> = (0..200)
        .map(|i| MemoryEntry {
            plan: format!("Attempt {i}: gradient boosting with a new feature set and tuned depth."),
            findings: format!(
                "Validation RMSE {:.3}; feature {i} helped a little.",
                0.2 - i as f64 * 1e-4
            ),
            metric: MetricValue::new(0.2 - i as f64 * 1e-4),
        })
        .collect();
    let settings = RunSettings {
        memory_budget_tokens: 500,
        ..RunSettings::default()
    };
    let ctx = PromptContext::new(&task, &settings, &tokens).with_memory(&entries);
    let p = improve_prompt(
        &ctx,
        &PreviousSolution {
            plan: "p",
            code: "x = 1",
            output: None,
        },
    );
    let body = &p.section(title::MEMORY).expect("memory").body;
    assert!(tokens.count(body) <= 500, "{}", tokens.count(body));
    assert!(tokens.count(body) > 400, "the budget is used");
    assert!(body.contains("**Solution 200**: validation metric"));
    assert!(body.contains("solutions are left out"));
}

#[test]
fn the_data_overview_is_cut_to_its_token_budget() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let preview: String = (0..3_000)
        .map(|i| format!("- column_{i}: float, range [0.{i}, {i}.5]\n"))
        .collect();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_data_preview(Some(&preview));
    let p = draft_prompt(&ctx);
    let body = &p.section(title::DATA_OVERVIEW).expect("overview").body;
    let n = tokens.count(body);
    assert!(n <= crate::preview::DEFAULT_MAX_TOKENS, "{n}");
    assert!(
        n > crate::preview::DEFAULT_MAX_TOKENS * 9 / 10,
        "{n}: the budget is used"
    );
    assert!(
        body.starts_with("- column_0: float")
            && body.ends_with("column_2999: float, range [0.2999, 2999.5]")
    );
    let short = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_data_preview(Some(PREVIEW));
    let p = draft_prompt(&short);
    assert_eq!(
        p.section(title::DATA_OVERVIEW).expect("overview").body,
        PREVIEW
    );
}

/// Paragraphs (blocks between blank lines, outside code) of at least `min` characters that
/// occur more than once in `text`.
fn repeated_paragraphs(text: &str, min: usize) -> Vec<String> {
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    for paragraph in text.split("\n\n").map(str::trim) {
        if paragraph.len() >= min && !paragraph.starts_with("```") {
            *seen.entry(paragraph).or_default() += 1;
        }
    }
    let mut repeated: Vec<String> = seen
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(p, _)| p.to_owned())
        .collect();
    repeated.sort();
    repeated
}

#[test]
fn no_prompt_says_anything_twice() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let pkgs = packages();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW))
        .with_packages(&pkgs);
    let previous = PreviousSolution {
        plan: "LightGBM with default settings.",
        code: "import lightgbm\nprint('AIDE_METRIC: 0.13')",
        output: Some("AIDE_METRIC: 0.13"),
    };
    let buggy = BuggySolution {
        code: "import pandas as pd",
        output: "Traceback (most recent call last):\nKeyError: 'SalePrice'",
    };
    let run = ExecutedSolution {
        code: "print('AIDE_METRIC: 0.12')",
        output: "AIDE_METRIC: 0.12",
    };
    let prompts = [
        ("draft", draft_prompt(&ctx)),
        ("improve", improve_prompt(&ctx, &previous)),
        ("debug", debug_prompt(&ctx, &buggy)),
        ("review", review_prompt(&ctx, &run)),
        (
            "merge",
            merge_prompt(
                &ctx,
                &previous,
                &PreviousSolution {
                    plan: "A random forest on one-hot categories.",
                    code: "import sklearn\nprint('AIDE_METRIC: 0.15')",
                    output: Some("AIDE_METRIC: 0.15"),
                },
            ),
        ),
    ];
    for (name, prompt) in prompts {
        let mut titles: Vec<&str> = prompt.titles();
        titles.sort_unstable();
        titles.dedup();
        assert_eq!(
            titles.len(),
            prompt.sections.len(),
            "{name}: a section twice"
        );
        let text = prompt.render();
        assert_eq!(
            repeated_paragraphs(&text, 40),
            Vec::<String>::new(),
            "{name}"
        );
        for once in [
            "The metric is RMSE; lower values are better.",
            "Predict the sale price of each house.",
        ] {
            assert_eq!(text.matches(once).count(), 1, "{name}: {once:?}");
        }
        assert!(
            text.matches("different approach").count() <= 1,
            "{name}: the call for variety is made once"
        );
    }
}

#[test]
fn long_outputs_are_cut_in_the_middle() {
    let tokens = TokenCounter::new();
    let task = task(false);
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens);
    let output: String = (0..20_000).map(|i| format!("epoch {i}\n")).collect();
    let p = debug_prompt(
        &ctx,
        &BuggySolution {
            code: "x",
            output: &output,
        },
    );
    let body = &p.section(title::EXECUTION_OUTPUT).expect("output").body;
    assert!(body.chars().count() <= OUTPUT_CAP_CHARS + 10);
    assert!(body.contains("epoch 0\n") && body.contains("epoch 19999"));
    assert!(body.contains("characters omitted"));
    let empty = debug_prompt(
        &ctx,
        &BuggySolution {
            code: "x",
            output: "",
        },
    );
    assert!(empty.render().contains("printed nothing"));
}

#[test]
fn rendering_nests_headings() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens);
    let text = draft_prompt(&ctx).render();
    assert!(text.starts_with("# Introduction\n\nYou are an experienced"));
    assert!(text.contains("\n# Instructions\n\n## Response format\n\n"));
    // The description's own headings sit below the prompt's.
    assert!(text.contains("\n### Overview\n") && text.contains("\n#### Files\n"));
    assert!(!text.contains("\n\n\n"), "no double blank lines");
}

#[test]
fn review_function_schema() {
    let f = review_function();
    assert_eq!(f.name, "submit_review");
    assert!(!f.description.is_empty());
    let params = &f.parameters;
    assert_eq!(params["type"], "object");
    assert_eq!(params["additionalProperties"], false);
    let required: Vec<&str> = params["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|v| v.as_str().expect("name"))
        .collect();
    assert_eq!(required, ["is_bug", "summary", "metric", "lower_is_better"]);
    let props = params["properties"].as_object().expect("properties");
    assert_eq!(props.len(), 4);
    assert_eq!(props["is_bug"]["type"], "boolean");
    assert_eq!(props["summary"]["type"], "string");
    assert_eq!(
        props["metric"]["type"],
        serde_json::json!(["number", "null"])
    );
    assert_eq!(props["lower_is_better"]["type"], "boolean");
    for (name, schema) in props {
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name}"
        );
    }
    // A call matching the schema parses.
    let args = serde_json::json!({"is_bug": false, "summary": "ok", "metric": 0.1, "lower_is_better": true});
    crate::parse::Review::from_json(&args).expect("valid");
}

#[test]
fn sample_draft_prompt_renders() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let mem = memory();
    let pkgs = packages();
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens)
        .with_memory(&mem)
        .with_data_preview(Some(PREVIEW))
        .with_packages(&pkgs);
    // `cargo test -p aide-core sample_draft -- --nocapture` shows a whole prompt.
    let text = draft_prompt(&ctx).render();
    println!("{text}");
    assert!(text.trim_end().ends_with(PREVIEW));
}

/// A search of three programs: a good draft, a failed draft and an improvement.
fn three_step_summary(task: &Task) -> SearchSummary<'_> {
    SearchSummary {
        task,
        direction: Some(Direction::Minimize),
        stop_reason: Some("steps budget reached (3 nodes)"),
        steps: vec![
            StepOutcome {
                step: 0,
                action: crate::Action::Draft,
                parent_step: None,
                result: StepResult::Metric(0.5),
                best_so_far: Some(0.5),
            },
            StepOutcome {
                step: 1,
                action: crate::Action::Draft,
                parent_step: None,
                result: StepResult::Failed("KeyError:\n  'SalePrice'"),
                best_so_far: Some(0.5),
            },
            StepOutcome {
                step: 2,
                action: crate::Action::Improve,
                parent_step: Some(0),
                result: StepResult::Metric(2.0),
                best_so_far: Some(0.5),
            },
        ],
        best: Some(BestProgram {
            step: 0,
            metric: 0.5,
            plan: "Ridge.",
            review: "Ran well.",
            code: "print('AIDE_METRIC: 0.5')",
        }),
    }
}

#[test]
fn the_report_prompt_has_its_sections_the_trajectory_and_the_best_code() {
    let task = task(true);
    let summary = three_step_summary(&task);
    let prompt = report_prompt(&summary);
    let titles: Vec<&str> = prompt.sections.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            title::INTRODUCTION,
            title::TASK,
            title::SEARCH,
            title::BEST_PROGRAM,
            title::YOUR_REPORT
        ]
    );
    let text = prompt.render();
    assert!(text.contains("3 programs (2 drafts, 1 improvements, 0 debugging attempts); 2 produced a valid metric. Stop reason: steps budget reached (3 nodes)."), "{text}");
    assert!(
        text.contains("- step 0 draft: 0.5; best so far 0.5\n"),
        "{text}"
    );
    assert!(
        text.contains("- step 1 draft: failed (KeyError: 'SalePrice'); best so far 0.5\n"),
        "{text}"
    );
    assert!(
        text.contains("- step 2 improve of step 0: 2.0; best so far 0.5\n"),
        "{text}"
    );
    assert!(
        text.contains("The metric is RMSE; lower values are better."),
        "{text}"
    );
    assert!(
        text.contains("```python\nprint('AIDE_METRIC: 0.5')\n```"),
        "{text}"
    );
    assert!(text.contains("# Your report"), "{text}");

    let none = report_prompt(&SearchSummary {
        best: None,
        ..summary
    });
    assert!(
        none.render()
            .contains("No program produced a valid metric.")
    );
}

#[test]
fn people_s_notes_appear_as_guidance_after_the_task_in_every_author_prompt() {
    let tokens = TokenCounter::new();
    let task = task(true);
    let notes = vec![
        "Try target encoding on the categorical columns.".to_owned(),
        "  ".to_owned(),
        "Avoid\nneural networks.".to_owned(),
    ];
    let ctx = PromptContext::new(&task, &RunSettings::default(), &tokens).with_notes(&notes);
    let previous = PreviousSolution {
        plan: "Ridge.",
        code: "print(1)",
        output: None,
    };
    let buggy = BuggySolution {
        code: "print(",
        output: "SyntaxError",
    };
    let prompts = [
        draft_prompt(&ctx),
        improve_prompt(&ctx, &previous),
        debug_prompt(&ctx, &buggy),
        merge_prompt(&ctx, &previous, &previous),
    ];
    for p in prompts {
        assert_eq!(
            p.titles()[..3],
            [title::INTRODUCTION, title::TASK, title::GUIDANCE]
        );
        let body = &p.section(title::GUIDANCE).expect("guidance").body;
        assert!(body.contains("- Try target encoding on the categorical columns."));
        assert!(
            body.contains("- Avoid neural networks."),
            "one line per note"
        );
        assert_eq!(
            body.matches("\n- ").count(),
            2,
            "blank notes are left out: {body}"
        );
    }
    let without = PromptContext::new(&task, &RunSettings::default(), &tokens);
    assert!(draft_prompt(&without).section(title::GUIDANCE).is_none());
}
