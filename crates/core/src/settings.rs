//! Run settings and their defaults, as ARCHITECTURE §4 fixes them.

use serde::{Deserialize, Serialize};

/// Everything that shapes one run's search. Defaults match the AIDE reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSettings {
    /// Total nodes the run creates (drafts, debugs and improvements all count).
    pub steps: u32,
    pub search: SearchSettings,
    /// Wall-clock limit of one script execution, in seconds.
    pub exec_timeout_secs: u64,
    /// Folds suggested to the author for cross-validation; 1 turns the hint off.
    pub k_fold_validation: u32,
    /// Include the data preview in draft and debug prompts.
    pub data_preview: bool,
    pub code: ModelSettings,
    pub feedback: ModelSettings,
    /// Ask the author to expose a documented `predict()` function (the reference's option).
    pub expose_prediction: bool,
    /// Nodes expanded in parallel within the run.
    pub workers: u32,
    /// Seed of the run's random choices.
    pub seed: u64,
    /// Token budget of the memory section in prompts ([`crate::tokens`]). Runs stored
    /// before budgets were in tokens named it `memory_budget_chars` (always the default
    /// 12,000); that name is still read, its value then taken as tokens, a looser memory
    /// for such a run if it is resumed.
    #[serde(alias = "memory_budget_chars")]
    pub memory_budget_tokens: usize,
    /// Optional wall-clock limit of the whole run, in seconds.
    pub max_run_secs: Option<u64>,
    /// Optional spending limit of the whole run, in US dollars.
    pub max_cost_usd: Option<f64>,
}

/// The knobs of the greedy AIDE policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    pub num_drafts: u32,
    pub debug_prob: f64,
    pub max_debug_depth: u32,
}

/// Which model answers a kind of request, and how hot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// `provider/model` or a bare model name routed by prefix.
    pub model: String,
    pub temperature: f64,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            steps: 20,
            search: SearchSettings::default(),
            exec_timeout_secs: 3600,
            k_fold_validation: 5,
            data_preview: true,
            code: ModelSettings::default(),
            feedback: ModelSettings::default(),
            expose_prediction: false,
            workers: 1,
            seed: 0,
            // Some 12,000 characters of plans and findings, the character budget it replaces.
            memory_budget_tokens: 3_000,
            max_run_secs: None,
            max_cost_usd: None,
        }
    }
}

impl Default for SearchSettings {
    fn default() -> Self {
        Self {
            num_drafts: 5,
            debug_prob: 0.5,
            max_debug_depth: 3,
        }
    }
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            model: "baseline".into(),
            temperature: 0.5,
        }
    }
}

impl RunSettings {
    /// Rejects settings no run can use, naming the field; the bounds keep every duration
    /// computed from the settings from overflowing a clock.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad =
            |field: &str, why: &str| Err(crate::Error::InvalidSettings(format!("{field}: {why}")));
        if self.steps == 0 {
            return bad("steps", "must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.search.debug_prob) {
            return bad("search.debug_prob", "must be between 0 and 1");
        }
        if self.exec_timeout_secs == 0 {
            return bad("exec_timeout_secs", "must be at least 1 second");
        }
        if self.exec_timeout_secs > MAX_EXEC_TIMEOUT_SECS {
            return bad("exec_timeout_secs", "must be at most 30 days (2592000 s)");
        }
        if self.max_run_secs.is_some_and(|secs| secs > MAX_RUN_SECS) {
            return bad("max_run_secs", "must be at most 10 years");
        }
        if self.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        for (field, m) in [("code", &self.code), ("feedback", &self.feedback)] {
            if m.model.trim().is_empty() {
                return bad(&format!("{field}.model"), "must not be empty");
            }
            if !(0.0..=2.0).contains(&m.temperature) {
                return bad(&format!("{field}.temperature"), "must be between 0 and 2");
            }
        }
        if let Some(cost) = self.max_cost_usd
            && !(cost.is_finite() && cost > 0.0)
        {
            return bad("max_cost_usd", "must be a positive number");
        }
        Ok(())
    }
}

/// The longest execution any settings may ask for: 30 days.
pub const MAX_EXEC_TIMEOUT_SECS: u64 = 30 * 24 * 3600;
/// The longest run any settings may ask for: 10 years.
pub const MAX_RUN_SECS: u64 = 10 * 365 * 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_reference() {
        let s = RunSettings::default();
        assert_eq!(s.steps, 20);
        assert_eq!(s.search.num_drafts, 5);
        assert_eq!(s.search.debug_prob, 0.5);
        assert_eq!(s.search.max_debug_depth, 3);
        assert_eq!(s.exec_timeout_secs, 3600);
        assert_eq!(s.k_fold_validation, 5);
        assert!(s.data_preview);
        assert_eq!(s.code.temperature, 0.5);
        assert_eq!(s.feedback.temperature, 0.5);
        assert!(!s.expose_prediction);
        assert_eq!(s.workers, 1);
        s.validate().expect("defaults are valid");
    }

    #[test]
    fn partial_toml_keeps_defaults_and_unknown_keys_are_named() {
        let s: RunSettings =
            toml::from_str("steps = 8\n[search]\nnum_drafts = 2\n").expect("parse");
        assert_eq!(
            (s.steps, s.search.num_drafts, s.search.max_debug_depth),
            (8, 2, 3)
        );
        let err = toml::from_str::<RunSettings>("stepz = 8").expect_err("unknown key");
        assert!(err.to_string().contains("stepz"), "{err}");
    }

    #[test]
    fn settings_stored_with_a_character_budget_still_read() {
        let mut stored = serde_json::to_value(RunSettings::default()).expect("json");
        let object = stored.as_object_mut().expect("object");
        let budget = object.remove("memory_budget_tokens").expect("the field");
        assert_eq!(budget, 3_000);
        object.insert("memory_budget_chars".into(), 12_000.into());
        let s: RunSettings = serde_json::from_value(stored).expect("read");
        assert_eq!(s.memory_budget_tokens, 12_000);
        let written = serde_json::to_value(&s).expect("json");
        assert!(written.get("memory_budget_chars").is_none(), "{written}");
    }

    #[test]
    fn validation_names_the_bad_field() {
        let mut s = RunSettings::default();
        s.search.debug_prob = 1.5;
        let err = s.validate().expect_err("invalid").to_string();
        assert!(err.contains("search.debug_prob"), "{err}");
        let s = RunSettings {
            workers: 0,
            ..RunSettings::default()
        };
        assert!(
            s.validate()
                .expect_err("invalid")
                .to_string()
                .contains("workers")
        );
    }
}
