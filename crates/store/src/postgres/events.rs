//! Postgres: the `run_events` log — per-run sequence numbers handed out under the run
//! row's lock, so sequence order is commit order.

use aide_core::{RunEvent, RunId};
use sqlx::Row;
use sqlx::postgres::PgPool;

use crate::error::{Error, Result};
use crate::types::{EventRecord, to_i64, to_u64};

pub(super) async fn append_event(pool: &PgPool, run_id: RunId, event: &RunEvent) -> Result<u64> {
    let seq = sqlx::query_scalar::<_, i64>(
        "WITH next AS ( \
             UPDATE runs SET last_event_seq = last_event_seq + 1 WHERE id = $1 RETURNING last_event_seq) \
         INSERT INTO run_events (run_id, seq, kind, payload, created_at) \
         SELECT $1, next.last_event_seq, $2, $3, now() FROM next \
         RETURNING seq",
    )
    .bind(run_id.0)
    .bind(event.kind())
    .bind(event.payload())
    .fetch_optional(pool)
    .await?;
    match seq {
        Some(seq) => to_u64(seq, "event seq"),
        None => Err(Error::not_found("run", run_id)),
    }
}

pub(super) async fn events_after(
    pool: &PgPool,
    run_id: RunId,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<EventRecord>> {
    let rows = sqlx::query(
        "SELECT seq, kind, payload, created_at FROM run_events \
         WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(run_id.0)
    .bind(to_i64(after_seq, "sequence number")?)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(EventRecord {
                run_id,
                seq: to_u64(row.try_get("seq")?, "event seq")?,
                event: RunEvent::from_parts(row.try_get("kind")?, row.try_get("payload")?),
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
