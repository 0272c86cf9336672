//! aide-store: persistence for aide behind one [`Store`] trait, with a Postgres
//! implementation for teams and replicated coordinators ([`PgStore`]) and an embedded SQLite
//! one ([`SqliteStore`]); [`connect`] picks one from a URL and applies the embedded
//! migrations (`migrations/postgres`, `migrations/sqlite`).
//!
//! What is stored (ARCHITECTURE §5): runs and their lease (`owner`, `epoch`,
//! `lease_expires_at`), the solution tree's nodes with one persisted transition per
//! lifecycle step, the files a node's execution produced (its submission), one row per
//! execution attempt, the LLM usage and cost ledger, a per-run
//! event log and the runner registry.
//!
//! Fencing: every run-loop write takes a [`Lease`] and is refused with
//! [`Error::LeaseLost`] once another replica has claimed the run; execution results carry
//! their attempt number and a superseded attempt's result is refused with
//! [`Error::StaleAttempt`]. Queries are runtime-checked (`sqlx::query` with binds), their
//! SQL lives in `sql/<backend>/<concern>/<query>.sql` (embedded at compile time), and all
//! times come from the database clock.
//!
//! Layout: [`Store`] is the sum of one trait per concern (`store`); each backend module
//! implements each of them once, in a file of the same concern; rows of both backends are
//! decoded by one function per record type (`decode`); [`AnyStore`] forwards every method
//! through one macro (`any`), and [`Counted`] counts the calls of any store by method.

mod any;
mod counted;
mod decode;
mod dispatch;
mod error;
pub mod postgres;
mod refusal;
pub mod sqlite;
mod store;
mod sweeps;
mod types;
mod url;

pub use any::{AnyStore, connect};
pub use counted::{Counted, StoreCalls};
pub use error::{Error, Result};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use store::{
    AccessStore, EventStore, ExecutionStore, LedgerStore, NodeStore, RunStore, RunnerStore,
    StageStore, Store, SweepStore,
};
pub use sweeps::{CellCounts, CellOutcome, CellRecord, GradingClaim, NewSweep, SweepRecord};
pub use types::{
    CallUsage, EventRecord, ExecutionRecord, ExecutionResult, ExecutionStatus, ExecutionSummary,
    Generation, Lease, LeaseStatus, LlmCallRecord, NewLlmCall, NewNode, NewRun, NewToken, NodeFile,
    NodeFileBody, NodeRecord, ProjectRecord, PromptSize, Review, RunCounts, RunFilter, RunRecord,
    RunSignals, RunStatus, RunnerInfo, RunnerLoad, RunnerRecord, TokenRecord, Usage,
};
pub use url::{Backend, DatabaseUrl};

/// Every store trait, for calling store methods on a concrete store type
/// (`use aide_store::prelude::*`); generic code needs only [`Store`].
pub mod prelude {
    pub use crate::store::{
        AccessStore, EventStore, ExecutionStore, LedgerStore, NodeStore, RunStore, RunnerStore,
        StageStore, Store, SweepStore,
    };
}
