//! The `aide.v1.Sweeps` service: create, read, list, cancel, resume and retry sweeps, each
//! for its caller — a sweep is made in the caller's project, and another project's sweep is
//! NOT_FOUND as if it did not exist. The pump ([`crate::sweeps`]) does the work.

mod convert;
mod create;

use std::sync::Arc;

use aide_core::Direction;
use aide_core::access::Role;
use aide_core::sweep::{SweepId, SweepStatus};
use aide_proto::v1;
use aide_proto::v1::sweeps_server::{Sweeps, SweepsServer};
use aide_store::{NodeRecord, Store, SweepRecord};
use tonic::{Request, Response, Status};

use super::caps::RunCaps;
use super::intake::TaskIntake;
use super::store_status;
use crate::access::{Access, Caller};
use convert::{cell_to_proto, sweep_to_proto};

/// Sweeps returned when the request names no limit, and the most returned.
const DEFAULT_LIST_LIMIT: u32 = 50;
const MAX_LIST_LIMIT: u32 = 1000;

/// The sweeps API over a store.
#[derive(Debug)]
pub struct SweepsService<S: Store> {
    store: Arc<S>,
    access: Access<S>,
    intake: TaskIntake,
    caps: RunCaps,
}

impl<S: Store> SweepsService<S> {
    pub fn new(store: Arc<S>, access: Access<S>, intake: TaskIntake, caps: RunCaps) -> Self {
        Self {
            store,
            access,
            intake,
            caps,
        }
    }

    pub fn into_server(self) -> SweepsServer<Self> {
        SweepsServer::new(self)
            .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
    }

    /// The sweep, when the caller's project holds it.
    async fn visible(&self, caller: &Caller, id: &str) -> Result<SweepRecord, Status> {
        let id: SweepId = id
            .parse()
            .map_err(|_| Status::invalid_argument(format!("sweep id {id:?} is not a UUID")))?;
        let sweep = self.store.get_sweep(id).await.map_err(store_status)?;
        match caller.sees(&sweep.project) {
            true => Ok(sweep),
            false => Err(Status::not_found(format!("sweep {id} not found"))),
        }
    }

    async fn view(&self, sweep: &SweepRecord) -> Result<v1::Sweep, Status> {
        let cost = self
            .store
            .sweep_cost(sweep.id)
            .await
            .map_err(store_status)?;
        Ok(sweep_to_proto(sweep, cost))
    }

    /// The best validation metric after each step of a run, and the run's best.
    async fn curve(&self, run_id: aide_core::RunId) -> Result<(Vec<f64>, Option<f64>), Status> {
        let run = self.store.get_run(run_id).await.map_err(store_status)?;
        let mut nodes = self.store.load_tree(run_id).await.map_err(store_status)?;
        nodes.sort_by_key(|n| n.step);
        Ok(best_so_far(run.direction, &nodes))
    }
}

/// The best good metric after each node, in step order (NaN before the first).
fn best_so_far(direction: Option<Direction>, nodes: &[NodeRecord]) -> (Vec<f64>, Option<f64>) {
    let mut best: Option<f64> = None;
    let curve = nodes
        .iter()
        .map(|node| {
            if let Some(m) = crate::outputs::good_metric(node) {
                let better = match (best, direction) {
                    (None, _) => true,
                    (Some(b), Some(Direction::Minimize)) => m < b,
                    (Some(b), _) => m > b,
                };
                if better {
                    best = Some(m);
                }
            }
            best.unwrap_or(f64::NAN)
        })
        .collect();
    (curve, best)
}

#[tonic::async_trait]
impl<S: Store> Sweeps for SweepsService<S> {
    async fn create_sweep(
        &self,
        request: Request<v1::CreateSweepRequest>,
    ) -> Result<Response<v1::Sweep>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        caller.require(Role::Member)?;
        self.caps
            .check_project(&*self.store, &caller.project)
            .await?;
        let new = create::new_sweep(
            &self.intake,
            &self.caps,
            caller.project.clone(),
            request.into_inner(),
        )
        .await?;
        let sweep = self.store.create_sweep(new).await.map_err(store_status)?;
        tracing::info!(sweep_id = %sweep.id, name = %sweep.name, project = %sweep.project,
            cells = sweep.cells.total(), token_id = %caller.token_id, "sweep created");
        self.view(&sweep).await.map(Response::new)
    }

    async fn get_sweep(
        &self,
        request: Request<v1::GetSweepRequest>,
    ) -> Result<Response<v1::Sweep>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let sweep = self.visible(&caller, &request.get_ref().sweep_id).await?;
        self.view(&sweep).await.map(Response::new)
    }

    async fn list_sweeps(
        &self,
        request: Request<v1::ListSweepsRequest>,
    ) -> Result<Response<v1::ListSweepsResponse>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let limit = match request.get_ref().limit {
            0 => DEFAULT_LIST_LIMIT,
            n => n.min(MAX_LIST_LIMIT),
        };
        let sweeps = self
            .store
            .list_sweeps(Some(&caller.project), limit)
            .await
            .map_err(store_status)?;
        let mut out = Vec::with_capacity(sweeps.len());
        for sweep in &sweeps {
            out.push(self.view(sweep).await?);
        }
        Ok(Response::new(v1::ListSweepsResponse { sweeps: out }))
    }

    async fn list_cells(
        &self,
        request: Request<v1::ListCellsRequest>,
    ) -> Result<Response<v1::ListCellsResponse>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        let request = request.into_inner();
        let sweep = self.visible(&caller, &request.sweep_id).await?;
        let records = self
            .store
            .list_cells(sweep.id)
            .await
            .map_err(store_status)?;
        let mut cells = Vec::with_capacity(records.len());
        for record in &records {
            let mut cell = cell_to_proto(&sweep, record);
            if request.with_curves
                && record.status.is_finished()
                && let Some(run_id) = record.run_id
            {
                (cell.curve, cell.best_metric) = self.curve(run_id).await?;
            }
            cells.push(cell);
        }
        let metrics = sweep
            .definition
            .tasks
            .iter()
            .map(|t| t.task.metric.name.clone().unwrap_or_default())
            .collect();
        Ok(Response::new(v1::ListCellsResponse { cells, metrics }))
    }

    async fn cancel_sweep(
        &self,
        request: Request<v1::CancelSweepRequest>,
    ) -> Result<Response<v1::Sweep>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        caller.require(Role::Member)?;
        let sweep = self.visible(&caller, &request.get_ref().sweep_id).await?;
        let reason = format!("cancelled by token {}", caller.token_id);
        let sweep = self
            .store
            .stop_sweep(sweep.id, SweepStatus::Cancelled, &reason)
            .await
            .map_err(store_status)?;
        tracing::info!(sweep_id = %sweep.id, token_id = %caller.token_id, "sweep cancelled");
        self.view(&sweep).await.map(Response::new)
    }

    async fn resume_sweep(
        &self,
        request: Request<v1::ResumeSweepRequest>,
    ) -> Result<Response<v1::Sweep>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        caller.require(Role::Member)?;
        let request = request.into_inner();
        let sweep = self.visible(&caller, &request.sweep_id).await?;
        let budget = match &request.budget {
            Some(budget) => create::budget(Some(budget))?,
            None => sweep.budget,
        };
        let cost = self
            .store
            .sweep_cost(sweep.id)
            .await
            .map_err(store_status)?;
        let mut would_be = sweep.clone();
        would_be.budget = budget;
        if let Some(reason) = crate::sweeps::budget::spent(&would_be, cost, chrono::Utc::now()) {
            return Err(Status::failed_precondition(format!(
                "{reason}: resume with a bigger budget"
            )));
        }
        let sweep = self
            .store
            .resume_sweep(sweep.id, budget)
            .await
            .map_err(store_status)?;
        tracing::info!(sweep_id = %sweep.id, token_id = %caller.token_id, "sweep resumed");
        self.view(&sweep).await.map(Response::new)
    }

    async fn retry_sweep(
        &self,
        request: Request<v1::RetrySweepRequest>,
    ) -> Result<Response<v1::RetrySweepResponse>, Status> {
        let caller = self.access.caller(request.metadata()).await?;
        caller.require(Role::Member)?;
        let sweep = self.visible(&caller, &request.get_ref().sweep_id).await?;
        let queued = self
            .store
            .retry_failed_cells(sweep.id)
            .await
            .map_err(store_status)?;
        let sweep = self.store.get_sweep(sweep.id).await.map_err(store_status)?;
        Ok(Response::new(v1::RetrySweepResponse {
            queued,
            sweep: Some(self.view(&sweep).await?),
        }))
    }
}
