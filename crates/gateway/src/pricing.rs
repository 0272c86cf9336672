//! Pricing: what a call cost in US dollars, from the shipped `prices.toml` (list prices per
//! 1M tokens, embedded at build time) with an optional user file laid over it.
//!
//! Unknown models have no price ([`PriceTable::cost`] is `None`); the caller records a cost
//! of 0 and logs a warning. See `prices.toml` for the format and the model-matching rule.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Error;

/// The shipped price table, as text.
pub const SHIPPED_PRICES: &str = include_str!("../prices.toml");

/// The key matching every model of its provider.
pub const ANY_MODEL: &str = "*";

/// Prices of one model, USD per 1M tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens not served from the prompt cache.
    pub input: f64,
    /// Prompt tokens served from the prompt cache; `None` = the input price.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Generated tokens.
    pub output: f64,
}

/// Tokens of one call, normalised: `prompt` includes the `cached` tokens (as in the
/// `aide.v1.Usage` message; Anthropic's `input_tokens` must have cache reads added back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Prompt tokens, cached ones included.
    pub prompt: u64,
    /// Generated tokens.
    pub completion: u64,
    /// Prompt tokens served from the provider's prompt cache.
    pub cached: u64,
}

impl From<&aide_proto::v1::Usage> for TokenUsage {
    fn from(usage: &aide_proto::v1::Usage) -> Self {
        Self {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            cached: usage.cached_tokens,
        }
    }
}

impl Price {
    /// The cost of `usage` at this price: cached tokens at the cached rate, the rest of the
    /// prompt at the input rate, completion at the output rate. Cached tokens beyond the
    /// prompt (inconsistent provider data) count as prompt tokens only.
    pub fn cost(&self, usage: TokenUsage) -> f64 {
        let cached = usage.cached.min(usage.prompt);
        let fresh = usage.prompt - cached;
        let cached_rate = self.cached_input.unwrap_or(self.input);
        (fresh as f64 * self.input
            + cached as f64 * cached_rate
            + usage.completion as f64 * self.output)
            / 1_000_000.0
    }
}

/// Prices by provider and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    providers: BTreeMap<String, BTreeMap<String, Price>>,
}

impl PriceTable {
    /// The shipped table.
    pub fn shipped() -> Self {
        Self::from_toml(SHIPPED_PRICES, "shipped prices.toml")
            .expect("the shipped prices.toml is valid; a unit test parses it")
    }

    /// The shipped table with a user file's entries laid over it.
    pub fn with_overrides(user_text: &str, origin: &str) -> Result<Self, Error> {
        let mut table = Self::shipped();
        table.merge(Self::from_toml(user_text, origin)?);
        Ok(table)
    }

    /// Parses a table in the `prices.toml` format; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::PriceTable {
            origin: origin.to_owned(),
            reason,
        };
        let providers: BTreeMap<String, BTreeMap<String, Price>> =
            toml::from_str(text).map_err(|e| bad(e.message().trim_end().to_owned()))?;
        for (provider, models) in &providers {
            for (model, price) in models {
                let rates = [Some(price.input), price.cached_input, Some(price.output)];
                if rates
                    .into_iter()
                    .flatten()
                    .any(|r| !r.is_finite() || r < 0.0)
                {
                    return Err(bad(format!(
                        "{provider}.{model:?}: prices must be finite and not negative"
                    )));
                }
            }
        }
        Ok(Self { providers })
    }

    /// Lays `over` on this table, entry by entry: its models replace or add to these.
    pub fn merge(&mut self, over: PriceTable) {
        for (provider, models) in over.providers {
            self.providers.entry(provider).or_default().extend(models);
        }
    }

    /// The price of a model: its exact key, else the longest key it extends with a version
    /// suffix, else the provider's `*` entry.
    pub fn price(&self, provider: &str, model: &str) -> Option<&Price> {
        let models = self.providers.get(provider)?;
        if let Some(price) = models.get(model) {
            return Some(price);
        }
        models
            .iter()
            .filter(|(key, _)| key.as_str() != ANY_MODEL)
            .filter(|(key, _)| {
                model
                    .strip_prefix(key.as_str())
                    .is_some_and(is_version_suffix)
            })
            .max_by_key(|(key, _)| key.len())
            .map(|(_, price)| price)
            .or_else(|| models.get(ANY_MODEL))
    }

    /// The cost in USD of a call, or `None` when the model has no price.
    pub fn cost(&self, provider: &str, model: &str, usage: TokenUsage) -> Option<f64> {
        self.price(provider, model).map(|price| price.cost(usage))
    }
}

/// Whether `rest` (what follows a price key in a model name) is a version suffix rather than
/// a different model: `-` and 3+ digits (a date or snapshot), `-latest`, `-preview…`, or an
/// Ollama `:tag` / Vertex `@version`.
fn is_version_suffix(rest: &str) -> bool {
    if rest.starts_with(':') || rest.starts_with('@') {
        return rest.len() > 1;
    }
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits >= 3 || rest == "latest" || rest.starts_with("preview")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(prompt: u64, completion: u64, cached: u64) -> TokenUsage {
        TokenUsage {
            prompt,
            completion,
            cached,
        }
    }

    fn assert_close(actual: Option<f64>, expected: f64) {
        let actual = actual.expect("a price");
        assert!((actual - expected).abs() < 1e-12, "{actual} != {expected}");
    }

    #[test]
    fn shipped_table_parses_and_covers_the_common_models() {
        let table = PriceTable::shipped();
        let models = [
            ("openai", "gpt-4o"),
            ("openai", "gpt-4o-mini"),
            ("openai", "gpt-4.1"),
            ("openai", "gpt-4.1-mini"),
            ("openai", "o3"),
            ("openai", "o4-mini"),
            ("anthropic", "claude-sonnet-4-5"),
            ("anthropic", "claude-3-5-sonnet"),
            ("anthropic", "claude-haiku-4-5"),
            ("gemini", "gemini-2.5-pro"),
            ("gemini", "gemini-2.5-flash"),
            ("baseline", "baseline"),
        ];
        for (provider, model) in models {
            assert!(table.price(provider, model).is_some(), "{provider}/{model}");
        }
    }

    #[test]
    fn costs_are_exact() {
        let table = PriceTable::shipped();
        // 800 fresh * 2.50 + 200 cached * 1.25 + 500 * 10.00 = 7250 per 1M.
        assert_close(
            table.cost("openai", "gpt-4o", usage(1000, 500, 200)),
            0.00725,
        );
        // 1M fresh * 0.15 + 1M * 0.60.
        assert_close(
            table.cost("openai", "gpt-4o-mini", usage(1_000_000, 1_000_000, 0)),
            0.75,
        );
        // 10k fresh * 3 + 90k cached * 0.30 + 2k * 15 = 30000 + 27000 + 30000 per 1M.
        assert_close(
            table.cost(
                "anthropic",
                "claude-sonnet-4-5",
                usage(100_000, 2_000, 90_000),
            ),
            0.087,
        );
        // 4000 * 1.25 + 1000 * 10 = 15000 per 1M.
        assert_close(
            table.cost("gemini", "gemini-2.5-pro", usage(4_000, 1_000, 0)),
            0.015,
        );
        assert_close(
            table.cost("baseline", "baseline-tabular-v1", usage(5_000, 5_000, 0)),
            0.0,
        );
    }

    #[test]
    fn cached_defaults_to_input_and_is_bounded_by_the_prompt() {
        let table = PriceTable::shipped();
        // gpt-4o-2024-05-13 has no cached rate: all 1000 prompt tokens at 5.00.
        assert_close(
            table.cost("openai", "gpt-4o-2024-05-13", usage(1_000, 0, 400)),
            0.005,
        );
        // More cached than prompt tokens: the prompt, all cached, is all that is billed.
        assert_close(table.cost("openai", "gpt-4o", usage(100, 0, 500)), 0.000125);
    }

    #[test]
    fn date_suffixed_names_match_their_model_by_longest_prefix() {
        let table = PriceTable::shipped();
        let cases = [
            ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
            ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("openai", "o3-2025-04-16", "o3"),
            (
                "anthropic",
                "claude-sonnet-4-5-20250929",
                "claude-sonnet-4-5",
            ),
            (
                "anthropic",
                "claude-3-5-sonnet-20241022",
                "claude-3-5-sonnet",
            ),
            ("anthropic", "claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
            ("anthropic", "claude-opus-4-5-20251101", "claude-opus-4-5"),
            (
                "gemini",
                "gemini-2.5-flash-preview-05-20",
                "gemini-2.5-flash",
            ),
        ];
        for (provider, model, key) in cases {
            assert_eq!(
                table.price(provider, model),
                table.price(provider, key),
                "{model}"
            );
            assert!(table.price(provider, model).is_some(), "{model}");
        }
    }

    #[test]
    fn different_models_sharing_a_prefix_do_not_match() {
        let table = PriceTable::shipped();
        for (provider, model) in [
            ("openai", "gpt-4o-audio-preview"),
            ("openai", "o3-pro"),
            ("openai", "gpt-5.1"),
            ("openai", "gpt-4"),
            ("gemini", "gemini-2.5-flash-image"),
            ("openai", "llama3.1"),
            ("ollama", "llama3.1"),
            ("openrouter", "openai/gpt-4o"),
        ] {
            assert_eq!(
                table.cost(provider, model, usage(10, 10, 0)),
                None,
                "{model}"
            );
        }
    }

    #[test]
    fn user_file_overrides_and_adds_entries() {
        let user = r#"
            [openai]
            "gpt-4o" = { input = 2, output = 8 }
            [ollama]
            "*" = { input = 0, output = 0 }
            "llama3.1" = { input = 0.5, output = 1 }
        "#;
        let table = PriceTable::with_overrides(user, "prices.local.toml").unwrap();
        // Overridden: no cached rate any more, so 1000 * 2 + 1000 * 8.
        assert_close(
            table.cost("openai", "gpt-4o", usage(1_000, 1_000, 500)),
            0.01,
        );
        // Untouched shipped entries stay.
        assert_close(
            table.cost("openai", "gpt-4o-mini", usage(1_000_000, 0, 0)),
            0.15,
        );
        assert_close(
            table.cost("ollama", "llama3.1:8b", usage(2_000_000, 0, 0)),
            1.0,
        );
        assert_close(table.cost("ollama", "qwen2.5", usage(2_000_000, 0, 0)), 0.0);
    }

    #[test]
    fn invalid_tables_are_refused_with_their_origin() {
        let cases = [
            (
                "[openai]\n\"x\" = { input = -1, output = 1 }\n",
                "not negative",
            ),
            ("[openai]\n\"x\" = { input = nan, output = 1 }\n", "finite"),
            ("[openai]\n\"x\" = { input = 1 }\n", "output"),
            (
                "[openai]\n\"x\" = { input = 1, output = 1, per = 1 }\n",
                "per",
            ),
            ("[openai]\n\"x\" = 3\n", "openai"),
        ];
        for (text, expected) in cases {
            let message = PriceTable::from_toml(text, "my-prices.toml")
                .unwrap_err()
                .to_string();
            assert!(message.contains("my-prices.toml"), "{message}");
            assert!(
                message.contains(expected) || message.contains("invalid"),
                "{text}: {message}"
            );
        }
    }

    #[test]
    fn usage_converts_from_the_proto_message() {
        let proto = aide_proto::v1::Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            cached_tokens: 1,
        };
        assert_eq!(TokenUsage::from(&proto), usage(3, 2, 1));
    }
}
