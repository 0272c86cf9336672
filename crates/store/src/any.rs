//! [`AnyStore`]: one of the two backends chosen at run time from a URL, and [`connect`].
//! Its store traits are implemented by `store_trait!` (in `dispatch`) from each trait's one
//! declaration.

use crate::error::Result;
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::url::{Backend, DatabaseUrl};

/// Opens the store at `url` and applies pending migrations: `postgres://` or
/// `postgresql://` for Postgres, `sqlite:` for SQLite (the file is created if missing).
/// Takes a [`DatabaseUrl`] or text, which is checked by [`DatabaseUrl::parse`].
pub async fn connect(url: impl AsRef<str>) -> Result<AnyStore> {
    let url = DatabaseUrl::parse(url.as_ref())?;
    Ok(match url.backend() {
        Backend::Postgres => AnyStore::Postgres(PgStore::connect(url.as_str()).await?),
        Backend::Sqlite => AnyStore::Sqlite(SqliteStore::connect(url.as_str()).await?),
    })
}

/// A store on either backend; cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub enum AnyStore {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

impl AnyStore {
    /// Closes the connection pool.
    pub async fn close(&self) {
        match self {
            Self::Postgres(s) => s.close().await,
            Self::Sqlite(s) => s.close().await,
        }
    }
}
