//! The [`Store`] trait: every persistence operation the coordinator, the LLM gateway's
//! accounting and the runner registry need, with the fencing rules of ARCHITECTURE §5.

use std::future::Future;
use std::time::Duration;

use aide_core::{Direction, NodeId, RunEvent, RunId};

use crate::error::Result;
use crate::types::{
    EventRecord, ExecutionRecord, ExecutionResult, ExecutionSummary, Generation, Lease,
    LeaseStatus, NewLlmCall, NewNode, NewRun, NodeRecord, Review, RunFilter, RunRecord, RunStatus,
    RunnerInfo, RunnerLoad, RunnerRecord, Usage,
};

/// Persistence behind one interface, implemented by [`PgStore`](crate::PgStore) and
/// [`SqliteStore`](crate::SqliteStore) (and dispatched by [`AnyStore`](crate::AnyStore)).
///
/// **Fencing.** Every write of a run loop takes the [`Lease`] returned by
/// [`claim_run`](Store::claim_run) and only takes effect while the run is `running` with
/// that owner and epoch; otherwise it changes nothing and fails with
/// [`Error::LeaseLost`](crate::Error::LeaseLost). Execution results are fenced by their
/// attempt number instead ([`Error::StaleAttempt`](crate::Error::StaleAttempt)).
///
/// All times are taken from the database clock.
pub trait Store: Send + Sync + 'static {
    // ---- runs ----

    /// Creates a `queued` run.
    fn create_run(&self, run: NewRun) -> impl Future<Output = Result<RunRecord>> + Send;

    /// The run, or `NotFound`.
    fn get_run(&self, run_id: RunId) -> impl Future<Output = Result<RunRecord>> + Send;

    /// Runs, newest first, optionally of one status.
    fn list_runs(&self, filter: RunFilter) -> impl Future<Output = Result<Vec<RunRecord>>> + Send;

    /// Asks for a run to stop. A queued run that nobody holds is cancelled at once; a run
    /// with an owner gets `cancel_requested`, which the owner learns from
    /// [`renew_lease`](Store::renew_lease). A finished run gives `InvalidState`.
    fn request_cancel(&self, run_id: RunId) -> impl Future<Output = Result<RunRecord>> + Send;

    // ---- leases ----

    /// Claims the oldest run that is queued or running with no lease or an expired one:
    /// sets the owner, increments the epoch, sets the expiry to now + `ttl` and the status
    /// to running. `None` when no run is claimable.
    fn claim_run(
        &self,
        owner: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Lease>>> + Send;

    /// Extends the lease to now + `ttl`.
    fn renew_lease(
        &self,
        lease: &Lease,
        ttl: Duration,
    ) -> impl Future<Output = Result<LeaseStatus>> + Send;

    /// Gives the run up so another replica can claim it at once (the status stays running).
    fn release_lease(&self, lease: &Lease) -> impl Future<Output = Result<()>> + Send;

    /// Ends the run with a terminal `status` and the reason it stopped, and ends the lease.
    fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        reason: &str,
    ) -> impl Future<Output = Result<RunRecord>> + Send;

    /// Sets the run's metric direction if it has none yet and returns the direction in
    /// force, which never changes once set.
    fn fix_direction(
        &self,
        lease: &Lease,
        direction: Direction,
    ) -> impl Future<Output = Result<Direction>> + Send;

    // ---- nodes ----

    /// Creates a `pending` node. A duplicate id or step gives `Conflict`; a parent that is
    /// not a node of the same run gives `InvalidState`.
    fn insert_node(
        &self,
        lease: &Lease,
        node: NewNode,
    ) -> impl Future<Output = Result<NodeRecord>> + Send;

    /// Creates many `pending` nodes at once; all or nothing. A parent must be stored
    /// already or come earlier in the batch.
    fn insert_nodes(
        &self,
        lease: &Lease,
        nodes: &[NewNode],
    ) -> impl Future<Output = Result<()>> + Send;

    /// `pending → generated`.
    fn mark_generated(
        &self,
        lease: &Lease,
        node: NodeId,
        generation: Generation,
    ) -> impl Future<Output = Result<()>> + Send;

    /// `generated (with code) → executed`.
    fn mark_executed(
        &self,
        lease: &Lease,
        node: NodeId,
        execution: ExecutionSummary,
    ) -> impl Future<Output = Result<()>> + Send;

    /// `executed → reviewed`, or `generated (without code) → reviewed`.
    fn mark_reviewed(
        &self,
        lease: &Lease,
        node: NodeId,
        review: Review,
    ) -> impl Future<Output = Result<()>> + Send;

    /// One node, or `NotFound`.
    fn get_node(&self, node: NodeId) -> impl Future<Output = Result<NodeRecord>> + Send;

    /// Every node of a run with every recorded field, ordered by step.
    fn load_tree(&self, run_id: RunId) -> impl Future<Output = Result<Vec<NodeRecord>>> + Send;

    // ---- executions ----

    /// Starts a new execution attempt of a `generated` node that has code: its number is
    /// the previous highest + 1, and any earlier attempt still running is superseded.
    fn start_execution(
        &self,
        lease: &Lease,
        node: NodeId,
    ) -> impl Future<Output = Result<u32>> + Send;

    /// Records the result of an attempt. `StaleAttempt` unless it is the latest attempt
    /// and still running.
    fn finish_execution(
        &self,
        node: NodeId,
        attempt: u32,
        result: ExecutionResult,
    ) -> impl Future<Output = Result<ExecutionRecord>> + Send;

    /// Gives an attempt up (its runner vanished); same fence as `finish_execution`.
    fn abandon_execution(
        &self,
        node: NodeId,
        attempt: u32,
        reason: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Every attempt of a node, oldest first.
    fn list_executions(
        &self,
        node: NodeId,
    ) -> impl Future<Output = Result<Vec<ExecutionRecord>>> + Send;

    // ---- node files ----

    /// Stores a file a node's execution produced (its submission) under `name`, replacing
    /// an earlier one of that name. Fenced; a node not of the lease's run is `NotFound`.
    fn put_node_file(
        &self,
        lease: &Lease,
        node: NodeId,
        name: &str,
        content: &[u8],
    ) -> impl Future<Output = Result<()>> + Send;

    /// The file stored under `name` for `node`, if any.
    fn get_node_file(
        &self,
        node: NodeId,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;

    // ---- LLM usage ledger ----

    /// Appends one LLM call to the ledger; returns its id. Not fenced: a call that was
    /// paid for is recorded even if the lease was lost meanwhile.
    fn record_llm_call(&self, call: NewLlmCall) -> impl Future<Output = Result<i64>> + Send;

    /// Sums the run's ledger.
    fn run_usage(&self, run_id: RunId) -> impl Future<Output = Result<Usage>> + Send;

    // ---- run events ----

    /// Appends an event to the run's log; returns its sequence number (1, 2, ...).
    fn append_event(
        &self,
        run_id: RunId,
        event: &RunEvent,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Up to `limit` events with `seq > after_seq`, in order.
    fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EventRecord>>> + Send;

    // ---- runner registry ----

    /// Registers a runner or re-registers it (after a restart): all slots free, heartbeat now.
    fn register_runner(&self, runner: RunnerInfo) -> impl Future<Output = Result<()>> + Send;

    /// Records a runner's load and heartbeat time; `NotFound` if it is not registered.
    fn heartbeat_runner(
        &self,
        runner_id: &str,
        load: RunnerLoad,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Removes a runner (orderly shutdown); false if it was not registered.
    fn deregister_runner(&self, runner_id: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Runners that heartbeated within `stale_after`, least loaded first (most free slots,
    /// then lowest CPU load, then lowest memory load).
    fn live_runners(
        &self,
        stale_after: Duration,
    ) -> impl Future<Output = Result<Vec<RunnerRecord>>> + Send;

    /// Deletes runners silent for longer than `stale_after`; returns their ids.
    fn remove_stale_runners(
        &self,
        stale_after: Duration,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
}
