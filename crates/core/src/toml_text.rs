//! TOML text parsed into a typed value; an error names where (the origin and the line) and
//! what, but never quotes the text, which may sit next to secrets.

use serde::de::DeserializeOwned;

/// Why a TOML text does not parse into the wanted type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct TomlError {
    /// The file (or "configuration" for text given in code).
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Parses `text`, naming `origin` in errors.
pub fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, TomlError> {
    toml::from_str(text).map_err(|e| TomlError {
        origin: origin.to_owned(),
        line: e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.matches('\n').count() + 1),
        message: e.message().trim_end().to_owned(),
    })
}
