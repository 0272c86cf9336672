//! aide-core: the AIDE method without I/O beyond reading task files. Domain types (tasks,
//! settings, nodes, metrics), the search policies, prompt building, reply parsing and
//! the data preview; [`access`] (projects, roles, tokens); [`redact`] hides the password of a URL. No network and no database:
//! the services build on this crate.

pub mod access;
pub mod bundle;
pub mod code;
pub mod error;
pub mod event;
pub mod exception;
pub mod grade;
pub mod metric;
pub mod node;
pub mod parse;
pub mod policy;
pub mod preview;
pub mod prompt;
pub mod redact;
pub mod rng;
pub mod run;
pub mod service_identity;
pub mod settings;
pub mod steer;
pub mod sweep;
pub mod task;
pub mod tokens;
pub mod toml_text;

pub use code::{ErrorCode, HasErrorCode};
pub use error::{Error, Result};
pub use event::RunEvent;
pub use exception::{ExceptionInfo, StackFrame};
pub use metric::{Direction, MetricCheck, MetricValue};
pub use node::{Action, BugReason, ExecutionFacts, NodeId, NodeStage, RunId, Verdict};
pub use parse::{CodeSource, ParsedReply, Review, extract_json_object, parse_reply};
pub use policy::{Decision, NodeStatus, SearchTree, TreeNode, next_action};
pub use preview::{PreviewOptions, human_size, preview_dir};
pub use prompt::{
    BuggySolution, ExecutedSolution, FunctionSpec, MemoryEntry, PreviousSolution, Prompt,
    PromptContext, Section, debug_prompt, draft_prompt, improve_prompt, merge_prompt,
    review_function, review_prompt, truncate_middle,
};
pub use rng::RunRng;
pub use run::{LlmPurpose, RunStatus};
pub use settings::{
    EvolutionarySettings, MctsSettings, MemoryScope, ModelSettings, PolicyKind, RunSettings,
    SearchSettings,
};
pub use steer::{Directive, Steering};
pub use task::Task;
pub use tokens::TokenCounter;
