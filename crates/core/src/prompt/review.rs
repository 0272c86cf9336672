//! The review step: the prompt shown to the reviewer and the `submit_review` function it is
//! forced to call (arguments parsed by [`crate::parse::Review`]).
//!
//! The reviewer sees only what the verdict needs: the task's goal and evaluation (not its
//! long description), the program and its output. How to fill each field is said once, in
//! the function's schema, which travels with every review request; the prompt adds only
//! the direction, when the run has fixed it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::sections::{fenced, output_block, task_summary};
use super::{ExecutedSolution, Prompt, PromptContext, Section, title};
use crate::metric::{Direction, METRIC_LINE_PREFIX};

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
        description: "Submit the verdict on one executed solution: whether the run failed, \
                      what it showed, and the validation metric it printed."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "is_bug": {
                    "type": "boolean",
                    "description": "True when the run failed (an exception, a timeout, no \
                                    validation metric printed) or the program clearly does \
                                    not do what the task asks; false otherwise."
                },
                "summary": {
                    "type": "string",
                    "description": "Two to four sentences on the empirical findings: the \
                                    score, what worked, what went wrong. Do not restate the \
                                    code."
                },
                "metric": {
                    "type": ["number", "null"],
                    "description": format!(
                        "The validation metric as the program printed it, as a number (from \
                         the `{METRIC_LINE_PREFIX}` line when there is one); null when it \
                         printed none. Never estimate or invent a value."
                    )
                },
                "lower_is_better": {
                    "type": "boolean",
                    "description": "True when smaller values of this metric are better (an \
                                    error or a loss), false when larger values are better \
                                    (such as accuracy)."
                }
            },
            "required": ["is_bug", "summary", "metric", "lower_is_better"],
            "additionalProperties": false
        }),
    }
}

/// The reviewer's prompt: its role, the task's goal and evaluation, the program, everything
/// it printed, and the call to make (with the direction, once the run has fixed it).
pub fn review_prompt(ctx: &PromptContext<'_>, run: &ExecutedSolution<'_>) -> Prompt {
    let intro = "You are an experienced machine-learning engineer reviewing one run of a \
                 solution program: judge whether it succeeded, summarise what it showed, and \
                 report the validation metric it printed.";
    let mut instructions = format!("Reply by calling `{REVIEW_FUNCTION_NAME}`.");
    if let Some(direction) = ctx.direction {
        let flag = direction == Direction::Minimize;
        instructions.push_str(&format!(" Set `lower_is_better` to {flag}."));
    }
    Prompt {
        sections: vec![
            Section::new(title::INTRODUCTION, intro),
            task_summary(ctx),
            Section::new(title::CODE, fenced("python", run.code)),
            Section::new(title::EXECUTION_OUTPUT, output_block(ctx, run.output)),
            Section::new(title::INSTRUCTIONS, instructions),
        ],
    }
}
