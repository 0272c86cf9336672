//! [`AnyStore`]: one of the two backends chosen at run time from a URL, and [`connect`].

use std::time::Duration;

use aide_core::{Direction, NodeId, RunId};

use crate::error::Result;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::store::Store;
use crate::types::{
    ExecutionRecord, ExecutionResult, ExecutionSummary, Generation, Lease, LeaseStatus, NewLlmCall,
    NewNode, NewRun, NodeRecord, Review, RunEvent, RunFilter, RunRecord, RunStatus, RunnerInfo,
    RunnerLoad, RunnerRecord, Usage,
};
use crate::url::{Backend, DatabaseUrl};

/// Opens the store at `url` and applies pending migrations: `postgres://` or
/// `postgresql://` for Postgres, `sqlite:` for SQLite (the file is created if missing).
/// Takes a [`DatabaseUrl`] or text, which is checked by [`DatabaseUrl::parse`].
pub async fn connect(url: impl AsRef<str>) -> Result<AnyStore> {
    let url = DatabaseUrl::parse(url.as_ref())?;
    Ok(match url.backend() {
        Backend::Postgres => AnyStore::Postgres(PgStore::connect(url.as_str()).await?),
        Backend::Sqlite => AnyStore::Sqlite(SqliteStore::connect(url.as_str()).await?),
    })
}

/// A store on either backend; cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub enum AnyStore {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

impl AnyStore {
    /// Closes the connection pool.
    pub async fn close(&self) {
        match self {
            Self::Postgres(s) => s.close().await,
            Self::Sqlite(s) => s.close().await,
        }
    }
}

/// Forwards one trait method to the backend.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Postgres(s) => s.$method($($arg),*).await,
            AnyStore::Sqlite(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn create_run(&self, run: NewRun) -> Result<RunRecord> {
        dispatch!(self.create_run(run))
    }

    async fn get_run(&self, run_id: RunId) -> Result<RunRecord> {
        dispatch!(self.get_run(run_id))
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>> {
        dispatch!(self.list_runs(filter))
    }

    async fn request_cancel(&self, run_id: RunId) -> Result<RunRecord> {
        dispatch!(self.request_cancel(run_id))
    }

    async fn claim_run(&self, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        dispatch!(self.claim_run(owner, ttl))
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<LeaseStatus> {
        dispatch!(self.renew_lease(lease, ttl))
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        dispatch!(self.release_lease(lease))
    }

    async fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        reason: &str,
    ) -> Result<RunRecord> {
        dispatch!(self.finish_run(lease, status, reason))
    }

    async fn fix_direction(&self, lease: &Lease, direction: Direction) -> Result<Direction> {
        dispatch!(self.fix_direction(lease, direction))
    }

    async fn insert_node(&self, lease: &Lease, node: NewNode) -> Result<NodeRecord> {
        dispatch!(self.insert_node(lease, node))
    }

    async fn insert_nodes(&self, lease: &Lease, nodes: &[NewNode]) -> Result<()> {
        dispatch!(self.insert_nodes(lease, nodes))
    }

    async fn mark_generated(
        &self,
        lease: &Lease,
        node: NodeId,
        generation: Generation,
    ) -> Result<()> {
        dispatch!(self.mark_generated(lease, node, generation))
    }

    async fn mark_executed(
        &self,
        lease: &Lease,
        node: NodeId,
        execution: ExecutionSummary,
    ) -> Result<()> {
        dispatch!(self.mark_executed(lease, node, execution))
    }

    async fn mark_reviewed(&self, lease: &Lease, node: NodeId, review: Review) -> Result<()> {
        dispatch!(self.mark_reviewed(lease, node, review))
    }

    async fn get_node(&self, node: NodeId) -> Result<NodeRecord> {
        dispatch!(self.get_node(node))
    }

    async fn load_tree(&self, run_id: RunId) -> Result<Vec<NodeRecord>> {
        dispatch!(self.load_tree(run_id))
    }

    async fn start_execution(&self, lease: &Lease, node: NodeId) -> Result<u32> {
        dispatch!(self.start_execution(lease, node))
    }

    async fn finish_execution(
        &self,
        node: NodeId,
        attempt: u32,
        result: ExecutionResult,
    ) -> Result<ExecutionRecord> {
        dispatch!(self.finish_execution(node, attempt, result))
    }

    async fn abandon_execution(&self, node: NodeId, attempt: u32, reason: &str) -> Result<()> {
        dispatch!(self.abandon_execution(node, attempt, reason))
    }

    async fn list_executions(&self, node: NodeId) -> Result<Vec<ExecutionRecord>> {
        dispatch!(self.list_executions(node))
    }

    async fn put_node_file(
        &self,
        lease: &Lease,
        node: NodeId,
        name: &str,
        content: &[u8],
    ) -> Result<()> {
        dispatch!(self.put_node_file(lease, node, name, content))
    }

    async fn get_node_file(&self, node: NodeId, name: &str) -> Result<Option<Vec<u8>>> {
        dispatch!(self.get_node_file(node, name))
    }

    async fn record_llm_call(&self, call: NewLlmCall) -> Result<i64> {
        dispatch!(self.record_llm_call(call))
    }

    async fn run_usage(&self, run_id: RunId) -> Result<Usage> {
        dispatch!(self.run_usage(run_id))
    }

    async fn append_event(
        &self,
        run_id: RunId,
        kind: &str,
        payload: serde_json::Value,
    ) -> Result<u64> {
        dispatch!(self.append_event(run_id, kind, payload))
    }

    async fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<RunEvent>> {
        dispatch!(self.events_after(run_id, after_seq, limit))
    }

    async fn register_runner(&self, runner: RunnerInfo) -> Result<()> {
        dispatch!(self.register_runner(runner))
    }

    async fn heartbeat_runner(&self, runner_id: &str, load: RunnerLoad) -> Result<()> {
        dispatch!(self.heartbeat_runner(runner_id, load))
    }

    async fn deregister_runner(&self, runner_id: &str) -> Result<bool> {
        dispatch!(self.deregister_runner(runner_id))
    }

    async fn live_runners(&self, stale_after: Duration) -> Result<Vec<RunnerRecord>> {
        dispatch!(self.live_runners(stale_after))
    }

    async fn remove_stale_runners(&self, stale_after: Duration) -> Result<Vec<String>> {
        dispatch!(self.remove_stale_runners(stale_after))
    }
}
