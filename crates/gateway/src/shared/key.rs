//! Response-cache keys: the canonical hash of everything that shapes an answer, and the rule
//! deciding whether a request uses the cache at all.

use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// The identity of one cacheable request: the lowercase hex SHA-256 of its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(pub String);

/// Version of the canonical form; bump it when the hashed layout changes so old entries are
/// never read back under a different meaning.
const KEY_VERSION: u32 = 1;

/// Builds the cache key of a request from its provider, model, messages (role, content), the
/// function spec it must call (`{name, description, parameters}`), temperature and token cap.
/// The inputs are written as canonical JSON (object keys sorted at every depth, no
/// whitespace) before hashing, so the same spec in any key order gives the same key.
pub fn cache_key(
    provider: &str,
    model: &str,
    messages: &[(&str, &str)],
    function: Option<&serde_json::Value>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
) -> CacheKey {
    let messages: Vec<serde_json::Value> = messages
        .iter()
        .map(|(role, content)| serde_json::json!({ "role": role, "content": content }))
        .collect();
    // -0.0 and 0.0 sample the same way.
    let temperature = temperature.map(|t| if t == 0.0 { 0.0 } else { t });
    let request = serde_json::json!({
        "v": KEY_VERSION,
        "provider": provider,
        "model": model,
        "messages": messages,
        "function": function,
        "temperature": temperature,
        "max_tokens": max_tokens,
    });
    let mut canonical = String::new();
    write_canonical(&request, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    CacheKey(hex)
}

/// Whether a request uses the response cache: an explicit flag wins; otherwise the cache is
/// on only for deterministic sampling (temperature exactly 0).
pub fn cache_enabled(requested: Option<bool>, temperature: Option<f64>) -> bool {
    requested.unwrap_or(temperature == Some(0.0))
}

/// Writes `value` as JSON with object keys sorted at every depth. Independent of whether
/// serde_json keeps insertion order (its `preserve_order` feature may be on in the build).
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_nested_keys() {
        let value = serde_json::json!({"b": [ {"z": 1, "a": null} ], "a": "x"});
        let mut out = String::new();
        write_canonical(&value, &mut out);
        assert_eq!(out, r#"{"a":"x","b":[{"a":null,"z":1}]}"#);
    }
}
