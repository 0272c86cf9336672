//! SQLite: [`RunnerStore`] on the `runners` registry — registration, heartbeats with load,
//! the live set ordered least loaded first, and removal of silent runners.

use std::time::Duration;

use super::{SqliteStore, json_text, ms};
use crate::decode;
use crate::error::{Error, Result};
use crate::store::RunnerStore;
use crate::types::{RunnerInfo, RunnerLoad, RunnerRecord, to_i64};

impl RunnerStore for SqliteStore {
    async fn register_runner(&self, runner: RunnerInfo) -> Result<()> {
        sqlx::query(include_str!("../../sql/sqlite/runners/register.sql"))
            .bind(&runner.id)
            .bind(&runner.address)
            .bind(i64::from(runner.slots))
            .bind(json_text(&runner.labels))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn heartbeat_runner(&self, runner_id: &str, load: RunnerLoad) -> Result<()> {
        let done = sqlx::query(include_str!("../../sql/sqlite/runners/heartbeat.sql"))
            .bind(runner_id)
            .bind(i64::from(load.free_slots))
            .bind(i64::from(load.running))
            .bind(load.cpu_load)
            .bind(load.memory_load)
            .bind(
                load.cache_bytes
                    .map(|b| to_i64(b, "cache bytes"))
                    .transpose()?,
            )
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("runner", runner_id));
        }
        Ok(())
    }

    async fn deregister_runner(&self, runner_id: &str) -> Result<bool> {
        let done = sqlx::query(include_str!("../../sql/sqlite/runners/deregister.sql"))
            .bind(runner_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn live_runners(&self, stale_after: Duration) -> Result<Vec<RunnerRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/runners/live.sql"))
            .bind(ms(stale_after))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::runner)
            .collect()
    }

    async fn remove_stale_runners(&self, stale_after: Duration) -> Result<Vec<String>> {
        let mut ids: Vec<String> =
            sqlx::query_scalar(include_str!("../../sql/sqlite/runners/remove_stale.sql"))
                .bind(ms(stale_after))
                .fetch_all(&self.pool)
                .await?;
        ids.sort();
        Ok(ids)
    }
}
