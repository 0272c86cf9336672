//! A validator for the subset of JSON Schema the gateway's functions use: `type` (one name
//! or a list such as `["number", "null"]`), `properties`, `required`,
//! `additionalProperties` (`false` or a schema), `enum`, `const` and `items`. Unknown
//! keywords (`description`, `minimum`, …) are ignored. Errors name the field by its path.

use serde_json::{Map, Value};

/// Checks `value` against `schema`; the error names the first offending field, e.g.
/// "field `metric` must be a number or null, got a string".
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "")
}

fn check(schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    let schema = match schema {
        Value::Object(map) => map,
        Value::Bool(false) => return Err(format!("{} must not be present", subject(path))),
        _ => return Ok(()),
    };
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|name| has_type(value, name)) {
            return Err(format!(
                "{} must be {}, got {}",
                subject(path),
                describe_types(&names),
                kind_of(value)
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        let listed: Vec<String> = options.iter().map(Value::to_string).collect();
        return Err(format!(
            "{} must be one of {}, got {}",
            subject(path),
            listed.join(", "),
            value
        ));
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        return Err(format!("{} must be {expected}, got {value}", subject(path)));
    }
    match value {
        Value::Object(object) => check_object(schema, object, path),
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| check(item_schema, item, &format!("{path}[{i}]"))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn check_object(
    schema: &Map<String, Value>,
    object: &Map<String, Value>,
    path: &str,
) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(Value::Array(required)) = schema.get("required") {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("{} is missing", subject(&join(path, name))));
            }
        }
    }
    for (name, field) in object {
        let field_path = join(path, name);
        match properties.and_then(|p| p.get(name)) {
            Some(field_schema) => check(field_schema, field, &field_path)?,
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    let allowed: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    return Err(format!(
                        "{} is not allowed (allowed fields: {})",
                        subject(&field_path),
                        if allowed.is_empty() {
                            "none".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ));
                }
                Some(extra @ Value::Object(_)) => check(extra, field, &field_path)?,
                _ => {}
            },
        }
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match (name, value) {
        ("object", Value::Object(_))
        | ("array", Value::Array(_))
        | ("string", Value::String(_))
        | ("boolean", Value::Bool(_))
        | ("null", Value::Null)
        | ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => false,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn subject(path: &str) -> String {
    if path.is_empty() {
        "the arguments".to_owned()
    } else {
        format!("field `{path}`")
    }
}

fn describe_types(names: &[&str]) -> String {
    let described: Vec<&str> = names
        .iter()
        .map(|name| match *name {
            "object" => "an object",
            "array" => "an array",
            "string" => "a string",
            "boolean" => "a boolean",
            "null" => "null",
            "number" => "a number",
            "integer" => "an integer",
            other => other,
        })
        .collect();
    match described.as_slice() {
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
        [] => "anything".to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn review_schema() -> Value {
        aide_core::prompt::review_function().parameters
    }

    fn err(schema: &Value, value: Value) -> String {
        validate(schema, &value).expect_err("invalid")
    }

    #[test]
    fn the_review_schema_accepts_valid_verdicts() {
        let schema = review_schema();
        for metric in [json!(0.13), json!(3), Value::Null] {
            let v = json!({"is_bug": false, "summary": "ok", "metric": metric,
                "lower_is_better": true});
            assert_eq!(validate(&schema, &v), Ok(()), "{v}");
        }
    }

    #[test]
    fn review_errors_name_the_field() {
        let schema = review_schema();
        let e = err(
            &schema,
            json!({"is_bug": false, "summary": "s", "lower_is_better": true}),
        );
        assert_eq!(e, "field `metric` is missing");
        let e = err(
            &schema,
            json!({"is_bug": false, "summary": "s", "metric": "0.5",
            "lower_is_better": true}),
        );
        assert_eq!(e, "field `metric` must be a number or null, got a string");
        let e = err(
            &schema,
            json!({"is_bug": "no", "summary": "s", "metric": 1,
            "lower_is_better": true}),
        );
        assert_eq!(e, "field `is_bug` must be a boolean, got a string");
        let e = err(
            &schema,
            json!({"is_bug": true, "summary": "s", "metric": 1,
            "lower_is_better": true, "confidence": 0.9}),
        );
        assert!(
            e.starts_with("field `confidence` is not allowed (allowed fields: "),
            "{e}"
        );
        assert!(e.contains("is_bug") && e.contains("lower_is_better"), "{e}");
        assert_eq!(
            err(&schema, json!([1])),
            "the arguments must be an object, got an array"
        );
        assert_eq!(
            err(&schema, json!("{}")),
            "the arguments must be an object, got a string"
        );
    }

    #[test]
    fn integers_enums_const_and_type_lists() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer"},
            "mode": {"enum": ["fast", "slow"]},
            "v": {"const": 2},
            "x": {"type": ["string", "integer", "null"]}
        }});
        assert_eq!(
            validate(&schema, &json!({"n": 3, "mode": "fast", "v": 2, "x": 1})),
            Ok(())
        );
        assert_eq!(validate(&schema, &json!({"n": 3.0})), Ok(()));
        assert_eq!(validate(&schema, &json!({"n": -4})), Ok(()));
        assert_eq!(
            err(&schema, json!({"n": 3.5})),
            "field `n` must be an integer, got a number"
        );
        assert_eq!(
            err(&schema, json!({"mode": "medium"})),
            "field `mode` must be one of \"fast\", \"slow\", got \"medium\""
        );
        assert_eq!(err(&schema, json!({"v": 3})), "field `v` must be 2, got 3");
        assert_eq!(
            err(&schema, json!({"x": true})),
            "field `x` must be a string, an integer or null, got a boolean"
        );
        // Not required, no additionalProperties: extra and absent fields are fine.
        assert_eq!(validate(&schema, &json!({"other": [1]})), Ok(()));
    }

    #[test]
    fn nested_objects_and_items_report_their_path() {
        let schema = json!({"type": "object", "required": ["steps"], "properties": {
            "steps": {"type": "array", "items": {
                "type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "tags": {"type": "array",
                    "items": {"type": "string"}}}}}}});
        assert_eq!(
            validate(&schema, &json!({"steps": [{"name": "a", "tags": ["x"]}]})),
            Ok(())
        );
        assert_eq!(
            err(&schema, json!({"steps": [{"name": "a"}, {}]})),
            "field `steps[1].name` is missing"
        );
        assert_eq!(
            err(&schema, json!({"steps": [{"name": "a", "tags": ["x", 2]}]})),
            "field `steps[0].tags[1]` must be a string, got a number"
        );
        assert_eq!(
            err(&schema, json!({"steps": [{"name": "a", "extra": 1}]})),
            "field `steps[0].extra` is not allowed (allowed fields: name, tags)"
        );
        assert_eq!(
            err(&schema, json!({"steps": {}})),
            "field `steps` must be an array, got an object"
        );
    }

    #[test]
    fn additional_properties_schemas_and_trivial_schemas() {
        let schema = json!({"type": "object", "additionalProperties": {"type": "number"}});
        assert_eq!(validate(&schema, &json!({"a": 1, "b": 2.5})), Ok(()));
        assert_eq!(
            err(&schema, json!({"a": "1"})),
            "field `a` must be a number, got a string"
        );
        assert_eq!(validate(&json!({}), &json!([1, "x"])), Ok(()));
        assert_eq!(validate(&json!(true), &Value::Null), Ok(()));
        assert_eq!(
            err(&json!(false), Value::Null),
            "the arguments must not be present"
        );
    }
}
