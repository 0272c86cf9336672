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

/// The search policy and its knobs. `num_drafts`, `debug_prob` and `max_debug_depth` are the
/// greedy AIDE policy's (§4); the other policies read them too where they draft and debug.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// Which policy chooses the next node. Settings stored before policies were pluggable
    /// have none, and read as greedy.
    pub policy: PolicyKind,
    pub num_drafts: u32,
    pub debug_prob: f64,
    pub max_debug_depth: u32,
    /// Which nodes the memory section of a code prompt shows.
    pub memory: MemoryScope,
    pub mcts: MctsSettings,
    pub evolutionary: EvolutionarySettings,
}

/// A search policy (ARCHITECTURE §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// The reference's policy (§4): draft, debug with a probability, improve the best.
    #[default]
    Greedy,
    /// Monte Carlo tree search: UCT selection over normalised scores.
    Mcts,
    /// Islands of populations, tournament selection, improve and merge, migration.
    Evolutionary,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Greedy => "greedy",
            Self::Mcts => "mcts",
            Self::Evolutionary => "evolutionary",
        }
    }
}

/// Which nodes a code prompt's memory shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryScope {
    /// Every good node of the run (the reference's memory).
    #[default]
    All,
    /// The good nodes that share the new node's parent (for a draft: the other drafts).
    Siblings,
    /// The new node's ancestors, buggy ones included: the chain of attempts it continues.
    Chain,
}

/// The knobs of Monte Carlo tree search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MctsSettings {
    /// UCT's exploration constant at the first step.
    pub exploration: f64,
    /// Factor the exploration constant is multiplied by at each step (1: constant).
    pub exploration_decay: f64,
    /// The value a buggy node backs up, on the normalised scale where the run's worst good
    /// score is 0 and its best is 1.
    pub buggy_value: f64,
    /// Most children of one node (in-flight ones count).
    pub max_children: u32,
}

/// The knobs of the evolutionary policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvolutionarySettings {
    /// Islands: populations that evolve apart and exchange their best now and then.
    pub islands: u32,
    /// Good nodes an island keeps as its population (its best ones).
    pub population: u32,
    /// Members drawn for a tournament; the best of them is the parent.
    pub tournament: u32,
    /// Probability that an offspring is a merge of two tournament winners rather than an
    /// improvement of one.
    pub merge_prob: f64,
    /// Generations (a population's worth of offspring) between two migrations: an island's
    /// best merged into its neighbour's.
    pub migration_every: u32,
}

impl Default for MctsSettings {
    fn default() -> Self {
        Self {
            exploration: 1.0,
            exploration_decay: 0.99,
            buggy_value: 0.0,
            max_children: 3,
        }
    }
}

impl Default for EvolutionarySettings {
    fn default() -> Self {
        Self {
            islands: 2,
            population: 4,
            tournament: 2,
            merge_prob: 0.3,
            migration_every: 2,
        }
    }
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
            policy: PolicyKind::Greedy,
            num_drafts: 5,
            debug_prob: 0.5,
            max_debug_depth: 3,
            memory: MemoryScope::All,
            mcts: MctsSettings::default(),
            evolutionary: EvolutionarySettings::default(),
        }
    }
}

impl SearchSettings {
    /// Rejects knobs no search can use, naming the field.
    fn validate(&self) -> Result<(), crate::Error> {
        let bad = |field: &str, why: &str| {
            Err(crate::Error::InvalidSettings(format!(
                "search.{field}: {why}"
            )))
        };
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        if !unit(self.debug_prob) {
            return bad("debug_prob", "must be between 0 and 1");
        }
        let m = &self.mcts;
        if !(m.exploration.is_finite() && m.exploration >= 0.0) {
            return bad("mcts.exploration", "must be a number of at least 0");
        }
        if !(m.exploration_decay > 0.0 && m.exploration_decay <= 1.0) {
            return bad("mcts.exploration_decay", "must be above 0 and at most 1");
        }
        if !unit(m.buggy_value) {
            return bad("mcts.buggy_value", "must be between 0 and 1");
        }
        if m.max_children == 0 {
            return bad("mcts.max_children", "must be at least 1");
        }
        let e = &self.evolutionary;
        if e.islands == 0 || e.population == 0 || e.migration_every == 0 {
            return bad(
                "evolutionary",
                "islands, population and migration_every must be at least 1",
            );
        }
        if e.tournament == 0 || e.tournament > e.population {
            return bad(
                "evolutionary.tournament",
                "must be at least 1 and at most the population",
            );
        }
        if !unit(e.merge_prob) {
            return bad("evolutionary.merge_prob", "must be between 0 and 1");
        }
        Ok(())
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
        self.search.validate()?;
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
            s.search.policy,
            PolicyKind::Greedy,
            "no policy named: greedy"
        );
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
    fn a_policy_and_its_knobs_are_read_from_toml() {
        let s: RunSettings = toml::from_str(
            "[search]\npolicy = \"evolutionary\"\nmemory = \"siblings\"\n\
             [search.evolutionary]\nislands = 3\n[search.mcts]\nmax_children = 2\n",
        )
        .expect("parse");
        assert_eq!(s.search.policy, PolicyKind::Evolutionary);
        assert_eq!(s.search.memory, MemoryScope::Siblings);
        assert_eq!(s.search.evolutionary.islands, 3);
        assert_eq!(
            s.search.evolutionary.population, 4,
            "the rest keeps its defaults"
        );
        assert_eq!(s.search.mcts.max_children, 2);
        let err = toml::from_str::<RunSettings>("[search]\npolicy = \"beam\"\n")
            .expect_err("unknown policy");
        assert!(err.to_string().contains("beam"), "{err}");
        let mut s = RunSettings::default();
        s.search.evolutionary.tournament = 9;
        let err = s.validate().expect_err("tournament above the population");
        assert!(err.to_string().contains("evolutionary.tournament"), "{err}");
    }

    #[test]
    fn settings_stored_before_policies_read_as_the_same_greedy_search() {
        let stored = r#"{"num_drafts": 2, "debug_prob": 0.25, "max_debug_depth": 1}"#;
        let s: SearchSettings = serde_json::from_str(stored).expect("read");
        assert_eq!(s.policy, PolicyKind::Greedy);
        assert_eq!(
            (s.num_drafts, s.debug_prob, s.max_debug_depth),
            (2, 0.25, 1)
        );
        assert_eq!(s.memory, MemoryScope::All);
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
