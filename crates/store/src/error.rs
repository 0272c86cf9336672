//! The crate's one error type, [`Error`], and how database errors map onto it.

use aide_core::{NodeId, RunId};

/// Results of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a store operation.
///
/// The `Display` text of every variant is safe to show to clients: it never contains SQL,
/// database messages or file paths. The underlying database error stays reachable through
/// [`std::error::Error::source`] for logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The addressed row does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },

    /// A fenced write affected zero rows: the run is no longer leased under this owner and
    /// epoch (another replica claimed it, or it was released or finished). The run loop
    /// must stop.
    #[error("lease on run {run_id} (epoch {epoch}) was lost")]
    LeaseLost { run_id: RunId, epoch: u64 },

    /// The result of an execution attempt that was superseded by a newer attempt or has
    /// already finished; it is discarded.
    #[error("execution attempt {attempt} of node {node_id} is stale")]
    StaleAttempt { node_id: NodeId, attempt: u32 },

    /// The operation does not fit the current state (a node transition out of order,
    /// finishing a run with a non-terminal status, cancelling a finished run).
    #[error("invalid state: {0}")]
    InvalidState(String),

    /// The write collides with an existing row (a duplicate id or step).
    #[error("conflict: {0}")]
    Conflict(String),

    /// The caller passed a value the store cannot represent (an unknown URL scheme, a
    /// number out of range).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A stored value could not be decoded (a JSON column that no longer matches its type).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),

    /// Applying the embedded migrations failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),

    /// Any other database failure. The message is kept in the source only.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    return Self::Conflict("a row with the same key already exists".into());
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return Self::InvalidState(
                        "the write references a row that does not exist".into(),
                    );
                }
                _ => {}
            }
        }
        Self::Database(err)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(err)
    }
}

impl Error {
    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// A failed project insert: a unique violation means a project of that name exists.
    pub(crate) fn existing_project(
        err: sqlx::Error,
        name: &aide_core::access::ProjectName,
    ) -> Self {
        match Self::from(err) {
            Self::Conflict(_) => Self::Conflict(format!("project {name} exists")),
            other => other,
        }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }

    /// A failed ledger insert: a foreign key violation means the run does not exist.
    pub(crate) fn unless_missing_run(err: sqlx::Error, run_id: RunId) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                Self::not_found("run", run_id)
            }
            _ => err.into(),
        }
    }

    /// Why an attempt-fenced write changed nothing: the attempt `exists` but is superseded
    /// or over, or there is no such attempt.
    pub(crate) fn attempt_refused(node_id: NodeId, attempt: u32, exists: bool) -> Self {
        if exists {
            Self::StaleAttempt { node_id, attempt }
        } else {
            Self::not_found("execution attempt", format!("{node_id}#{attempt}"))
        }
    }
}

impl aide_core::HasErrorCode for Error {
    /// Missing rows, out-of-order transitions, duplicates and bad arguments are the
    /// caller's; a lost lease, a stale attempt, corrupt data and database failures are
    /// internal to the server.
    fn code(&self) -> aide_core::ErrorCode {
        use aide_core::ErrorCode as Code;
        match self {
            Self::NotFound { .. } => Code::NotFound,
            Self::InvalidState(_) => Code::FailedPrecondition,
            Self::Conflict(_) => Code::AlreadyExists,
            Self::InvalidArgument(_) => Code::InvalidArgument,
            _ => Code::Internal,
        }
    }
}
