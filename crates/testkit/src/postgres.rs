//! A fresh Postgres database per test: created on the server at `AIDE_TEST_POSTGRES_URL`
//! (a superuser URL; default `postgres://aide:aide@127.0.0.1:5432/postgres`) under a
//! generated name, and dropped (`WITH (FORCE)`) when the [`TestDatabase`] is dropped. A
//! server that cannot be reached falls under the [`crate::require`] rule.

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// The server URL when `AIDE_TEST_POSTGRES_URL` is unset.
pub const DEFAULT_URL: &str = "postgres://aide:aide@127.0.0.1:5432/postgres";

/// One test's database; dropped from the server with this value.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates `<prefix>_<uuid>` (prefix: lowercase letters, digits, `_`) on the test
    /// server; `None` after a SKIPPED line when the server is unreachable outside CI.
    pub async fn create(prefix: &str) -> Option<Self> {
        assert!(
            prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "a database prefix is a plain identifier: {prefix}"
        );
        let admin_url = admin_url();
        let mut admin = crate::require::require(
            &format!("Postgres at {admin_url}"),
            connect(&admin_url).await,
        )?;
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        // The name is generated above, never user input; identifiers cannot be bound.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("create the test database {name}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// The URL of this database (the server URL with the database replaced).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop may run inside a test's runtime or outside any: the clean-up gets a thread
        // and a runtime of its own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            crate::block_on(async {
                let mut admin = match connect(&admin_url).await {
                    Ok(admin) => admin,
                    Err(e) => return eprintln!("cannot drop the test database {name}: {e}"),
                };
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = sqlx::query(AssertSqlSafe(drop)).execute(&mut admin).await {
                    eprintln!("cannot drop the test database {name}: {e}");
                }
                let _ = admin.close().await;
            })
        });
        let _ = cleanup.join();
    }
}

/// `AIDE_TEST_POSTGRES_URL` or the default.
pub fn admin_url() -> String {
    std::env::var("AIDE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url)).await {
        Ok(connected) => connected.map_err(|e| e.to_string()),
        Err(_) => Err("no answer in 5 s".into()),
    }
}

/// `base` (a server URL, maybe with `?query`) with its database replaced by `name`.
pub fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base, None),
    };
    let authority = without_query.find("://").map_or(0, |i| i + 3);
    let path = without_query[authority..]
        .find('/')
        .map_or(without_query.len(), |i| authority + i);
    let mut url = format!("{}/{name}", &without_query[..path]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t"),
            "postgres://u:p@h:5432/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t"), "postgres://h/t");
    }
}
