//! [`DatabaseUrl`]: the one checked form of a store address. `postgres://` and
//! `postgresql://` name a Postgres database, `sqlite:` a SQLite file (or `sqlite::memory:`);
//! anything else is refused here, once, wherever the URL came from (a flag, a variable, a
//! configuration file or code).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The backend a [`DatabaseUrl`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A validated store URL. `Display`, `Debug` and serialization hide the password (the
/// form fit for logs and `--print-config`); [`DatabaseUrl::as_str`] is the full URL.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    url: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Checks `url` (surrounding whitespace removed).
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(Error::InvalidArgument(
                "a database URL must start with postgres://, postgresql:// or sqlite:".into(),
            ));
        };
        Ok(Self {
            url: url.to_owned(),
            backend,
        })
    }

    /// The SQLite database file `path` (created on first connect if missing).
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            url: format!("sqlite:{}", path.display()),
            backend: Backend::Sqlite,
        }
    }

    /// The full URL, password included: for connecting, never for printing.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// Which backend the URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its password replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        aide_core::redact::url_password(&self.url)
    }
}

impl FromStr for DatabaseUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        Self::parse(url)
    }
}

impl AsRef<str> for DatabaseUrl {
    fn as_ref(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl serde::Serialize for DatabaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> serde::Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, DatabaseUrl};

    #[test]
    fn schemes_are_checked_once() {
        for (url, backend) in [
            ("postgres://u:p@h/db", Backend::Postgres),
            ("postgresql://h/db", Backend::Postgres),
            (" sqlite::memory: ", Backend::Sqlite),
        ] {
            assert_eq!(DatabaseUrl::parse(url).expect(url).backend(), backend);
        }
        for url in ["mysql://h/db", "", "/tmp/a.db"] {
            assert!(DatabaseUrl::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn the_password_never_prints() {
        let url = DatabaseUrl::parse("postgres://aide:hunter2@db/aide").expect("url");
        assert_eq!(url.as_str(), "postgres://aide:hunter2@db/aide");
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(
                !shown.contains("hunter2") && shown.contains("[redacted]"),
                "{shown}"
            );
        }
    }
}
