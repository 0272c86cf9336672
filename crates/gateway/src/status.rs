//! The gRPC status of a gateway error: its [`ErrorKind`] picks the code, its message (which
//! names providers, variables and models, never key values) becomes the status message.

use tonic::Status;

use crate::{Error, ErrorKind};

/// The status a client sees for `error`.
pub fn from_error(error: &Error) -> Status {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::InvalidArgument => Status::invalid_argument(message),
        ErrorKind::PermissionDenied => Status::permission_denied(message),
        ErrorKind::ResourceExhausted => Status::resource_exhausted(message),
        ErrorKind::Unavailable => Status::unavailable(message),
        ErrorKind::FailedPrecondition => Status::failed_precondition(message),
        ErrorKind::Internal => Status::internal(message),
    }
}
