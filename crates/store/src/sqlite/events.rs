//! SQLite: [`EventStore`] on the `run_events` log — per-run sequence numbers handed out
//! inside the same `BEGIN IMMEDIATE` transaction as the insert, so sequence order is commit
//! order.

use aide_core::{RunEvent, RunId};

use super::{SqliteStore, id_text, json_text};
use crate::decode;
use crate::error::{Error, Result};
use crate::store::EventStore;
use crate::types::{EventRecord, to_i64, to_u64};

impl EventStore for SqliteStore {
    async fn append_event(&self, run_id: RunId, event: &RunEvent) -> Result<u64> {
        let mut tx = self.begin_immediate().await?;
        let seq = append_on(&mut tx, run_id, event).await?;
        tx.commit().await?;
        Ok(seq)
    }

    async fn events_after(
        &self,
        run_id: RunId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/events/after.sql"))
            .bind(id_text(run_id.0))
            .bind(to_i64(after_seq, "sequence number")?)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::event)
            .collect()
    }
}

/// Appends `event` on `tx` (which holds the write lock) and returns its sequence number;
/// `NotFound` for an unknown run.
pub(super) async fn append_on(
    tx: &mut sqlx::SqliteConnection,
    run_id: RunId,
    event: &RunEvent,
) -> Result<u64> {
    let seq: Option<i64> = sqlx::query_scalar(include_str!("../../sql/sqlite/events/next_seq.sql"))
        .bind(id_text(run_id.0))
        .fetch_all(&mut *tx)
        .await?
        .pop();
    let Some(seq) = seq else {
        return Err(Error::not_found("run", run_id));
    };
    sqlx::query(include_str!("../../sql/sqlite/events/append.sql"))
        .bind(id_text(run_id.0))
        .bind(seq)
        .bind(event.kind())
        .bind(json_text(&event.payload()))
        .execute(&mut *tx)
        .await?;
    to_u64(seq, "event seq")
}
