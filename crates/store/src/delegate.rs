//! The `Store` impl both backends share. Each backend module has the submodules `runs`,
//! `nodes`, `executions`, `llm`, `events` and `runners` with free functions of the same names
//! that take the pool first; this macro wires every trait method to them, so the two
//! backends differ only in their SQL and row decoding.

/// Implements `Store` for a backend struct with a `pool` field by calling the same-named
/// functions of the backend's submodules.
macro_rules! impl_store_via_pool_functions {
    ($backend:ty) => {
        impl $crate::store::Store for $backend {
            async fn create_run(&self, run: NewRun) -> Result<RunRecord> {
                runs::create_run(&self.pool, run).await
            }

            async fn get_run(&self, run_id: RunId) -> Result<RunRecord> {
                runs::get_run(&self.pool, run_id).await
            }

            async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>> {
                runs::list_runs(&self.pool, filter).await
            }

            async fn request_cancel(&self, run_id: RunId) -> Result<RunRecord> {
                runs::request_cancel(&self.pool, run_id).await
            }

            async fn claim_run(&self, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
                runs::claim_run(&self.pool, owner, ttl).await
            }

            async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<LeaseStatus> {
                runs::renew_lease(&self.pool, lease, ttl).await
            }

            async fn release_lease(&self, lease: &Lease) -> Result<()> {
                runs::release_lease(&self.pool, lease).await
            }

            async fn finish_run(
                &self,
                lease: &Lease,
                status: RunStatus,
                reason: &str,
            ) -> Result<RunRecord> {
                runs::finish_run(&self.pool, lease, status, reason).await
            }

            async fn fix_direction(
                &self,
                lease: &Lease,
                direction: Direction,
            ) -> Result<Direction> {
                runs::fix_direction(&self.pool, lease, direction).await
            }

            async fn insert_node(&self, lease: &Lease, node: NewNode) -> Result<NodeRecord> {
                nodes::insert_node(&self.pool, lease, node).await
            }

            async fn insert_nodes(&self, lease: &Lease, nodes: &[NewNode]) -> Result<()> {
                nodes::insert_nodes(&self.pool, lease, nodes).await
            }

            async fn mark_generated(
                &self,
                lease: &Lease,
                node: NodeId,
                generation: Generation,
            ) -> Result<()> {
                nodes::mark_generated(&self.pool, lease, node, generation).await
            }

            async fn mark_executed(
                &self,
                lease: &Lease,
                node: NodeId,
                execution: ExecutionSummary,
            ) -> Result<()> {
                nodes::mark_executed(&self.pool, lease, node, execution).await
            }

            async fn mark_reviewed(
                &self,
                lease: &Lease,
                node: NodeId,
                review: Review,
            ) -> Result<()> {
                nodes::mark_reviewed(&self.pool, lease, node, review).await
            }

            async fn get_node(&self, node: NodeId) -> Result<NodeRecord> {
                nodes::get_node(&self.pool, node).await
            }

            async fn load_tree(&self, run_id: RunId) -> Result<Vec<NodeRecord>> {
                nodes::load_tree(&self.pool, run_id).await
            }

            async fn start_execution(&self, lease: &Lease, node: NodeId) -> Result<u32> {
                executions::start_execution(&self.pool, lease, node).await
            }

            async fn finish_execution(
                &self,
                node: NodeId,
                attempt: u32,
                result: ExecutionResult,
            ) -> Result<ExecutionRecord> {
                executions::finish_execution(&self.pool, node, attempt, result).await
            }

            async fn abandon_execution(
                &self,
                node: NodeId,
                attempt: u32,
                reason: &str,
            ) -> Result<()> {
                executions::abandon_execution(&self.pool, node, attempt, reason).await
            }

            async fn list_executions(&self, node: NodeId) -> Result<Vec<ExecutionRecord>> {
                executions::list_executions(&self.pool, node).await
            }

            async fn put_node_file(
                &self,
                lease: &Lease,
                node: NodeId,
                name: &str,
                content: &[u8],
            ) -> Result<()> {
                files::put_node_file(&self.pool, lease, node, name, content).await
            }

            async fn get_node_file(&self, node: NodeId, name: &str) -> Result<Option<Vec<u8>>> {
                files::get_node_file(&self.pool, node, name).await
            }

            async fn record_llm_call(&self, call: NewLlmCall) -> Result<i64> {
                llm::record_llm_call(&self.pool, call).await
            }

            async fn run_usage(&self, run_id: RunId) -> Result<Usage> {
                llm::run_usage(&self.pool, run_id).await
            }

            async fn append_event(&self, run_id: RunId, event: &RunEvent) -> Result<u64> {
                events::append_event(&self.pool, run_id, event).await
            }

            async fn events_after(
                &self,
                run_id: RunId,
                after_seq: u64,
                limit: u32,
            ) -> Result<Vec<EventRecord>> {
                events::events_after(&self.pool, run_id, after_seq, limit).await
            }

            async fn register_runner(&self, runner: RunnerInfo) -> Result<()> {
                runners::register_runner(&self.pool, runner).await
            }

            async fn heartbeat_runner(&self, runner_id: &str, load: RunnerLoad) -> Result<()> {
                runners::heartbeat_runner(&self.pool, runner_id, load).await
            }

            async fn deregister_runner(&self, runner_id: &str) -> Result<bool> {
                runners::deregister_runner(&self.pool, runner_id).await
            }

            async fn live_runners(&self, stale_after: Duration) -> Result<Vec<RunnerRecord>> {
                runners::live_runners(&self.pool, stale_after).await
            }

            async fn remove_stale_runners(&self, stale_after: Duration) -> Result<Vec<String>> {
                runners::remove_stale_runners(&self.pool, stale_after).await
            }
        }
    };
}

pub(crate) use impl_store_via_pool_functions;
