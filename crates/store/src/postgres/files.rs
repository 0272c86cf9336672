//! Postgres: `node_files`, the files a node's execution produced (its submission), written
//! under the lease fence and replaced when written again.

use aide_core::NodeId;
use sqlx::postgres::PgPool;

use super::{lease_binds, lease_holds, lease_lost, pg_fence};
use crate::error::{Error, Result};
use crate::types::Lease;

pub(super) async fn put_node_file(
    pool: &PgPool,
    lease: &Lease,
    node: NodeId,
    name: &str,
    content: &[u8],
) -> Result<()> {
    let (run, owner, epoch) = lease_binds(lease)?;
    let done = sqlx::query(concat!(
        "INSERT INTO node_files (node_id, name, content, created_at) SELECT $4, $5, $6, now() \
         WHERE EXISTS (SELECT 1 FROM nodes WHERE nodes.id = $4 AND nodes.run_id = $1) AND ",
        pg_fence!(),
        " ON CONFLICT (node_id, name) DO UPDATE SET content = EXCLUDED.content, \
         created_at = EXCLUDED.created_at"
    ))
    .bind(run)
    .bind(owner)
    .bind(epoch)
    .bind(node.0)
    .bind(name)
    .bind(content)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(if lease_holds(pool, lease).await? {
            Error::not_found("node", node)
        } else {
            lease_lost(lease)
        });
    }
    Ok(())
}

pub(super) async fn get_node_file(
    pool: &PgPool,
    node: NodeId,
    name: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(
        sqlx::query_scalar("SELECT content FROM node_files WHERE node_id = $1 AND name = $2")
            .bind(node.0)
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}
