//! Provider routing: which provider answers a model name, with which base URL and key.
//!
//! Models are addressed as `provider/model` (only the first segment names the provider, so
//! `openrouter/meta-llama/llama-3.1-70b` sends `meta-llama/llama-3.1-70b` to OpenRouter) or
//! as a bare name routed by prefix: `gpt-*`, `o1*`, `o3*`, `o4*`, `chatgpt-*` → openai,
//! `claude-*` → anthropic, `gemini-*` → gemini, `baseline*` → baseline. Any other bare name
//! goes to the fallback provider — `openai` when `OPENAI_BASE_URL` is set (how users reach
//! Ollama, vLLM, llama.cpp or LiteLLM), or the configured `default_provider` — and is an
//! error otherwise. The environment is passed in as an [`Env`]; nothing here reads it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::Error;
use crate::secrets::{Env, Secret};

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ProviderKind {
    /// OpenAI Chat Completions (OpenAI, Gemini's compatible endpoint, OpenRouter, Ollama,
    /// vLLM, llama.cpp, LiteLLM). Written `kind = "openai"` in the config file.
    #[serde(
        rename = "openai",
        alias = "openai-compatible",
        alias = "openai_compatible"
    )]
    OpenAiCompatible,
    /// Anthropic Messages.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// The offline deterministic author; no network.
    #[serde(rename = "baseline")]
    Baseline,
}

/// One provider the gateway can call. `Debug` is safe to log: the key prints `[redacted]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The name used in `provider/model`, e.g. "openai", "ollama".
    pub name: String,
    /// The wire format.
    pub kind: ProviderKind,
    /// Base URL without a trailing slash, e.g. "https://api.openai.com/v1"; empty for baseline.
    pub base_url: String,
    /// The API key, when one is configured.
    pub api_key: Option<Secret>,
    /// Where the key comes from ("OPENAI_API_KEY", "file /run/secrets/key"), for messages.
    pub api_key_source: Option<String>,
    /// True when calls cannot succeed without a key (the hosted providers).
    pub requires_key: bool,
    /// Extra HTTP headers sent with every call (e.g. OpenRouter's `HTTP-Referer`).
    pub headers: BTreeMap<String, String>,
}

/// Where a model request goes: the provider and the provider-side model name.
#[derive(Debug, Clone, PartialEq)]
pub struct Route<'a> {
    /// The provider that answers.
    pub provider: &'a ProviderConfig,
    /// The model name as the provider knows it (the part after `provider/`).
    pub model: String,
}

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

/// The OpenAI-compatible default base URL.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// The Anthropic default base URL.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// Gemini's OpenAI-compatible endpoint.
pub const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta/openai";
/// OpenRouter's OpenAI-compatible endpoint.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// Bare-name prefixes and the provider they route to, checked in order.
const PREFIX_RULES: &[(&str, &str)] = &[
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("baseline", "baseline"),
];

/// Whether the model takes a `temperature` parameter. The OpenAI reasoning models (`o1*`,
/// `o3*`, `o4*`, `gpt-5*`) reject it, so requests leave it out for them. Looks at the last
/// path segment, so `openrouter/openai/o3-mini` counts as `o3-mini`.
pub fn accepts_temperature(model: &str) -> bool {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    !["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The set of configured providers and the routing rules over them.
#[derive(Debug, Clone, PartialEq)]
pub struct Providers {
    providers: BTreeMap<String, ProviderConfig>,
    fallback: Option<String>,
}

impl Providers {
    /// The built-in providers (openai, anthropic, gemini, openrouter, baseline), with keys and
    /// base URLs from the environment as the official SDKs read them: `OPENAI_API_KEY`,
    /// `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `GEMINI_API_KEY` (or
    /// `GOOGLE_API_KEY`), `OPENROUTER_API_KEY`.
    pub fn builtin(env: Env<'_>) -> Result<Self, Error> {
        Self::load(&ProvidersConfig::default(), env)
    }

    /// The built-in providers with the configuration file's entries added or laid over them.
    pub fn load(config: &ProvidersConfig, env: Env<'_>) -> Result<Self, Error> {
        let mut providers = builtins(env)?;
        let mut fallback = env("OPENAI_BASE_URL")
            .filter(|v| !v.trim().is_empty())
            .map(|_| "openai".to_owned());
        for (name, entry) in &config.providers {
            let provider = apply_entry(name, entry, providers.remove(name), env)?;
            providers.insert(name.clone(), provider);
        }
        if let Some(default) = &config.default_provider {
            if !providers.contains_key(default) {
                return Err(Error::ProviderConfig(format!(
                    "default_provider {default:?} is not a configured provider"
                )));
            }
            fallback = Some(default.clone());
        }
        Ok(Self {
            providers,
            fallback,
        })
    }

    /// The provider of that name.
    pub fn get(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.get(name)
    }

    /// Names of all providers, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Where bare names no prefix rule matches go, if anywhere.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Routes a model name (see the module docs). Fails with a message saying how to address
    /// the model when nothing matches, and when the chosen provider needs a key it lacks.
    pub fn route(&self, model: &str) -> Result<Route<'_>, Error> {
        let model = model.trim();
        if model.is_empty() {
            return Err(self.unroutable(model, "the model name is empty"));
        }
        let (provider, provider_model) = match model.split_once('/') {
            Some((head, rest)) if self.providers.contains_key(head) => {
                if rest.trim().is_empty() {
                    return Err(self.unroutable(model, "no model name follows the provider"));
                }
                (head, rest)
            }
            _ => match self.by_prefix(model) {
                Some(provider) => (provider, model),
                None => return Err(self.unroutable(model, "no provider matches it")),
            },
        };
        let provider = self
            .providers
            .get(provider)
            .ok_or_else(|| self.unroutable(model, "its provider is not configured"))?;
        if provider.requires_key && provider.api_key.is_none() {
            let source = provider.api_key_source.as_deref().unwrap_or("an API key");
            return Err(Error::Secret {
                source_name: source_description(source),
                reason: format!(
                    "it is not set, and provider {} needs it for model {model:?}",
                    provider.name
                ),
            });
        }
        Ok(Route {
            provider,
            model: provider_model.to_owned(),
        })
    }

    fn by_prefix(&self, model: &str) -> Option<&str> {
        PREFIX_RULES
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix))
            .map(|(_, provider)| *provider)
            .or(self.fallback.as_deref())
    }

    fn unroutable(&self, model: &str, why: &str) -> Error {
        let names: Vec<&str> = self.names().collect();
        Error::UnroutableModel {
            model: model.to_owned(),
            hint: format!(
                "{why}. Address it as provider/model (providers: {}), use a name starting with \
                 gpt-, o1, o3, o4, chatgpt-, claude-, gemini- or baseline, or set \
                 OPENAI_BASE_URL to send bare names to an OpenAI-compatible server (Ollama, \
                 vLLM, llama.cpp, LiteLLM)",
                names.join(", ")
            ),
        }
    }
}

fn source_description(source: &str) -> String {
    if source.starts_with("file ") {
        source.to_owned()
    } else {
        format!("environment variable {source}")
    }
}

fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

fn builtins(env: Env<'_>) -> Result<BTreeMap<String, ProviderConfig>, Error> {
    let openai_base = env("OPENAI_BASE_URL").filter(|v| !v.trim().is_empty());
    let anthropic_base = env("ANTHROPIC_BASE_URL").filter(|v| !v.trim().is_empty());
    let gemini_var = if env("GEMINI_API_KEY").is_some() || env("GOOGLE_API_KEY").is_none() {
        "GEMINI_API_KEY"
    } else {
        "GOOGLE_API_KEY"
    };
    let hosted = |name: &str, kind, base: String, var: &str, requires_key| {
        Ok::<_, Error>(ProviderConfig {
            name: name.to_owned(),
            kind,
            base_url: trim_url(&base),
            api_key: Secret::from_env_opt(var, env)?,
            api_key_source: Some(var.to_owned()),
            requires_key,
            headers: BTreeMap::new(),
        })
    };
    let list = [
        hosted(
            "openai",
            ProviderKind::OpenAiCompatible,
            openai_base
                .clone()
                .unwrap_or_else(|| OPENAI_BASE_URL.into()),
            "OPENAI_API_KEY",
            // A custom base URL usually means a local server that takes no key.
            openai_base.is_none(),
        )?,
        hosted(
            "anthropic",
            ProviderKind::Anthropic,
            anthropic_base.unwrap_or_else(|| ANTHROPIC_BASE_URL.into()),
            "ANTHROPIC_API_KEY",
            true,
        )?,
        hosted(
            "gemini",
            ProviderKind::OpenAiCompatible,
            GEMINI_BASE_URL.into(),
            gemini_var,
            true,
        )?,
        hosted(
            "openrouter",
            ProviderKind::OpenAiCompatible,
            OPENROUTER_BASE_URL.into(),
            "OPENROUTER_API_KEY",
            true,
        )?,
        ProviderConfig {
            name: "baseline".into(),
            kind: ProviderKind::Baseline,
            base_url: String::new(),
            api_key: None,
            api_key_source: None,
            requires_key: false,
            headers: BTreeMap::new(),
        },
    ];
    Ok(list.into_iter().map(|p| (p.name.clone(), p)).collect())
}

fn apply_entry(
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

#[cfg(test)]
mod tests;
