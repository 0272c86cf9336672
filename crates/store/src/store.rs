//! The store API: [`Store`], made of one trait per concern ([`RunStore`], [`NodeStore`],
//! [`StageStore`], [`ExecutionStore`], [`LedgerStore`], [`EventStore`], [`RunnerStore`],
//! [`AccessStore`]), with the fencing
//! rules of ARCHITECTURE §5. Each backend implements each trait once, in its module of the
//! same concern; [`AnyStore`](crate::AnyStore) forwards them all (see `store_trait!`).

use std::time::Duration;

use aide_core::access::{ProjectName, TokenHash};
use aide_core::steer::Steered;
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{SweepId, SweepStatus};
use aide_core::{Direction, NodeId, RunEvent, RunId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::dispatch::store_trait;
use crate::sweeps::{CellCounts, CellOutcome, CellRecord, GradingClaim, NewSweep, SweepRecord};
use crate::types::{
    EventRecord, ExecutionRecord, ExecutionResult, ExecutionSummary, Generation, Lease,
    LeaseStatus, LlmCallRecord, NewLlmCall, NewNode, NewRun, NewToken, NodeFile, NodeRecord,
    ProjectRecord, Review, RunCounts, RunFilter, RunRecord, RunSignals, RunStatus, RunnerInfo,
    RunnerLoad, RunnerRecord, TokenRecord, Usage,
};

/// Persistence behind one interface, implemented by [`PgStore`](crate::PgStore) and
/// [`SqliteStore`](crate::SqliteStore) (and dispatched by [`AnyStore`](crate::AnyStore)).
/// It is the sum of the per-concern traits and is implemented for every type that
/// implements them all; `use aide_store::Store` is enough to call any method on a generic
/// `S: Store`, while a concrete store type also needs the trait of the method in scope
/// (`use aide_store::prelude::*` brings them all).
///
/// **Fencing.** Every write of a run loop takes the [`Lease`] returned by
/// [`claim_run`](RunStore::claim_run) and only takes effect while the run is `running` with
/// that owner and epoch; otherwise it changes nothing and fails with
/// [`Error::LeaseLost`](crate::Error::LeaseLost). Execution results are fenced by their
/// attempt number instead ([`Error::StaleAttempt`](crate::Error::StaleAttempt)).
///
/// All times are taken from the database clock.
pub trait Store:
    RunStore
    + NodeStore
    + StageStore
    + ExecutionStore
    + LedgerStore
    + EventStore
    + RunnerStore
    + AccessStore
    + SweepStore
{
}

impl<T> Store for T where
    T: RunStore
        + NodeStore
        + StageStore
        + ExecutionStore
        + LedgerStore
        + EventStore
        + RunnerStore
        + AccessStore
        + SweepStore
{
}

store_trait! {
    /// Benchmark sweeps and their cells. Every replica may call every method at any time:
    /// starting cells is serialised per sweep by a lock on the sweep's row, and a cell is
    /// graded under a claim whose epoch fences its outcome, so each cell has one run at a
    /// time and one outcome per run.
    pub trait SweepStore {
        /// Creates a running sweep with every cell queued; `NotFound` when its project does
        /// not exist.
        async fn create_sweep(&self, sweep: NewSweep) -> Result<SweepRecord>;

        async fn get_sweep(&self, id: SweepId) -> Result<SweepRecord>;

        /// How many cells of every sweep are in each state (for metrics).
        async fn count_all_cells(&self) -> Result<CellCounts>;

        /// The newest sweeps first, of one project or of every project.
        async fn list_sweeps(&self, project: Option<&ProjectName>, limit: u32) -> Result<Vec<SweepRecord>>;

        /// Every cell of a sweep, in order.
        async fn list_cells(&self, id: SweepId) -> Result<Vec<CellRecord>>;

        /// The sweeps that are running (whose cells a replica should start and grade).
        async fn running_sweeps(&self) -> Result<Vec<SweepId>>;

        /// Model spending of every run the sweep ever started.
        async fn sweep_cost(&self, id: SweepId) -> Result<f64>;

        /// Starts queued cells, in order, while fewer than the sweep's `cells_at_once` (and
        /// fewer than `max_open`) are running or grading: each gets a new queued run carrying
        /// the sweep's id. Returns the new runs; none unless the sweep is running.
        async fn start_cells(&self, id: SweepId, max_open: u32) -> Result<Vec<RunId>>;

        /// Takes a cell whose run ended (or whose grading claim expired) for grading by
        /// `owner` for `ttl`.
        async fn claim_grading(&self, owner: &str, ttl: Duration) -> Result<Option<GradingClaim>>;

        /// Extends a grading claim by `ttl` from now; `InvalidState` when it was taken over.
        async fn renew_grading(&self, claim: &GradingClaim, ttl: Duration) -> Result<()>;

        /// Records a graded cell's outcome; `StaleAttempt`-like `InvalidState` when the
        /// claim was taken over.
        async fn finish_cell(&self, claim: &GradingClaim, outcome: CellOutcome) -> Result<()>;

        /// Stops a running sweep (`Stopped` for a budget, `Cancelled` on request): no cell
        /// starts, and the running cells are cancelled with their runs (a resume runs them
        /// again); on cancel the queued cells are cancelled too. `InvalidState` unless it is
        /// running.
        async fn stop_sweep(&self, id: SweepId, status: SweepStatus, reason: &str) -> Result<SweepRecord>;

        /// Runs a stopped or cancelled sweep again (or changes a running one's budget) with
        /// `budget`: its cancelled cells are queued again.
        async fn resume_sweep(&self, id: SweepId, budget: SweepBudget) -> Result<SweepRecord>;

        /// Queues the failed cells again (each gets a new run); a completed sweep runs again.
        /// Returns how many.
        async fn retry_failed_cells(&self, id: SweepId) -> Result<u64>;

        /// Marks a running sweep completed when every cell has its outcome; true when it did.
        async fn complete_sweep(&self, id: SweepId) -> Result<bool>;
    }
}

store_trait! {
    /// Projects and the bearer tokens that act in them.
    pub trait AccessStore {
        /// Creates a project; `Conflict` when one of that name exists.
        async fn create_project(&self, name: &ProjectName) -> Result<ProjectRecord>;

        /// Every project, by name.
        async fn list_projects(&self) -> Result<Vec<ProjectRecord>>;

        /// Stores a token; `NotFound` when its project does not exist.
        async fn create_token(&self, token: &NewToken) -> Result<TokenRecord>;

        /// Stores the deployment's bootstrap admin token unless one was ever stored (by any
        /// replica): `None` then.
        async fn create_bootstrap_token(&self, token: &NewToken) -> Result<Option<TokenRecord>>;

        /// The token whose secret hashes to `hash`, active or not.
        async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>>;

        /// The tokens of a project (or of every project), oldest first.
        async fn list_tokens(&self, project: Option<&ProjectName>) -> Result<Vec<TokenRecord>>;

        /// Revokes a token (at once; revoking twice keeps the first time); `NotFound` for an
        /// unknown id.
        async fn revoke_token(&self, id: Uuid) -> Result<TokenRecord>;
    }
}

store_trait! {
    /// Runs and their lease.
    pub trait RunStore {
        /// How many runs of a project are queued or running.
        async fn count_unfinished_runs(&self, project: &ProjectName) -> Result<u64>;

        /// How many runs of every project are in each status (for metrics).
        async fn count_runs(&self) -> Result<RunCounts>;

        /// Creates a `queued` run.
        async fn create_run(&self, run: NewRun) -> Result<RunRecord>;

        /// The run, or `NotFound`.
        async fn get_run(&self, run_id: RunId) -> Result<RunRecord>;

        /// Runs, newest first, optionally of one status.
        async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>>;

        /// Asks for a run to stop. A queued run that nobody holds is cancelled at once; a
        /// run with an owner gets `cancel_requested`, which the owner learns from
        /// [`renew_lease`](RunStore::renew_lease). A finished run gives `InvalidState`.
        async fn request_cancel(&self, run_id: RunId) -> Result<RunRecord>;

        /// Claims the oldest run that is queued or running with no lease or an expired one:
        /// sets the owner, increments the epoch, sets the expiry to now + `ttl` and the
        /// status to running. `None` when no run is claimable.
        async fn claim_run(&self, owner: &str, ttl: Duration) -> Result<Option<Lease>>;

        /// Extends the lease to now + `ttl`.
        async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<LeaseStatus>;

        /// Whether a cancel of the run was requested; `NotFound` for an unknown run. Reads
        /// one column, for callers that poll.
        async fn cancel_requested(&self, run_id: RunId) -> Result<bool>;

        /// The signals of those of `runs` that have a cancel request or a directive, in one
        /// read (unknown runs have none).
        async fn run_signals(&self, runs: &[RunId]) -> Result<Vec<RunSignals>>;

        /// Records a person's directive: appends its event, marks the run steered by it
        /// and, for a budget, stores the new settings; one transaction. `InvalidState` for a
        /// finished run or a budget the settings refuse, `NotFound` for an unknown run.
        /// Returns the event's sequence number.
        async fn steer_run(&self, run_id: RunId, steered: &Steered) -> Result<u64>;

        /// Counts one more internal failure of the engine holding the lease and returns the
        /// run's count. `LeaseLost` unless the lease still holds the running run.
        async fn record_engine_failure(&self, lease: &Lease) -> Result<u32>;

        /// Gives the run up so another replica can claim it at once (the status stays
        /// running).
        async fn release_lease(&self, lease: &Lease) -> Result<()>;

        /// Ends the run with a terminal `status` and the reason it stopped, and ends the
        /// lease.
        async fn finish_run(&self, lease: &Lease, status: RunStatus, reason: &str)
            -> Result<RunRecord>;

        /// Sets the run's metric direction if it has none yet and returns the direction in
        /// force, which never changes once set.
        async fn fix_direction(&self, lease: &Lease, direction: Direction) -> Result<Direction>;
    }
}

store_trait! {
    /// The solution tree's nodes, their lifecycle, and the files their executions produced.
    pub trait NodeStore {
        /// Creates a `pending` node. A duplicate id or step gives `Conflict`; a parent that
        /// is not a node of the same run gives `InvalidState`.
        async fn insert_node(&self, lease: &Lease, node: NewNode) -> Result<NodeRecord>;

        /// Creates many `pending` nodes at once; all or nothing. A parent must be stored
        /// already or come earlier in the batch.
        async fn insert_nodes(&self, lease: &Lease, nodes: &[NewNode]) -> Result<()>;

        /// `pending → generated`.
        async fn mark_generated(&self, lease: &Lease, node: NodeId, generation: Generation)
            -> Result<()>;

        /// `generated (with code) → executed`.
        async fn mark_executed(&self, lease: &Lease, node: NodeId, execution: ExecutionSummary)
            -> Result<()>;

        /// `executed → reviewed`, or `generated (without code) → reviewed`.
        async fn mark_reviewed(&self, lease: &Lease, node: NodeId, review: Review)
            -> Result<()>;

        /// One node, or `NotFound`.
        async fn get_node(&self, node: NodeId) -> Result<NodeRecord>;

        /// Every node of a run with every recorded field, ordered by step.
        async fn load_tree(&self, run_id: RunId) -> Result<Vec<NodeRecord>>;

        /// Records a file a node's execution produced (its submission), replacing an
        /// earlier one of that name. Fenced; a node not of the lease's run is `NotFound`.
        async fn put_node_file(&self, lease: &Lease, node: NodeId, file: &NodeFile)
            -> Result<()>;

        /// The file recorded under `name` for `node`, if any.
        async fn get_node_file(&self, node: NodeId, name: &str) -> Result<Option<NodeFile>>;
    }
}

store_trait! {
    /// What one stage of a node writes, in one transaction each (the run loop's writes: one
    /// commit per stage instead of one per row). Each is the same as the separate calls it
    /// stands for, in the same order and with the same fences and refusals: a ledger row is
    /// kept even when the transition is refused (a call that was paid for is recorded), and
    /// nothing else of a refused stage is written.
    pub trait StageStore {
        /// `append_event(event)` then `insert_node(node)`: the event announcing a node is
        /// written before it, and neither without the other.
        async fn create_node(&self, lease: &Lease, node: NewNode, event: &RunEvent)
            -> Result<NodeRecord>;

        /// `record_llm_call(call)` then `mark_generated`.
        async fn record_generation(&self, lease: &Lease, node: NodeId, generation: Generation,
            call: &NewLlmCall) -> Result<()>;

        /// `finish_execution(attempt, result)`, then `put_node_file(file)` when given, then
        /// `mark_executed(summary)`. `StaleAttempt` writes nothing; a refused transition
        /// (`LeaseLost`, ...) leaves the attempt's result recorded, as the separate calls do.
        async fn record_execution(&self, lease: &Lease, node: NodeId, attempt: u32,
            result: ExecutionResult, summary: ExecutionSummary, file: Option<&NodeFile>)
            -> Result<()>;

        /// `record_llm_call(call)` when given, then `mark_reviewed(review)`, then
        /// `append_event(event)`; returns the reviewed node as `get_node` would.
        async fn record_review(&self, lease: &Lease, node: NodeId, review: Review,
            call: Option<&NewLlmCall>, event: &RunEvent) -> Result<NodeRecord>;
    }
}

store_trait! {
    /// Execution attempts, fenced by their attempt number.
    pub trait ExecutionStore {
        /// Starts a new execution attempt of a `generated` node that has code: its number is
        /// the previous highest + 1, and any earlier attempt still running is superseded.
        async fn start_execution(&self, lease: &Lease, node: NodeId) -> Result<u32>;

        /// Records the result of an attempt. `StaleAttempt` unless it is the latest attempt
        /// and still running.
        async fn finish_execution(&self, node: NodeId, attempt: u32, result: ExecutionResult)
            -> Result<ExecutionRecord>;

        /// Gives an attempt up (its runner vanished); same fence as `finish_execution`.
        async fn abandon_execution(&self, node: NodeId, attempt: u32, reason: &str)
            -> Result<()>;

        /// Every attempt of a node, oldest first.
        async fn list_executions(&self, node: NodeId) -> Result<Vec<ExecutionRecord>>;
    }
}

store_trait! {
    /// The LLM usage and cost ledger.
    pub trait LedgerStore {
        /// Appends one LLM call to the ledger; returns its id. Not fenced: a call that was
        /// paid for is recorded even if the lease was lost meanwhile.
        async fn record_llm_call(&self, call: NewLlmCall) -> Result<i64>;

        /// Sums the run's ledger.
        async fn run_usage(&self, run_id: RunId) -> Result<Usage>;

        /// The calls made for one node, oldest first.
        async fn node_llm_calls(&self, node: NodeId) -> Result<Vec<LlmCallRecord>>;

        /// Every call of a run, oldest first.
        async fn run_llm_calls(&self, run_id: RunId) -> Result<Vec<LlmCallRecord>>;

        /// What the model calls of a project's runs cost since `since`, in US dollars.
        async fn project_cost_since(&self, project: &ProjectName, since: DateTime<Utc>)
            -> Result<f64>;
    }
}

store_trait! {
    /// The per-run event log.
    pub trait EventStore {
        /// Appends an event to the run's log; returns its sequence number (1, 2, ...).
        async fn append_event(&self, run_id: RunId, event: &RunEvent) -> Result<u64>;

        /// Up to `limit` events with `seq > after_seq`, in order.
        async fn events_after(&self, run_id: RunId, after_seq: u64, limit: u32)
            -> Result<Vec<EventRecord>>;
    }
}

store_trait! {
    /// The runner registry.
    pub trait RunnerStore {
        /// Registers a runner or re-registers it (after a restart): all slots free,
        /// heartbeat now.
        async fn register_runner(&self, runner: RunnerInfo) -> Result<()>;

        /// Records a runner's load and heartbeat time; `NotFound` if it is not registered.
        async fn heartbeat_runner(&self, runner_id: &str, load: RunnerLoad) -> Result<()>;

        /// Removes a runner (orderly shutdown); false if it was not registered.
        async fn deregister_runner(&self, runner_id: &str) -> Result<bool>;

        /// Runners that heartbeated within `stale_after`, least loaded first (most free
        /// slots, then lowest CPU load, then lowest memory load).
        async fn live_runners(&self, stale_after: Duration) -> Result<Vec<RunnerRecord>>;

        /// Deletes runners silent for longer than `stale_after`; returns their ids.
        async fn remove_stale_runners(&self, stale_after: Duration) -> Result<Vec<String>>;
    }
}
