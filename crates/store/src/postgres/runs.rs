//! Postgres: [`RunStore`] on the `runs` table — creating, reading, cancelling and steering runs, and
//! the lease (claim with `FOR UPDATE SKIP LOCKED`, renew, release, finish, fix the
//! direction).

use std::time::Duration;

use super::{PgStore, fenced, ms};
use crate::decode::{self, DbRow};
use crate::error::{Error, Result};
use crate::store::RunStore;
use crate::types::{
    Lease, LeaseStatus, NewRun, RunCounts, RunFilter, RunRecord, RunSignals, RunStatus,
    check_terminal, direction_str, parse_status, seed_to_db, steered_settings, to_json, to_u64,
};
use aide_core::access::ProjectName;
use aide_core::steer::Steered;
use aide_core::{Direction, RunEvent, RunId};

impl RunStore for PgStore {
    async fn count_unfinished_runs(&self, project: &ProjectName) -> Result<u64> {
        let row = sqlx::query(include_str!("../../sql/postgres/runs/count_unfinished.sql"))
            .bind(project.as_str())
            .fetch_one(&self.pool)
            .await?;
        row.unsigned("unfinished")
    }

    async fn count_runs(&self) -> Result<RunCounts> {
        let rows = sqlx::query(include_str!("../../sql/postgres/runs/count_by_status.sql"))
            .fetch_all(&self.pool)
            .await?;
        decode::run_counts(&rows)
    }

    async fn create_run(&self, run: NewRun) -> Result<RunRecord> {
        let row = sqlx::query(include_str!("../../sql/postgres/runs/create.sql"))
            .bind(RunId::new().0)
            .bind(&run.name)
            .bind(to_json(&run.task, "task")?)
            .bind(to_json(&run.settings, "settings")?)
            .bind(run.direction.map(direction_str))
            .bind(seed_to_db(run.seed))
            .bind(run.project.as_str().to_owned())
            .bind(run.fork_of.map(|n| n.0))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("project", &run.project))?;
        decode::run(&row)
    }

    async fn get_run(&self, run_id: RunId) -> Result<RunRecord> {
        sqlx::query(include_str!("../../sql/postgres/runs/get.sql"))
            .bind(run_id.0)
            .fetch_optional(&self.pool)
            .await?
            .map_or_else(
                || Err(Error::not_found("run", run_id)),
                |row| decode::run(&row),
            )
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunRecord>> {
        sqlx::query(include_str!("../../sql/postgres/runs/list.sql"))
            .bind(filter.status.map(RunStatus::as_str))
            .bind(i64::from(filter.limit))
            .bind(filter.project.as_ref().map(|p| p.as_str().to_owned()))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::run)
            .collect()
    }

    async fn request_cancel(&self, run_id: RunId) -> Result<RunRecord> {
        let row = sqlx::query(include_str!("../../sql/postgres/runs/request_cancel.sql"))
            .bind(run_id.0)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => decode::run(&row),
            None => Err(self.get_run(run_id).await?.cancel_refused()),
        }
    }

    async fn claim_run(&self, owner: &str, ttl: Duration) -> Result<Option<Lease>> {
        sqlx::query(include_str!("../../sql/postgres/runs/claim.sql"))
            .bind(owner)
            .bind(ms(ttl))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| decode::lease(&row, owner))
            .transpose()
    }

    async fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<LeaseStatus> {
        let row = fenced(
            include_str!("../../sql/postgres/runs/renew_lease.sql"),
            lease,
        )?
        .bind(ms(ttl))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| lease.lost())?;
        decode::lease_status(&row)
    }

    async fn cancel_requested(&self, run_id: RunId) -> Result<bool> {
        let row = sqlx::query(include_str!("../../sql/postgres/runs/cancel_requested.sql"))
            .bind(run_id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("run", run_id))?;
        row.value("cancel_requested")
    }

    async fn run_signals(&self, runs: &[RunId]) -> Result<Vec<RunSignals>> {
        let ids: Vec<uuid::Uuid> = runs.iter().map(|r| r.0).collect();
        sqlx::query(include_str!("../../sql/postgres/runs/signals.sql"))
            .bind(ids)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::signals)
            .collect()
    }

    async fn steer_run(&self, run_id: RunId, steered: &Steered) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(include_str!(
            "../../sql/postgres/runs/lock_for_steering.sql"
        ))
        .bind(run_id.0)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::not_found("run", run_id))?;
        let status = parse_status(&row.value::<String>("status")?)?;
        let settings = steered_settings(run_id, status, &row.json("settings")?, steered)?;
        let event = RunEvent::Steered(steered.clone());
        let seq: i64 = sqlx::query_scalar(include_str!("../../sql/postgres/events/append.sql"))
            .bind(run_id.0)
            .bind(event.kind())
            .bind(event.payload())
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(include_str!("../../sql/postgres/runs/steered.sql"))
            .bind(run_id.0)
            .bind(seq)
            .bind(to_json(&settings, "settings")?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        to_u64(seq, "event seq")
    }

    async fn record_engine_failure(&self, lease: &Lease) -> Result<u32> {
        let row = fenced(
            include_str!("../../sql/postgres/runs/engine_failed.sql"),
            lease,
        )?
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| lease.lost())?;
        row.count("engine_failures")
    }

    async fn release_lease(&self, lease: &Lease) -> Result<()> {
        let done = fenced(
            include_str!("../../sql/postgres/runs/release_lease.sql"),
            lease,
        )?
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(lease.lost());
        }
        Ok(())
    }

    async fn finish_run(
        &self,
        lease: &Lease,
        status: RunStatus,
        reason: &str,
    ) -> Result<RunRecord> {
        check_terminal(status)?;
        let row = fenced(include_str!("../../sql/postgres/runs/finish.sql"), lease)?
            .bind(status.as_str())
            .bind(reason)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| lease.lost())?;
        decode::run(&row)
    }

    async fn fix_direction(&self, lease: &Lease, direction: Direction) -> Result<Direction> {
        let row = fenced(
            include_str!("../../sql/postgres/runs/fix_direction.sql"),
            lease,
        )?
        .bind(direction_str(direction))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| lease.lost())?;
        decode::fixed_direction(&row)
    }
}
