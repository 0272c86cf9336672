//! The reviewer's verdict: the arguments of the forced `submit_review` function call,
//! validated into a [`Review`], and [`extract_json_object`] for models that answer the
//! call with text around a JSON object instead.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::metric::Direction;

/// The reviewer's verdict on one executed solution (ARCHITECTURE §4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    /// The run failed or the solution does not do what the task asks.
    pub is_bug: bool,
    /// What the run showed, in a few sentences.
    pub summary: String,
    /// The validation metric the reviewer read from the output; `None` when there was none
    /// or it was not a finite number.
    pub metric: Option<f64>,
    /// The reviewer's view of the metric's direction (used only while the run's direction
    /// is not fixed yet).
    pub lower_is_better: bool,
}

impl Review {
    /// Validates the arguments of a `submit_review` call.
    ///
    /// Lenient where models are sloppy and the meaning is clear: the arguments may arrive as
    /// a JSON string holding the object; booleans may be the strings `"true"`/`"false"`;
    /// `metric` may be a number, an integer, a numeric string (`"0.87"`), `null`, or absent,
    /// and NaN or infinite values become `None`. Every other deviation is an
    /// [`Error::InvalidReview`] naming the field.
    pub fn from_json(args: &Value) -> Result<Review> {
        let parsed;
        let object = match args {
            Value::Object(map) => map,
            Value::String(text) => {
                parsed = serde_json::from_str::<Value>(text)
                    .ok()
                    .or_else(|| extract_json_object(text));
                match &parsed {
                    Some(Value::Object(map)) => map,
                    _ => return Err(invalid("the arguments are a string holding no JSON object")),
                }
            }
            other => {
                return Err(invalid(format!(
                    "the arguments must be a JSON object, got {}",
                    kind_of(other)
                )));
            }
        };
        Ok(Review {
            is_bug: boolean(object, "is_bug")?,
            summary: summary(object)?,
            metric: metric(object)?,
            lower_is_better: boolean(object, "lower_is_better")?,
        })
    }

    /// The direction the reviewer believes in.
    pub fn direction(&self) -> Direction {
        Direction::from_lower_is_better(self.lower_is_better)
    }

    /// Finds the review in a text answer (see [`extract_json_object`]) and validates it.
    pub fn from_text(text: &str) -> Result<Review> {
        let value =
            extract_json_object(text).ok_or_else(|| invalid("the answer holds no JSON object"))?;
        Self::from_json(&value)
    }
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidReview(reason.into())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn boolean(object: &Map<String, Value>, field: &str) -> Result<bool> {
    match object.get(field) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(invalid(format!(
            "field `{field}` must be a boolean, got {}",
            kind_of(other)
        ))),
        None => Err(invalid(format!("field `{field}` is missing"))),
    }
}

fn summary(object: &Map<String, Value>) -> Result<String> {
    match object.get("summary") {
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(other) => Err(invalid(format!(
            "field `summary` must be a string, got {}",
            kind_of(other)
        ))),
        None => Err(invalid("field `summary` is missing")),
    }
}

fn metric(object: &Map<String, Value>) -> Result<Option<f64>> {
    let value = match object.get("metric") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t.eq_ignore_ascii_case("null") || t.eq_ignore_ascii_case("none") {
                return Ok(None);
            }
            Some(t.parse::<f64>().map_err(|_| {
                invalid(format!(
                    "field `metric` must be a number or null, got the string {s:?}"
                ))
            })?)
        }
        Some(other) => {
            return Err(invalid(format!(
                "field `metric` must be a number or null, got {}",
                kind_of(other)
            )));
        }
    };
    Ok(value.filter(|v| v.is_finite()))
}

/// Finds a JSON object in free text: the whole text, else a ```json (or bare) fenced block,
/// else the first `{` from which a complete object parses (trailing prose is ignored).
pub fn extract_json_object(text: &str) -> Option<Value> {
    let as_object = |s: &str| match serde_json::from_str::<Value>(s.trim()) {
        Ok(v @ Value::Object(_)) => Some(v),
        _ => None,
    };
    if let Some(v) = as_object(text) {
        return Some(v);
    }
    let normalised = text.replace("\r\n", "\n");
    let lines: Vec<&str> = normalised.lines().collect();
    let fenced = super::blocks::scan(&lines)
        .into_iter()
        .filter(|b| {
            matches!(
                b.language.as_deref(),
                None | Some("json" | "json5" | "jsonc")
            )
        })
        .find_map(|b| as_object(&b.content));
    if fenced.is_some() {
        return fenced;
    }
    text.char_indices()
        .filter(|&(_, c)| c == '{')
        .find_map(|(i, _)| {
            let mut values = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(v @ Value::Object(_))) => Some(v),
                _ => None,
            }
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(args: Value) -> String {
        Review::from_json(&args).expect_err("invalid").to_string()
    }

    #[test]
    fn a_well_formed_call() {
        let r = Review::from_json(&json!({
            "is_bug": false, "summary": " RMSE 0.13 on 5 folds. ", "metric": 0.13,
            "lower_is_better": true
        }))
        .expect("valid");
        assert_eq!(
            r,
            Review {
                is_bug: false,
                summary: "RMSE 0.13 on 5 folds.".into(),
                metric: Some(0.13),
                lower_is_better: true
            }
        );
    }

    #[test]
    fn metric_spellings() {
        let with = |m: Value| {
            Review::from_json(&json!({"is_bug": false, "summary": "s", "metric": m,
                "lower_is_better": false}))
            .expect("valid")
            .metric
        };
        assert_eq!(with(json!(3)), Some(3.0));
        assert_eq!(with(json!(0.5)), Some(0.5));
        assert_eq!(with(json!(" 0.87 ")), Some(0.87));
        assert_eq!(with(json!("1e-3")), Some(0.001));
        assert_eq!(with(Value::Null), None);
        assert_eq!(with(json!("NaN")), None);
        assert_eq!(with(json!("inf")), None);
        assert_eq!(with(json!("null")), None);
        let missing = Review::from_json(&json!({"is_bug": true, "summary": "crashed",
            "lower_is_better": false}))
        .expect("metric may be absent");
        assert_eq!(missing.metric, None);
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(json!({"summary": "s", "metric": 1, "lower_is_better": true}));
        assert!(e.contains("`is_bug` is missing"), "{e}");
        let e = err(json!({"is_bug": "yes", "summary": "s", "metric": 1, "lower_is_better": true}));
        assert!(e.contains("`is_bug` must be a boolean"), "{e}");
        let e = err(json!({"is_bug": false, "summary": 3, "metric": 1, "lower_is_better": true}));
        assert!(
            e.contains("`summary` must be a string, got a number"),
            "{e}"
        );
        let e = err(
            json!({"is_bug": false, "summary": "s", "metric": "high", "lower_is_better": true}),
        );
        assert!(e.contains("`metric`") && e.contains("\"high\""), "{e}");
        let e =
            err(json!({"is_bug": false, "summary": "s", "metric": [1], "lower_is_better": true}));
        assert!(
            e.contains("`metric` must be a number or null, got an array"),
            "{e}"
        );
        let e = err(json!({"is_bug": false, "summary": "s", "metric": 1}));
        assert!(e.contains("`lower_is_better` is missing"), "{e}");
        let e = err(json!([1, 2]));
        assert!(e.contains("must be a JSON object, got an array"), "{e}");
        assert!(e.starts_with("invalid review"), "{e}");
    }

    #[test]
    fn string_arguments_and_string_booleans() {
        let args = json!(
            r#"{"is_bug": "False", "summary": "ok", "metric": "2", "lower_is_better": "TRUE"}"#
        );
        let r = Review::from_json(&args).expect("valid");
        assert!(!r.is_bug && r.lower_is_better);
        assert_eq!(r.direction(), Direction::Minimize);
        assert_eq!(r.metric, Some(2.0));
        assert!(err(json!("no json here")).contains("no JSON object"));
    }

    #[test]
    fn json_in_prose() {
        let text = "Sure! Here is my review:\n```json\n{\"is_bug\": true, \"summary\": \"KeyError\", \
                    \"metric\": null, \"lower_is_better\": false}\n```\nLet me know.";
        let r = Review::from_text(text).expect("found");
        assert!(r.is_bug);
        assert_eq!(r.summary, "KeyError");

        let v =
            extract_json_object("The result is {\"a\": {\"b\": \"}{\"}, \"c\": [1, 2]} as shown.")
                .expect("balanced object");
        assert_eq!(v, json!({"a": {"b": "}{"}, "c": [1, 2]}));

        // A brace that opens no valid object is skipped.
        let v = extract_json_object("set {x} then {\"ok\": 1} and {\"later\": 2}").expect("object");
        assert_eq!(v, json!({"ok": 1}));

        // A fenced json block wins over stray braces before it.
        let v = extract_json_object("use {curly} here\n~~~json\n{\"k\": \"v\"}\n~~~\n")
            .expect("fenced");
        assert_eq!(v, json!({"k": "v"}));

        assert_eq!(
            extract_json_object("  {\"whole\": true}  "),
            Some(json!({"whole": true}))
        );
        assert_eq!(extract_json_object("no object [1, 2] here"), None);
        assert_eq!(extract_json_object("broken {\"a\": 1"), None);
        assert_eq!(extract_json_object(""), None);
        assert!(Review::from_text("nothing").is_err());
    }
}
