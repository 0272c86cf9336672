//! SQLite: the `run_events` log — per-run sequence numbers handed out inside the same
//! `BEGIN IMMEDIATE` transaction as the insert, so sequence order is commit order.

use aide_core::{RunEvent, RunId};
use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use super::{begin_immediate, id_text, now_ms, parse_json, time};
use crate::error::{Error, Result};
use crate::types::{EventRecord, to_i64, to_u64};

pub(super) async fn append_event(
    pool: &SqlitePool,
    run_id: RunId,
    event: &RunEvent,
) -> Result<u64> {
    let mut tx = begin_immediate(pool).await?;
    let seq: Option<i64> =
        sqlx::query_scalar("UPDATE runs SET last_event_seq = last_event_seq + 1 WHERE id = ?1 RETURNING last_event_seq")
            .bind(id_text(run_id.0))
            .fetch_all(&mut *tx)
            .await?
            .pop();
    let Some(seq) = seq else {
        tx.rollback().await?;
        return Err(Error::not_found("run", run_id));
    };
    sqlx::query(concat!(
        "INSERT INTO run_events (run_id, seq, kind, payload, created_at) VALUES (?1, ?2, ?3, ?4, ",
        now_ms!(),
        ")"
    ))
    .bind(id_text(run_id.0))
    .bind(seq)
    .bind(event.kind())
    .bind(event.payload().to_string())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    to_u64(seq, "event seq")
}

pub(super) async fn events_after(
    pool: &SqlitePool,
    run_id: RunId,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<EventRecord>> {
    let rows = sqlx::query(
        "SELECT seq, kind, payload, created_at FROM run_events \
         WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )
    .bind(id_text(run_id.0))
    .bind(to_i64(after_seq, "sequence number")?)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(EventRecord {
                run_id,
                seq: to_u64(row.try_get("seq")?, "event seq")?,
                event: RunEvent::from_parts(
                    row.try_get("kind")?,
                    parse_json(row.try_get("payload")?, "event payload")?,
                ),
                created_at: time(row.try_get("created_at")?)?,
            })
        })
        .collect()
}
