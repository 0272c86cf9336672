//! SQLite: [`AccessStore`] on the `projects` and `tokens` tables.

use aide_core::access::{ProjectName, TokenHash};
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use uuid::Uuid;

use super::{SqliteStore, id_text};
use crate::decode;
use crate::error::{Error, Result};
use crate::store::AccessStore;
use crate::types::{NewToken, ProjectRecord, TokenRecord};

impl AccessStore for SqliteStore {
    async fn create_project(&self, name: &ProjectName) -> Result<ProjectRecord> {
        let row = sqlx::query(include_str!("../../sql/sqlite/access/create_project.sql"))
            .bind(name.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(|e| Error::existing_project(e, name))?;
        decode::project(&row)
    }

    async fn list_projects(&self) -> Result<Vec<ProjectRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/access/list_projects.sql"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::project)
            .collect()
    }

    async fn create_token(&self, token: &NewToken) -> Result<TokenRecord> {
        let row = insert_token(token, false)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("project", &token.project))?;
        decode::token(&row)
    }

    async fn create_bootstrap_token(&self, token: &NewToken) -> Result<Option<TokenRecord>> {
        insert_token(token, true)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode::token)
            .transpose()
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/access/find_token.sql"))
            .bind(hash.to_hex())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(decode::token)
            .transpose()
    }

    async fn list_tokens(&self, project: Option<&ProjectName>) -> Result<Vec<TokenRecord>> {
        sqlx::query(include_str!("../../sql/sqlite/access/list_tokens.sql"))
            .bind(project.map(ProjectName::as_str))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(decode::token)
            .collect()
    }

    async fn revoke_token(&self, id: Uuid) -> Result<TokenRecord> {
        let row = sqlx::query(include_str!("../../sql/sqlite/access/revoke_token.sql"))
            .bind(id_text(id))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("token", id))?;
        decode::token(&row)
    }
}

/// The insert of `token`: no row when its project does not exist, or (for the bootstrap
/// token) when a bootstrap token was stored before.
fn insert_token(token: &NewToken, bootstrap: bool) -> Query<'static, Sqlite, SqliteArguments> {
    sqlx::query(include_str!("../../sql/sqlite/access/create_token.sql"))
        .bind(id_text(Uuid::now_v7()))
        .bind(token.project.as_str().to_owned())
        .bind(token.role.as_str())
        .bind(token.hash.to_hex())
        .bind(token.label.clone())
        .bind(token.expires_at.map(|at| at.timestamp_millis()))
        .bind(bootstrap)
}
