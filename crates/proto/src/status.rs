//! One mapping from any aide error to the gRPC status a client sees: the error's
//! [`ErrorCode`] picks the status code and its message becomes the status message, except
//! for internal errors, whose details (SQL, paths) are logged and never sent.

use aide_core::{ErrorCode, HasErrorCode};
use tonic::{Code, Status};

/// The status a client of `service` (e.g. "coordinator") sees for `error`.
pub fn status_of(error: &impl HasErrorCode, service: &str) -> Status {
    match error.code() {
        ErrorCode::Internal => {
            tracing::error!(error = ?error, service, "internal failure while serving a request");
            Status::internal(format!("internal error in the {service}"))
        }
        code => Status::new(grpc_code(code), error.to_string()),
    }
}

/// The gRPC code of an [`ErrorCode`].
pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::ResourceExhausted => Code::ResourceExhausted,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
        ErrorCode::Internal => Code::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{1}")]
    struct Coded(ErrorCode, &'static str);

    impl HasErrorCode for Coded {
        fn code(&self) -> ErrorCode {
            self.0
        }
    }

    #[test]
    fn a_code_picks_the_status_and_internal_details_stay_in_the_server() {
        let missing = status_of(
            &Coded(ErrorCode::NotFound, "run 7 not found"),
            "coordinator",
        );
        assert_eq!(missing.code(), Code::NotFound);
        assert_eq!(missing.message(), "run 7 not found");
        let internal = status_of(
            &Coded(
                ErrorCode::Internal,
                "SELECT * FROM runs failed at /var/lib/db",
            ),
            "coordinator",
        );
        assert_eq!(internal.code(), Code::Internal);
        assert_eq!(internal.message(), "internal error in the coordinator");
    }
}
