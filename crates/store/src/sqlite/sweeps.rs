//! SQLite: [`SweepStore`] on the `sweeps` and `sweep_cells` tables. Starting cells and
//! claiming a grading run inside `BEGIN IMMEDIATE`, so one writer at a time decides.

use std::time::Duration;

use aide_core::RunId;
use aide_core::access::ProjectName;
use aide_core::sweep::definition::SweepBudget;
use aide_core::sweep::{SweepId, SweepStatus};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, id_text, json_text, ms, returning};
use crate::decode::{self, DbRow};
use crate::error::{Error, Result};
use crate::store::SweepStore;
use crate::sweeps::{
    CellCounts, CellOutcome, CellRecord, GradingClaim, NewSweep, SweepRecord, cell_run,
    cells_at_once_db, cells_json, outcome_columns, wall_clock_db,
};
use crate::types::{direction_str, seed_to_db, to_json};

impl SqliteStore {
    async fn counts(&self, id: SweepId) -> Result<CellCounts> {
        let rows = sqlx::query(include_str!("../../sql/sqlite/sweeps/counts.sql"))
            .bind(id_text(id.0))
            .fetch_all(&self.pool)
            .await?;
        decode::cell_counts(&rows)
    }

    async fn with_counts(&self, row: &SqliteRow) -> Result<SweepRecord> {
        let id = SweepId(row.id("id")?);
        decode::sweep(row, self.counts(id).await?)
    }

    /// Runs `sql` (bound to the sweep's id) on `executor`; how many rows it changed.
    async fn on_sweep<'e>(
        sql: &'static str,
        id: SweepId,
        executor: impl sqlx::SqliteExecutor<'e>,
    ) -> Result<u64> {
        Ok(sqlx::query(sql)
            .bind(id_text(id.0))
            .execute(executor)
            .await?
            .rows_affected())
    }
}

impl SweepStore for SqliteStore {
    async fn create_sweep(&self, sweep: NewSweep) -> Result<SweepRecord> {
        let id = SweepId::new();
        let mut tx = self.begin_immediate().await?;
        let query = sqlx::query(include_str!("../../sql/sqlite/sweeps/create.sql"))
            .bind(id_text(id.0))
            .bind(sweep.project.as_str().to_owned())
            .bind(sweep.name.clone())
            .bind(json_text(&to_json(&sweep.definition, "definition")?))
            .bind(sweep.budget.cost_usd)
            .bind(wall_clock_db(&sweep.budget)?)
            .bind(cells_at_once_db(&sweep.budget)?);
        let row = returning(query, &mut *tx)
            .await?
            .ok_or_else(|| Error::not_found("project", &sweep.project))?;
        sqlx::query(include_str!("../../sql/sqlite/sweeps/insert_cells.sql"))
            .bind(id_text(id.0))
            .bind(json_text(&cells_json(&sweep.definition)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.with_counts(&row).await
    }

    async fn count_all_cells(&self) -> Result<CellCounts> {
        let rows = sqlx::query(include_str!("../../sql/sqlite/sweeps/all_counts.sql"))
            .fetch_all(&self.pool)
            .await?;
        decode::cell_counts(&rows)
    }

    async fn get_sweep(&self, id: SweepId) -> Result<SweepRecord> {
        let row = sqlx::query(include_str!("../../sql/sqlite/sweeps/get.sql"))
            .bind(id_text(id.0))
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
        let rows = sqlx::query(include_str!("../../sql/sqlite/sweeps/list.sql"))
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
        sqlx::query(include_str!("../../sql/sqlite/sweeps/cells.sql"))
            .bind(id_text(id.0))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::cell)
            .collect()
    }

    async fn running_sweeps(&self) -> Result<Vec<SweepId>> {
        sqlx::query(include_str!("../../sql/sqlite/sweeps/running.sql"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok(SweepId(row.id("id")?)))
            .collect()
    }

    async fn sweep_cost(&self, id: SweepId) -> Result<f64> {
        let row = sqlx::query(include_str!("../../sql/sqlite/sweeps/cost.sql"))
            .bind(id_text(id.0))
            .fetch_one(&self.pool)
            .await?;
        row.value("cost_usd")
    }

    async fn start_cells(&self, id: SweepId, max_open: u32) -> Result<Vec<RunId>> {
        let mut tx = self.begin_immediate().await?;
        let Some(row) = sqlx::query(include_str!("../../sql/sqlite/sweeps/lock_running.sql"))
            .bind(id_text(id.0))
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(Vec::new());
        };
        let open: i64 = sqlx::query(include_str!("../../sql/sqlite/sweeps/open_cells.sql"))
            .bind(id_text(id.0))
            .fetch_one(&mut *tx)
            .await?
            .try_get("cells")?;
        let limit = row.count("cells_at_once")?.min(max_open);
        let room = i64::from(limit) - open;
        if room <= 0 {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        // The definition (possibly large) is read only when a cell can start.
        let sweep = decode::sweep(&row, CellCounts::default())?;
        let queued = sqlx::query(include_str!("../../sql/sqlite/sweeps/next_queued.sql"))
            .bind(id_text(id.0))
            .bind(room)
            .fetch_all(&mut *tx)
            .await?;
        let mut started = Vec::with_capacity(queued.len());
        for cell in &queued {
            let key = decode::cell_key(cell)?;
            let run = cell_run(&sweep, key)?;
            let run_id = RunId::new();
            sqlx::query(include_str!("../../sql/sqlite/sweeps/create_run.sql"))
                .bind(id_text(run_id.0))
                .bind(run.name)
                .bind(json_text(&to_json(&run.task, "task")?))
                .bind(json_text(&to_json(&run.settings, "settings")?))
                .bind(run.direction.map(direction_str))
                .bind(seed_to_db(run.seed))
                .bind(run.project.as_str().to_owned())
                .bind(id_text(id.0))
                .execute(&mut *tx)
                .await?;
            sqlx::query(include_str!("../../sql/sqlite/sweeps/start_cell.sql"))
                .bind(id_text(id.0))
                .bind(cell.value::<i64>("idx")?)
                .bind(id_text(run_id.0))
                .execute(&mut *tx)
                .await?;
            started.push(run_id);
        }
        tx.commit().await?;
        Ok(started)
    }

    async fn claim_grading(&self, owner: &str, ttl: Duration) -> Result<Option<GradingClaim>> {
        let mut tx = self.begin_immediate().await?;
        let candidate = sqlx::query(include_str!(
            "../../sql/sqlite/sweeps/grading_candidate.sql"
        ))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(candidate) = candidate else {
            tx.rollback().await?;
            return Ok(None);
        };
        let query = sqlx::query(include_str!("../../sql/sqlite/sweeps/claim_grading.sql"))
            .bind(candidate.value::<String>("sweep_id")?)
            .bind(candidate.value::<i64>("idx")?)
            .bind(owner.to_owned())
            .bind(ms(ttl));
        let row = returning(query, &mut *tx)
            .await?
            .ok_or_else(|| Error::corrupt("a write returned no row"))?;
        tx.commit().await?;
        decode::grading_claim(&row, owner).map(Some)
    }

    async fn renew_grading(&self, claim: &GradingClaim, ttl: Duration) -> Result<()> {
        let done = sqlx::query(include_str!("../../sql/sqlite/sweeps/renew_grading.sql"))
            .bind(id_text(claim.sweep_id.0))
            .bind(i64::from(claim.index))
            .bind(claim.owner.clone())
            .bind(i64::from(claim.epoch))
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
        let done = sqlx::query(include_str!("../../sql/sqlite/sweeps/finish_cell.sql"))
            .bind(id_text(claim.sweep_id.0))
            .bind(i64::from(claim.index))
            .bind(claim.owner.clone())
            .bind(i64::from(claim.epoch))
            .bind(outcome.status().as_str())
            .bind(grade.map(|g| json_text(&g)))
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
        let mut tx = self.begin_immediate().await?;
        let query = sqlx::query(include_str!("../../sql/sqlite/sweeps/stop.sql"))
            .bind(id_text(id.0))
            .bind(status.as_str())
            .bind(reason.to_owned());
        if returning(query, &mut *tx).await?.is_none() {
            tx.rollback().await?;
            return Err(self.get_sweep(id).await?.not_running());
        }
        Self::on_sweep(
            include_str!("../../sql/sqlite/sweeps/cancel_running_cells.sql"),
            id,
            &mut *tx,
        )
        .await?;
        Self::on_sweep(
            include_str!("../../sql/sqlite/sweeps/cancel_runs.sql"),
            id,
            &mut *tx,
        )
        .await?;
        if status == SweepStatus::Cancelled {
            Self::on_sweep(
                include_str!("../../sql/sqlite/sweeps/cancel_queued.sql"),
                id,
                &mut *tx,
            )
            .await?;
        }
        tx.commit().await?;
        self.get_sweep(id).await
    }

    async fn resume_sweep(&self, id: SweepId, budget: SweepBudget) -> Result<SweepRecord> {
        let mut tx = self.begin_immediate().await?;
        let query = sqlx::query(include_str!("../../sql/sqlite/sweeps/resume.sql"))
            .bind(id_text(id.0))
            .bind(budget.cost_usd)
            .bind(wall_clock_db(&budget)?)
            .bind(cells_at_once_db(&budget)?);
        if returning(query, &mut *tx).await?.is_none() {
            tx.rollback().await?;
            return Err(self.get_sweep(id).await?.not_resumable());
        }
        Self::on_sweep(
            include_str!("../../sql/sqlite/sweeps/requeue_cancelled.sql"),
            id,
            &mut *tx,
        )
        .await?;
        tx.commit().await?;
        self.get_sweep(id).await
    }

    async fn retry_failed_cells(&self, id: SweepId) -> Result<u64> {
        let mut tx = self.begin_immediate().await?;
        let queued = Self::on_sweep(
            include_str!("../../sql/sqlite/sweeps/requeue_failed.sql"),
            id,
            &mut *tx,
        )
        .await?;
        if queued > 0 {
            Self::on_sweep(
                include_str!("../../sql/sqlite/sweeps/reopen.sql"),
                id,
                &mut *tx,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(queued)
    }

    async fn complete_sweep(&self, id: SweepId) -> Result<bool> {
        let done = Self::on_sweep(
            include_str!("../../sql/sqlite/sweeps/complete.sql"),
            id,
            &self.pool,
        )
        .await?;
        Ok(done > 0)
    }
}
