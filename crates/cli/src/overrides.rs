//! The reference implementation's `key=value` overrides (`data_dir=… goal=… agent.steps=…`),
//! so its users can switch without relearning: splitting the positional inputs into a task
//! path and overrides, parsing each value, and laying them over the run settings.

use std::path::{Path, PathBuf};

use aide_core::task::ReferenceTask;
use aide_core::{RunSettings, SearchSettings};

use crate::error::CliError;

/// Every key `aide run` accepts, in the order the help lists them.
pub const KEYS: &[&str] = &[
    "data_dir",
    "goal",
    "eval",
    "desc_file",
    "log_dir",
    "workspace_dir",
    "exp_name",
    "agent.steps",
    "agent.search.num_drafts",
    "agent.search.debug_prob",
    "agent.search.max_debug_depth",
    "agent.search.policy",
    "agent.search.memory",
    "agent.search.mcts.<knob>",
    "agent.search.evolutionary.<knob>",
    "agent.code.model",
    "agent.feedback.model",
    "agent.code.temp",
    "agent.feedback.temp",
    "agent.k_fold_validation",
    "agent.data_preview",
    "agent.expose_prediction",
    "exec.timeout",
    "generate_report",
];

/// The positional inputs of `aide run`: an optional task path and the overrides.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub task_path: Option<PathBuf>,
    pub overrides: Overrides,
}

/// The overrides given, each `None` when absent.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub reference: ReferenceTask,
    pub log_dir: Option<PathBuf>,
    pub workspace_dir: Option<PathBuf>,
    pub exp_name: Option<String>,
    pub steps: Option<u32>,
    pub num_drafts: Option<u32>,
    pub debug_prob: Option<f64>,
    pub max_debug_depth: Option<u32>,
    pub code_model: Option<String>,
    pub feedback_model: Option<String>,
    pub code_temp: Option<f64>,
    pub feedback_temp: Option<f64>,
    pub k_fold_validation: Option<u32>,
    pub data_preview: Option<bool>,
    pub expose_prediction: Option<bool>,
    pub exec_timeout: Option<u64>,
    pub generate_report: Option<bool>,
    /// The policy, memory scope and policy knobs given (`agent.search.policy=mcts`,
    /// `agent.search.mcts.max_children=2`), as a table laid over the search settings.
    pub search: toml::Table,
}

impl Overrides {
    /// Whether the task comes from `data_dir=` / `desc_file=` rather than a task directory.
    pub fn names_a_task(&self) -> bool {
        self.reference.data_dir.is_some()
    }

    /// Whether any task key (`data_dir`, `goal`, `eval`, `desc_file`) was given.
    pub fn has_task_keys(&self) -> bool {
        let r = &self.reference;
        r.data_dir.is_some() || r.goal.is_some() || r.eval.is_some() || r.desc_file.is_some()
    }

    /// The search settings with the policy overrides laid over `base`; `None` when no
    /// policy override was given.
    pub fn search_over(&self, base: &SearchSettings) -> Result<Option<SearchSettings>, CliError> {
        if self.search.is_empty() {
            return Ok(None);
        }
        let mut table = toml::Table::try_from(base)
            .map_err(|e| CliError::Usage(format!("agent.search: {e}")))?;
        merge_tables(&mut table, &self.search);
        let merged: SearchSettings = toml::Value::Table(table)
            .try_into()
            .map_err(|e| CliError::Usage(format!("agent.search: {e}")))?;
        Ok(Some(merged))
    }

    /// Lays the search settings over `settings`.
    pub fn apply(&self, s: &mut RunSettings) {
        if let Ok(Some(search)) = self.search_over(&s.search) {
            s.search = search;
        }
        set(&mut s.steps, self.steps);
        set(&mut s.search.num_drafts, self.num_drafts);
        set(&mut s.search.debug_prob, self.debug_prob);
        set(&mut s.search.max_debug_depth, self.max_debug_depth);
        set(&mut s.code.model, self.code_model.clone());
        set(&mut s.feedback.model, self.feedback_model.clone());
        set(&mut s.code.temperature, self.code_temp);
        set(&mut s.feedback.temperature, self.feedback_temp);
        set(&mut s.k_fold_validation, self.k_fold_validation);
        set(&mut s.data_preview, self.data_preview);
        set(&mut s.expose_prediction, self.expose_prediction);
        set(&mut s.exec_timeout_secs, self.exec_timeout);
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

/// Whether a positional argument is an override (`key=value` with a dotted-name key) rather
/// than a path.
fn is_override(arg: &str) -> bool {
    arg.split_once('=').is_some_and(|(key, _)| {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
    })
}

/// Splits the positional inputs into at most one task path and the overrides.
pub fn parse_inputs(args: &[String]) -> Result<Inputs, CliError> {
    let mut inputs = Inputs::default();
    for arg in args {
        if is_override(arg) {
            let (key, value) = arg.split_once('=').expect("checked");
            inputs.overrides.set(key, value)?;
        } else if let Some(first) = &inputs.task_path {
            return Err(CliError::Usage(format!(
                "more than one task given ({} and {arg}); overrides are written key=value",
                first.display()
            )));
        } else {
            inputs.task_path = Some(PathBuf::from(arg));
        }
    }
    if inputs.task_path.is_some() && inputs.overrides.has_task_keys() {
        return Err(CliError::Usage(
            "give either a task directory or data_dir=/goal=/eval=/desc_file=, not both".into(),
        ));
    }
    Ok(inputs)
}

impl Overrides {
    /// Sets one key from its text, or says what is wrong with it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), CliError> {
        let value = unquote(value);
        match key {
            "data_dir" => self.reference.data_dir = Some(absolute(value)),
            "goal" => self.reference.goal = Some(value.to_owned()),
            "eval" => self.reference.eval = Some(value.to_owned()),
            "desc_file" => self.reference.desc_file = Some(absolute(value)),
            "log_dir" => self.log_dir = Some(PathBuf::from(value)),
            "workspace_dir" => self.workspace_dir = Some(PathBuf::from(value)),
            "exp_name" => self.exp_name = Some(nonempty(key, value)?.to_owned()),
            "agent.steps" => self.steps = Some(number(key, value)?),
            "agent.search.num_drafts" => self.num_drafts = Some(number(key, value)?),
            "agent.search.debug_prob" => self.debug_prob = Some(number(key, value)?),
            "agent.search.max_debug_depth" => self.max_debug_depth = Some(number(key, value)?),
            "agent.code.model" => self.code_model = Some(nonempty(key, value)?.to_owned()),
            "agent.feedback.model" => self.feedback_model = Some(nonempty(key, value)?.to_owned()),
            "agent.code.temp" => self.code_temp = Some(number(key, value)?),
            "agent.feedback.temp" => self.feedback_temp = Some(number(key, value)?),
            "agent.k_fold_validation" => self.k_fold_validation = Some(number(key, value)?),
            "agent.data_preview" => self.data_preview = Some(boolean(key, value)?),
            "agent.expose_prediction" => self.expose_prediction = Some(boolean(key, value)?),
            "exec.timeout" => self.exec_timeout = Some(number(key, value)?),
            "generate_report" => self.generate_report = Some(boolean(key, value)?),
            _ if key.starts_with("agent.search.") => self.set_search(key, value)?,
            _ => {
                return Err(CliError::Usage(format!(
                    "unknown override `{key}`; accepted keys: {}",
                    KEYS.join(", ")
                )));
            }
        }
        Ok(())
    }
}

impl Overrides {
    /// Records a policy override (`agent.search.policy`, `agent.search.memory`, or a knob
    /// of `agent.search.mcts` / `agent.search.evolutionary`), checked at once against the
    /// defaults so a bad name or value is refused with its key.
    fn set_search(&mut self, key: &str, value: &str) -> Result<(), CliError> {
        let path: Vec<&str> = key["agent.search.".len()..].split('.').collect();
        let parsed = match value.parse::<f64>() {
            Ok(n) if n.fract() == 0.0 && !value.contains('.') => toml::Value::Integer(n as i64),
            Ok(n) => toml::Value::Float(n),
            Err(_) => toml::Value::String(value.to_owned()),
        };
        let mut entry = toml::Table::new();
        match path.as_slice() {
            [name @ ("policy" | "memory")] => {
                entry.insert((*name).to_owned(), toml::Value::String(value.to_owned()));
            }
            [group @ ("mcts" | "evolutionary"), knob] => {
                let mut knobs = toml::Table::new();
                knobs.insert((*knob).to_owned(), parsed);
                entry.insert((*group).to_owned(), toml::Value::Table(knobs));
            }
            _ => {
                return Err(CliError::Usage(format!(
                    "unknown override `{key}`; accepted keys: {}",
                    KEYS.join(", ")
                )));
            }
        }
        let mut trial = self.search.clone();
        merge_tables(&mut trial, &entry);
        let candidate = Self {
            search: trial,
            ..Self::default()
        };
        let search = candidate
            .search_over(&SearchSettings::default())
            .map_err(|e| CliError::Usage(format!("{key}={value}: {e}")))?;
        if let Some(search) = search {
            let settings = RunSettings {
                search,
                ..RunSettings::default()
            };
            settings
                .validate()
                .map_err(|e| CliError::Usage(format!("{key}={value}: {e}")))?;
        }
        self.search = candidate.search;
        Ok(())
    }
}

/// Lays `over` onto `base`, table by table.
fn merge_tables(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(more)) => {
                merge_tables(inner, more)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// A path made absolute against the working directory (canonical when it exists), so the
/// stored task does not depend on where `aide resume` is started.
fn absolute(value: &str) -> PathBuf {
    let path = Path::new(value);
    path.canonicalize().unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

fn nonempty<'a>(key: &str, value: &'a str) -> Result<&'a str, CliError> {
    if value.is_empty() {
        return Err(CliError::Usage(format!("{key}: the value is empty")));
    }
    Ok(value)
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, CliError> {
    value.parse().map_err(|_| {
        CliError::Usage(format!(
            "{key}={value}: not a valid {}",
            if std::any::type_name::<T>().starts_with('f') {
                "number"
            } else {
                "non-negative integer"
            }
        ))
    })
}

fn boolean(key: &str, value: &str) -> Result<bool, CliError> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(CliError::Usage(format!(
            "{key}={value}: expected true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Inputs, CliError> {
        parse_inputs(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn splits_task_and_overrides() {
        let i = parse(&["examples/diabetes", "agent.steps=3", "exec.timeout=60"]).unwrap();
        assert_eq!(i.task_path, Some(PathBuf::from("examples/diabetes")));
        assert_eq!(i.overrides.steps, Some(3));
        assert_eq!(i.overrides.exec_timeout, Some(60));
        let mut s = RunSettings::default();
        i.overrides.apply(&mut s);
        assert_eq!((s.steps, s.exec_timeout_secs), (3, 60));
    }

    #[test]
    fn reference_style_task() {
        let i = parse(&[
            "data_dir=/nonexistent/x",
            "goal=\"Predict y\"",
            "agent.code.temp=0.2",
        ])
        .unwrap();
        assert!(i.task_path.is_none());
        assert_eq!(i.overrides.reference.goal.as_deref(), Some("Predict y"));
        assert_eq!(i.overrides.code_temp, Some(0.2));
        assert!(i.overrides.names_a_task());
    }

    #[test]
    fn policy_overrides_reach_the_search_settings() {
        let i = parse(&[
            "agent.search.policy=evolutionary",
            "agent.search.memory=chain",
            "agent.search.evolutionary.islands=3",
            "agent.search.evolutionary.merge_prob=0.5",
            "agent.search.mcts.max_children=2",
        ])
        .unwrap();
        let mut s = RunSettings::default();
        i.overrides.apply(&mut s);
        assert_eq!(s.search.policy, aide_core::PolicyKind::Evolutionary);
        assert_eq!(s.search.memory, aide_core::MemoryScope::Chain);
        assert_eq!(s.search.evolutionary.islands, 3);
        assert_eq!(s.search.evolutionary.merge_prob, 0.5);
        assert_eq!(s.search.mcts.max_children, 2);
        assert_eq!(s.search.num_drafts, 5, "the rest keeps its defaults");
        for (bad, named) in [
            ("agent.search.policy=beam", "beam"),
            ("agent.search.mcts.nope=1", "nope"),
            (
                "agent.search.evolutionary.tournament=99",
                "evolutionary.tournament",
            ),
            ("agent.search.mcts.max_children=two", "max_children"),
            ("agent.search.beam.width=2", "agent.search.beam.width"),
        ] {
            let e = parse(&[bad]).unwrap_err().to_string();
            assert!(e.contains(named), "{bad}: {e}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let e = parse(&["agent.stepz=3"]).unwrap_err().to_string();
        assert!(
            e.contains("agent.stepz") && e.contains("agent.steps"),
            "{e}"
        );
        let e = parse(&["agent.steps=ten"]).unwrap_err().to_string();
        assert!(e.contains("agent.steps=ten"), "{e}");
        let e = parse(&["generate_report=maybe"]).unwrap_err().to_string();
        assert!(e.contains("generate_report"), "{e}");
        assert!(parse(&["a", "b"]).is_err());
        assert!(parse(&["examples/diabetes", "data_dir=x"]).is_err());
    }
}
