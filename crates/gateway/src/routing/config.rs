//! The providers section of the configuration file and how its entries become
//! [`ProviderConfig`]s, alone or laid over a built-in provider of the same name.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{ProviderConfig, ProviderKind, trim_url};
use crate::Error;
use crate::secrets::{Env, Secret};

/// The providers section of a configuration file:
///
/// ```toml
/// default_provider = "ollama"          # optional: where unknown bare names go
/// [providers.ollama]
/// kind = "openai"
/// base_url = "http://localhost:11434/v1"
/// # api_key_env = "OLLAMA_KEY"  or  api_key_file = "/run/secrets/ollama"
/// [providers.ollama.headers]
/// X-Team = "ml"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ProvidersConfig {
    /// Provider for bare names no prefix rule matches.
    #[serde(default)]
    pub default_provider: Option<String>,
    /// User-defined providers, or overrides of built-in ones by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderEntry>,
}

/// One `[providers.<name>]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// Wire format; may be left out when overriding a built-in provider.
    pub kind: Option<ProviderKind>,
    /// Base URL; may be left out when overriding a built-in provider.
    pub base_url: Option<String>,
    /// Environment variable holding the key.
    pub api_key_env: Option<String>,
    /// File holding the key.
    pub api_key_file: Option<PathBuf>,
    /// Present only to refuse it: keys do not belong in config files.
    #[serde(default)]
    api_key: Option<toml::Value>,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl ProvidersConfig {
    /// Parses the TOML text of a configuration file; other top-level sections are ignored.
    /// Parse errors report the message and line but never quote the file's text.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .and_then(|s| text.get(..s.start))
                .map(|before| before.matches('\n').count() + 1);
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            Error::ProviderConfig(format!("{}{at}", e.message().trim_end()))
        })
    }
}

pub(super) fn apply_entry(
    name: &str,
    entry: &ProviderEntry,
    builtin: Option<ProviderConfig>,
    env: Env<'_>,
) -> Result<ProviderConfig, Error> {
    let bad = |why: String| Error::ProviderConfig(format!("[providers.{name}]: {why}"));
    if name.is_empty() || name.contains('/') || name.trim() != name {
        return Err(bad(
            "a provider name must be non-empty, without '/' or spaces".into(),
        ));
    }
    if entry.api_key.is_some() {
        return Err(bad(
            "api_key is not accepted in a config file; use api_key_env or api_key_file".into(),
        ));
    }
    if entry.api_key_env.is_some() && entry.api_key_file.is_some() {
        return Err(bad("set api_key_env or api_key_file, not both".into()));
    }
    let kind = entry
        .kind
        .or(builtin.as_ref().map(|b| b.kind))
        .ok_or_else(|| bad("kind is missing (\"openai\", \"anthropic\" or \"baseline\")".into()))?;
    let base_url = match (&entry.base_url, &builtin) {
        (Some(url), _) => trim_url(url),
        (None, Some(b)) => b.base_url.clone(),
        (None, None) if kind == ProviderKind::Baseline => String::new(),
        (None, None) => return Err(bad("base_url is missing".into())),
    };
    if kind != ProviderKind::Baseline
        && !(base_url.starts_with("http://") || base_url.starts_with("https://"))
    {
        return Err(bad(format!(
            "base_url {base_url:?} must start with http:// or https://"
        )));
    }
    let (api_key, api_key_source, requires_key) = if let Some(var) = &entry.api_key_env {
        (Secret::from_env_opt(var, env)?, Some(var.clone()), true)
    } else if let Some(path) = &entry.api_key_file {
        let source = format!("file {}", path.display());
        (Some(Secret::from_file(path)?), Some(source), true)
    } else if let Some(b) = builtin {
        // A built-in keeps its key; it stops requiring one when pointed elsewhere.
        let moved = entry.base_url.is_some() && base_url != b.base_url;
        (b.api_key, b.api_key_source, b.requires_key && !moved)
    } else {
        (None, None, false)
    };
    Ok(ProviderConfig {
        name: name.to_owned(),
        kind,
        base_url,
        api_key,
        api_key_source,
        requires_key,
        headers: entry.headers.clone(),
    })
}
