//! The small set of error codes every crate's error maps to ([`ErrorCode`], through
//! [`HasErrorCode`]), so a service turns any error into a gRPC status in one place
//! (`aide_proto::status_of`) and a client into an exit code.

/// What kind of failure an error is, as a caller needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request itself is wrong (a malformed id, a bad setting).
    InvalidArgument,
    /// The addressed object does not exist.
    NotFound,
    /// The object exists already.
    AlreadyExists,
    /// The request does not fit the object's current state.
    FailedPrecondition,
    /// The caller may not do this (e.g. a provider refused the key).
    PermissionDenied,
    /// A limit is reached (no free slot, a rate limit); retrying later may work.
    ResourceExhausted,
    /// A dependency is unreachable or the service is shutting down; retrying may work.
    Unavailable,
    /// The work did not finish in its time.
    DeadlineExceeded,
    /// A bug or corrupt data: details stay in the server's log.
    Internal,
}

/// An error that knows its [`ErrorCode`].
pub trait HasErrorCode: std::error::Error {
    fn code(&self) -> ErrorCode;
}
