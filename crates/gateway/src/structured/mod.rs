//! Structured output: a forced function call whose arguments are validated against the
//! function's JSON Schema, with JSON recovered from prose answers and bounded re-asks that
//! quote the validation error back to the model.

mod schema;

pub use schema::validate;

use serde_json::Value;

use crate::Error;
use crate::pricing::TokenUsage;
use crate::provider::ProviderResponse;
use crate::provider::{Answer, FunctionSpec, Message, ProviderClient, ProviderRequest, Role};

/// Longest echo of a rejected answer put back into the conversation, in characters.
const ECHO_LIMIT: usize = 4_000;

/// Calls `request.function` (which must be set) and returns its validated arguments as
/// [`Answer::FunctionArguments`] holding an object.
///
/// An answer in prose, or arguments that arrive as a string, are searched for a JSON object
/// ([`aide_core::extract_json_object`]) before validation. When validation fails the model is
/// asked again, up to `max_reasks` times, with its answer echoed and a user message quoting
/// the error. When every try fails the error is [`Error::StructuredOutput`] with the last
/// problem. Usage and attempts are summed over all calls; provider failures end it at once.
pub async fn complete_structured(
    client: &ProviderClient,
    request: &ProviderRequest,
    max_reasks: u32,
) -> Result<ProviderResponse, Error> {
    let function = request.function.as_ref().ok_or_else(|| {
        Error::InvalidRequest("a structured call needs a function to force".into())
    })?;
    let mut conversation = request.clone();
    let mut usage = TokenUsage::default();
    let mut attempts = 0u32;
    let mut last_problem = String::new();
    for round in 0..=max_reasks {
        let response = client.complete(&conversation).await?;
        usage = add(usage, response.usage);
        attempts = attempts.saturating_add(response.attempts);
        match arguments_of(function, &response.answer) {
            Ok(arguments) => {
                return Ok(ProviderResponse {
                    answer: Answer::FunctionArguments(arguments),
                    usage,
                    request_id: response.request_id,
                    model: response.model,
                    attempts,
                });
            }
            Err(problem) => {
                tracing::info!(
                    provider = client.name(),
                    function = %function.name,
                    round,
                    %problem,
                    "unusable structured answer"
                );
                if round < max_reasks {
                    conversation.messages.push(Message::new(
                        Role::Assistant,
                        echo(function, &response.answer),
                    ));
                    conversation
                        .messages
                        .push(Message::new(Role::User, reask(function, &problem)));
                }
                last_problem = problem;
            }
        }
    }
    Err(Error::StructuredOutput {
        provider: client.name().to_owned(),
        reason: format!(
            "no valid call of `{}` in {} answer(s) ({} re-ask(s)); last problem: {last_problem}",
            function.name,
            max_reasks + 1,
            max_reasks
        ),
    })
}

/// The validated arguments in an answer, or why there are none.
fn arguments_of(function: &FunctionSpec, answer: &Answer) -> Result<Value, String> {
    let value = match answer {
        Answer::FunctionArguments(Value::String(raw)) => parse_lenient(raw).ok_or_else(|| {
            let why = serde_json::from_str::<Value>(raw)
                .err()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            format!("the arguments are not a valid JSON object{why}")
        })?,
        Answer::FunctionArguments(value) => value.clone(),
        Answer::Text(text) => aide_core::extract_json_object(text).ok_or_else(|| {
            format!(
                "the answer did not call `{}` and holds no JSON object",
                function.name
            )
        })?,
    };
    validate(&function.parameters, &value)?;
    Ok(value)
}

/// A JSON object from argument text: the whole text, else one found inside it.
fn parse_lenient(raw: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(raw) {
        Ok(value @ Value::Object(_)) => Some(value),
        _ => aide_core::extract_json_object(raw),
    }
}

/// The rejected answer as an assistant turn, so the model sees what it said.
fn echo(function: &FunctionSpec, answer: &Answer) -> String {
    let text = match answer {
        Answer::FunctionArguments(Value::String(raw)) => {
            format!("Calling `{}` with arguments: {raw}", function.name)
        }
        Answer::FunctionArguments(value) => {
            format!("Calling `{}` with arguments: {value}", function.name)
        }
        Answer::Text(text) if text.trim().is_empty() => "(an empty answer)".to_owned(),
        Answer::Text(text) => text.clone(),
    };
    if text.chars().count() <= ECHO_LIMIT {
        return text;
    }
    let cut: String = text.chars().take(ECHO_LIMIT).collect();
    format!("{cut} …")
}

/// The user turn that asks again, quoting the validation error.
fn reask(function: &FunctionSpec, problem: &str) -> String {
    format!(
        "Your answer could not be used: {problem}. Call the function `{}` again, with \
         arguments that are one JSON object matching its parameter schema exactly: every \
         required field present, the right types, no other fields.",
        function.name
    )
}

fn add(a: TokenUsage, b: TokenUsage) -> TokenUsage {
    TokenUsage {
        prompt: a.prompt.saturating_add(b.prompt),
        completion: a.completion.saturating_add(b.completion),
        cached: a.cached.saturating_add(b.cached),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn function() -> FunctionSpec {
        let f = aide_core::prompt::review_function();
        FunctionSpec {
            name: f.name,
            description: f.description,
            parameters: f.parameters,
        }
    }

    const VALID: &str =
        r#"{"is_bug": false, "summary": "ok", "metric": 0.5, "lower_is_better": true}"#;

    #[test]
    fn arguments_come_from_objects_strings_and_prose() {
        let f = function();
        let expected: Value = serde_json::from_str(VALID).unwrap();
        let object = Answer::FunctionArguments(expected.clone());
        assert_eq!(arguments_of(&f, &object), Ok(expected.clone()));
        let string = Answer::FunctionArguments(json!(VALID));
        assert_eq!(arguments_of(&f, &string), Ok(expected.clone()));
        let prose = Answer::Text(format!("Here it is:\n```json\n{VALID}\n```"));
        assert_eq!(arguments_of(&f, &prose), Ok(expected));
    }

    #[test]
    fn problems_say_what_is_wrong() {
        let f = function();
        let broken = Answer::FunctionArguments(json!("{\"is_bug\": fal"));
        let e = arguments_of(&f, &broken).unwrap_err();
        assert!(
            e.starts_with("the arguments are not a valid JSON object ("),
            "{e}"
        );
        let prose = Answer::Text("The run crashed.".into());
        assert_eq!(
            arguments_of(&f, &prose).unwrap_err(),
            "the answer did not call `submit_review` and holds no JSON object"
        );
        let missing = Answer::FunctionArguments(json!({"is_bug": true, "summary": "s",
            "lower_is_better": true}));
        assert_eq!(
            arguments_of(&f, &missing).unwrap_err(),
            "field `metric` is missing"
        );
        let r = reask(&f, "field `metric` is missing");
        assert!(r.contains("field `metric` is missing") && r.contains("`submit_review`"));
        assert_eq!(echo(&f, &Answer::Text(" ".into())), "(an empty answer)");
        assert!(echo(&f, &Answer::Text("x".repeat(10_000))).chars().count() < 4_010);
    }
}
