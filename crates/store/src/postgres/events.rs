//! Postgres: [`EventStore`] on the `run_events` log — per-run sequence numbers handed out
//! under the run row's lock, so sequence order is commit order.

use aide_core::{RunEvent, RunId};

use super::PgStore;
use crate::decode;
use crate::error::{Error, Result};
use crate::store::EventStore;
use crate::types::{EventRecord, to_i64, to_u64};

impl EventStore for PgStore {
    async fn append_event(&self, run_id: RunId, event: &RunEvent) -> Result<u64> {
        let seq: Option<i64> =
            sqlx::query_scalar(include_str!("../../sql/postgres/events/append.sql"))
                .bind(run_id.0)
                .bind(event.kind())
                .bind(event.payload())
                .fetch_optional(&self.pool)
                .await?;
        to_u64(
            seq.ok_or_else(|| Error::not_found("run", run_id))?,
            "event seq",
        )
    }

    async fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        sqlx::query(include_str!("../../sql/postgres/events/after.sql"))
            .bind(run_id.0)
            .bind(to_i64(after_seq, "sequence number")?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::event)
            .collect()
    }
}
