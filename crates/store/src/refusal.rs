//! Why a fenced write changed nothing, decided once for both backends from the few reads
//! each backend provides through [`Explain`]: the lease was lost, the row is missing, or
//! the row is in a state the write does not apply to.

use std::future::Future;

use aide_core::{NodeId, NodeStage};

use crate::error::{Error, Result};
use crate::types::{Lease, transition_error};

/// The reads that explain a refused write, run after the write (without locks).
pub(crate) trait Explain {
    /// Whether the lease still holds.
    fn lease_holds(&self, lease: &Lease) -> impl Future<Output = Result<bool>> + Send;

    /// The stage of `node` in the lease's run and whether it has code; `None` if the run
    /// has no such node.
    fn node_stage(
        &self,
        lease: &Lease,
        node: NodeId,
    ) -> impl Future<Output = Result<Option<(NodeStage, bool)>>> + Send;

    /// Whether attempt `attempt` of `node` exists.
    fn attempt_exists(
        &self,
        node: NodeId,
        attempt: u32,
    ) -> impl Future<Output = Result<bool>> + Send;
}

/// Why the fenced transition of `node` to `target` changed nothing.
pub(crate) async fn transition(
    store: &impl Explain,
    lease: &Lease,
    node: NodeId,
    target: NodeStage,
) -> Error {
    let explained = async {
        if !store.lease_holds(lease).await? {
            return Ok(lease.lost());
        }
        Ok(match store.node_stage(lease, node).await? {
            Some((stage, has_code)) => transition_error(node, stage, has_code, target),
            None => Error::not_found("node", node),
        })
    };
    explained.await.unwrap_or_else(|e| e)
}

/// Why a fenced write about `node` (which must be of the lease's run) changed nothing.
pub(crate) async fn node_write(store: &impl Explain, lease: &Lease, node: NodeId) -> Error {
    match store.lease_holds(lease).await {
        Ok(true) => Error::not_found("node", node),
        Ok(false) => lease.lost(),
        Err(e) => e,
    }
}

/// Why a write fenced by the attempt number changed nothing.
pub(crate) async fn attempt(store: &impl Explain, node: NodeId, attempt: u32) -> Error {
    match store.attempt_exists(node, attempt).await {
        Ok(exists) => Error::attempt_refused(node, attempt, exists),
        Err(e) => e,
    }
}
