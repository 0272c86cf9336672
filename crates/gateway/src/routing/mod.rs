//! Provider routing: which provider answers a model name, with which base URL and key.
//!
//! Models are addressed as `provider/model` (only the first segment names the provider, so
//! `openrouter/meta-llama/llama-3.1-70b` sends `meta-llama/llama-3.1-70b` to OpenRouter) or
//! as a bare name routed by prefix: `gpt-*`, `o1*`, `o3*`, `o4*`, `chatgpt-*` → openai,
//! `claude-*` → anthropic, `gemini-*` → gemini, `baseline*` → baseline. Any other bare name
//! goes to the fallback provider — `openai` when `OPENAI_BASE_URL` is set (how users reach
//! Ollama, vLLM, llama.cpp or LiteLLM), or the configured `default_provider` — and is an
//! error otherwise. The environment is passed in as an [`Env`]; nothing here reads it.

mod config;

use std::collections::BTreeMap;

use serde::Deserialize;

use config::apply_entry;
pub use config::{ProviderEntry, ProvidersConfig};

use crate::Error;
use crate::secrets::{Env, Secret};

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`; empty for baseline.
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
        let mut providers = builtins(env);
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

pub(crate) fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// The built-in providers. Keys that are unset or empty count as absent here (an empty
/// `OPENAI_API_KEY=` in a `.env` file must not block the baseline); routing to a provider
/// that needs the missing key fails with the variable's name.
fn builtins(env: Env<'_>) -> BTreeMap<String, ProviderConfig> {
    let set = |var: &str| env(var).filter(|v| !v.trim().is_empty());
    let openai_base = set("OPENAI_BASE_URL");
    let gemini_var = match (set("GEMINI_API_KEY"), set("GOOGLE_API_KEY")) {
        (None, Some(_)) => "GOOGLE_API_KEY",
        _ => "GEMINI_API_KEY",
    };
    let hosted = [
        // A custom OpenAI base URL usually means a local server that takes no key.
        (
            "openai",
            ProviderKind::OpenAiCompatible,
            openai_base.clone(),
            OPENAI_BASE_URL,
            "OPENAI_API_KEY",
            openai_base.is_none(),
        ),
        (
            "anthropic",
            ProviderKind::Anthropic,
            set("ANTHROPIC_BASE_URL"),
            ANTHROPIC_BASE_URL,
            "ANTHROPIC_API_KEY",
            true,
        ),
        (
            "gemini",
            ProviderKind::OpenAiCompatible,
            None,
            GEMINI_BASE_URL,
            gemini_var,
            true,
        ),
        (
            "openrouter",
            ProviderKind::OpenAiCompatible,
            None,
            OPENROUTER_BASE_URL,
            "OPENROUTER_API_KEY",
            true,
        ),
    ];
    let mut providers: BTreeMap<String, ProviderConfig> = hosted
        .into_iter()
        .map(|(name, kind, base, default_base, var, requires_key)| {
            let provider = ProviderConfig {
                name: name.to_owned(),
                kind,
                base_url: trim_url(base.as_deref().unwrap_or(default_base)),
                api_key: set(var).map(|v| Secret::new(v.trim_end())),
                api_key_source: Some(var.to_owned()),
                requires_key,
                headers: BTreeMap::new(),
            };
            (name.to_owned(), provider)
        })
        .collect();
    let baseline = ProviderConfig {
        name: "baseline".into(),
        kind: ProviderKind::Baseline,
        base_url: String::new(),
        api_key: None,
        api_key_source: None,
        requires_key: false,
        headers: BTreeMap::new(),
    };
    providers.insert(baseline.name.clone(), baseline);
    providers
}

#[cfg(test)]
mod tests;
