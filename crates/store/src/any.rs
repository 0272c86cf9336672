//! [`AnyStore`]: one of the two backends chosen at run time from a URL, [`connect`], and
//! `store_trait!`, which declares each store trait once and derives `AnyStore`'s forwarding
//! from that same declaration.

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

/// Declares a store trait from `async fn name(&self, arg: Type, ...) -> Result<T>;`
/// signatures (each method returns a `Send` future) and implements it for [`AnyStore`] by
/// forwarding every method to the backend in use. The trait's documentation and each
/// method's pass through unchanged.
macro_rules! store_trait {
    (
        $(#[$trait_attr:meta])*
        pub trait $trait:ident {
            $(
                $(#[$attr:meta])*
                async fn $method:ident(&self $(, $arg:ident: $ty:ty)*) -> Result<$ret:ty>;
            )*
        }
    ) => {
        $(#[$trait_attr])*
        pub trait $trait: Send + Sync + 'static {
            $(
                $(#[$attr])*
                fn $method(
                    &self $(, $arg: $ty)*
                ) -> impl ::std::future::Future<Output = $crate::Result<$ret>> + Send;
            )*
        }

        impl $trait for $crate::AnyStore {
            $(
                async fn $method(&self $(, $arg: $ty)*) -> $crate::Result<$ret> {
                    match self {
                        Self::Postgres(store) => store.$method($($arg),*).await,
                        Self::Sqlite(store) => store.$method($($arg),*).await,
                    }
                }
            )*
        }
    };
}

pub(crate) use store_trait;
