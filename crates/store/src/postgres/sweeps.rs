//! Postgres: [`SweepStore`] on the `sweeps` and `sweep_cells` tables. Starting cells holds
//! the sweep's row lock, so replicas start each cell once; grading claims skip locked cells.

use std::time::Duration;

use aide_core::RunId;
use aide_core::access::ProjectName;
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{SweepId, SweepStatus};
use sqlx::Row;

use super::{PgStore, ms};
use crate::decode::{self, DbRow};
use crate::error::{Error, Result};
use crate::store::SweepStore;
use crate::sweeps::{
    CellCounts, CellOutcome, CellRecord, GradingClaim, NewSweep, SweepRecord, cell_run,
    cells_at_once_db, cells_json, outcome_columns, wall_clock_db,
};
use crate::types::{direction_str, seed_to_db, to_json};

impl PgStore {
    async fn counts(&self, id: SweepId) -> Result<CellCounts> {
        let rows = sqlx::query(include_str!("../../sql/postgres/sweeps/counts.sql"))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await?;
        decode::cell_counts(&rows)
    }

    async fn with_counts(&self, row: &sqlx::postgres::PgRow) -> Result<SweepRecord> {
        let id = SweepId(row.id("id")?);
        decode::sweep(row, self.counts(id).await?)
    }
}

impl SweepStore for PgStore {
    async fn create_sweep(&self, sweep: NewSweep) -> Result<SweepRecord> {
        let id = SweepId::new();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(include_str!("../../sql/postgres/sweeps/create.sql"))
            .bind(id.0)
            .bind(sweep.project.as_str())
            .bind(&sweep.name)
            .bind(to_json(&sweep.definition, "definition")?)
            .bind(sweep.budget.cost_usd)
            .bind(wall_clock_db(&sweep.budget)?)
            .bind(cells_at_once_db(&sweep.budget)?)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("project", &sweep.project))?;
        sqlx::query(include_str!("../../sql/postgres/sweeps/insert_cells.sql"))
            .bind(id.0)
            .bind(cells_json(&sweep.definition))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.with_counts(&row).await
    }

    async fn count_all_cells(&self) -> Result<CellCounts> {
        let rows = sqlx::query(include_str!("../../sql/postgres/sweeps/all_counts.sql"))
            .fetch_all(&self.pool)
            .await?;
        decode::cell_counts(&rows)
    }

    async fn get_sweep(&self, id: SweepId) -> Result<SweepRecord> {
        let row = sqlx::query(include_str!("../../sql/postgres/sweeps/get.sql"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("sweep", id))?;
        self.with_counts(&row).await
    }

    async fn list_sweeps(
        &self,
        project: Option<&ProjectName>,
        limit: u32,
    ) -> Result<Vec<SweepRecord>> {
        let rows = sqlx::query(include_str!("../../sql/postgres/sweeps/list.sql"))
            .bind(i64::from(limit))
            .bind(project.map(|p| p.as_str().to_owned()))
            .fetch_all(&self.pool)
            .await?;
        let mut sweeps = Vec::with_capacity(rows.len());
        for row in &rows {
            sweeps.push(self.with_counts(row).await?);
        }
        Ok(sweeps)
    }

    async fn list_cells(&self, id: SweepId) -> Result<Vec<CellRecord>> {
        sqlx::query(include_str!("../../sql/postgres/sweeps/cells.sql"))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::cell)
            .collect()
    }

    async fn running_sweeps(&self) -> Result<Vec<SweepId>> {
        sqlx::query(include_str!("../../sql/postgres/sweeps/running.sql"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok(SweepId(row.id("id")?)))
            .collect()
    }

    async fn sweep_cost(&self, id: SweepId) -> Result<f64> {
        let row = sqlx::query(include_str!("../../sql/postgres/sweeps/cost.sql"))
            .bind(id.0)
            .fetch_one(&self.pool)
            .await?;
        row.value("cost_usd")
    }

    async fn start_cells(&self, id: SweepId, max_open: u32) -> Result<Vec<RunId>> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query(include_str!("../../sql/postgres/sweeps/lock_running.sql"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(Vec::new());
        };
        let open: i64 = sqlx::query(include_str!("../../sql/postgres/sweeps/open_cells.sql"))
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await?
            .try_get("cells")?;
        let limit = row.count("cells_at_once")?.min(max_open);
        let room = i64::from(limit) - open;
        if room <= 0 {
            return Ok(Vec::new());
        }
        // The definition (possibly large) is read only when a cell can start.
        let sweep = decode::sweep(&row, CellCounts::default())?;
        let queued = sqlx::query(include_str!("../../sql/postgres/sweeps/next_queued.sql"))
            .bind(id.0)
            .bind(room)
            .fetch_all(&mut *tx)
            .await?;
        let mut started = Vec::with_capacity(queued.len());
        for cell in &queued {
            let key = decode::cell_key(cell)?;
            let run = cell_run(&sweep, key)?;
            let run_id = RunId::new();
            sqlx::query(include_str!("../../sql/postgres/sweeps/create_run.sql"))
                .bind(run_id.0)
                .bind(&run.name)
                .bind(to_json(&run.task, "task")?)
                .bind(to_json(&run.settings, "settings")?)
                .bind(run.direction.map(direction_str))
                .bind(seed_to_db(run.seed))
                .bind(run.project.as_str())
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(include_str!("../../sql/postgres/sweeps/start_cell.sql"))
                .bind(id.0)
                .bind(cell.value::<i32>("idx")?)
                .bind(run_id.0)
                .execute(&mut *tx)
                .await?;
            started.push(run_id);
        }
        tx.commit().await?;
        Ok(started)
    }

    async fn claim_grading(&self, owner: &str, ttl: Duration) -> Result<Option<GradingClaim>> {
        sqlx::query(include_str!("../../sql/postgres/sweeps/claim_grading.sql"))
            .bind(owner)
            .bind(ms(ttl))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| decode::grading_claim(&row, owner))
            .transpose()
    }

    async fn renew_grading(&self, claim: &GradingClaim, ttl: Duration) -> Result<()> {
        let done = sqlx::query(include_str!("../../sql/postgres/sweeps/renew_grading.sql"))
            .bind(claim.sweep_id.0)
            .bind(i32::try_from(claim.index).unwrap_or(i32::MAX))
            .bind(&claim.owner)
            .bind(i32::try_from(claim.epoch).unwrap_or(i32::MAX))
            .bind(ms(ttl))
            .execute(&self.pool)
            .await?;
        match done.rows_affected() {
            0 => Err(claim.lost()),
            _ => Ok(()),
        }
    }

    async fn finish_cell(&self, claim: &GradingClaim, outcome: CellOutcome) -> Result<()> {
        let (grade, cause) = outcome_columns(&outcome)?;
        let done = sqlx::query(include_str!("../../sql/postgres/sweeps/finish_cell.sql"))
            .bind(claim.sweep_id.0)
            .bind(i32::try_from(claim.index).unwrap_or(i32::MAX))
            .bind(&claim.owner)
            .bind(i32::try_from(claim.epoch).unwrap_or(i32::MAX))
            .bind(outcome.status().as_str())
            .bind(grade)
            .bind(cause)
            .execute(&self.pool)
            .await?;
        match done.rows_affected() {
            0 => Err(claim.lost()),
            _ => Ok(()),
        }
    }

    async fn stop_sweep(
        &self,
        id: SweepId,
        status: SweepStatus,
        reason: &str,
    ) -> Result<SweepRecord> {
        let mut tx = self.pool.begin().await?;
        let stopped = sqlx::query(include_str!("../../sql/postgres/sweeps/stop.sql"))
            .bind(id.0)
            .bind(status.as_str())
            .bind(reason)
            .fetch_optional(&mut *tx)
            .await?;
        if stopped.is_none() {
            drop(tx);
            return Err(self.get_sweep(id).await?.not_running());
        }
        for sql in stop_statements(status) {
            sqlx::query(sql).bind(id.0).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.get_sweep(id).await
    }

    async fn resume_sweep(&self, id: SweepId, budget: SweepBudget) -> Result<SweepRecord> {
        let mut tx = self.pool.begin().await?;
        let resumed = sqlx::query(include_str!("../../sql/postgres/sweeps/resume.sql"))
            .bind(id.0)
            .bind(budget.cost_usd)
            .bind(wall_clock_db(&budget)?)
            .bind(cells_at_once_db(&budget)?)
            .fetch_optional(&mut *tx)
            .await?;
        if resumed.is_none() {
            drop(tx);
            return Err(self.get_sweep(id).await?.not_resumable());
        }
        sqlx::query(include_str!(
            "../../sql/postgres/sweeps/requeue_cancelled.sql"
        ))
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_sweep(id).await
    }

    async fn retry_failed_cells(&self, id: SweepId) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let queued = sqlx::query(include_str!("../../sql/postgres/sweeps/requeue_failed.sql"))
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if queued > 0 {
            sqlx::query(include_str!("../../sql/postgres/sweeps/reopen.sql"))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(queued)
    }

    async fn complete_sweep(&self, id: SweepId) -> Result<bool> {
        let done = sqlx::query(include_str!("../../sql/postgres/sweeps/complete.sql"))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// What stopping a sweep with `status` does besides changing its row.
fn stop_statements(status: SweepStatus) -> Vec<&'static str> {
    let mut statements = vec![
        include_str!("../../sql/postgres/sweeps/cancel_running_cells.sql"),
        include_str!("../../sql/postgres/sweeps/cancel_runs.sql"),
    ];
    if status == SweepStatus::Cancelled {
        statements.push(include_str!("../../sql/postgres/sweeps/cancel_queued.sql"));
    }
    statements
}
