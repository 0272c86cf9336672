//! The review step: the prompt shown to the reviewer and the `submit_review` function it is
//! forced to call (arguments parsed by [`crate::parse::Review`]).
//!
//! The reviewer sees only what the verdict needs: the task's goal and evaluation (not its
//! long description), the program and its output. How to fill each field is said once, in
//! the function's schema, which travels with every review request; the direction, once the
//! run has fixed it, is in the task's evaluation line.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sections::{fenced, output_block, task_summary};
use super::{ExecutedSolution, Prompt, PromptContext, Section, title};
use crate::metric::METRIC_LINE_PREFIX;

/// The name of the review function.
pub const REVIEW_FUNCTION_NAME: &str = "submit_review";

/// A function a model can be made to call: name, purpose and a JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema (an `object` schema) of the arguments.
    pub parameters: Value,
}

/// The `submit_review` function: `is_bug`, `summary`, `metric` (number or null) and
/// `lower_is_better`, all required, nothing else allowed (so providers' strict modes accept
/// it as is).
pub fn review_function() -> FunctionSpec {
    FunctionSpec {
        name: REVIEW_FUNCTION_NAME.into(),
        description: "Submit the verdict on one executed solution.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "is_bug": {
                    "type": "boolean",
                    "description": "True when the run failed (exception, timeout, no metric \
                                    printed) or does not do what the task asks."
                },
                "summary": {
                    "type": "string",
                    "description": "Two to four sentences on the empirical findings; do \
                                    not restate the code."
                },
                "metric": {
                    "type": ["number", "null"],
                    "description": format!(
                        "The validation metric the program printed (its \
                         `{METRIC_LINE_PREFIX}` line when present); null when none. Never \
                         estimate."
                    )
                },
                "lower_is_better": {
                    "type": "boolean",
                    "description": "True when smaller values of the metric are better."
                }
            },
            "required": ["is_bug", "summary", "metric", "lower_is_better"],
            "additionalProperties": false
        }),
    }
}

/// The reviewer's prompt: its role, the task's goal and evaluation (with the metric's
/// direction, once the run has fixed it), the program and everything it printed. The call
/// to make is forced by the request, not asked for in words.
pub fn review_prompt(ctx: &PromptContext<'_>, run: &ExecutedSolution<'_>) -> Prompt {
    let intro = "You are an experienced machine-learning engineer reviewing one run of a \
                 solution program: judge whether it succeeded, summarise what it showed, and \
                 report the validation metric it printed.";
    Prompt {
        sections: vec![
            Section::new(title::INTRODUCTION, intro),
            task_summary(ctx),
            Section::new(title::CODE, fenced("python", run.code)),
            Section::new(title::EXECUTION_OUTPUT, output_block(ctx, run.output)),
        ],
    }
}
