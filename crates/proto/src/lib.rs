//! aide-proto: the wire protocol of the aide services, generated from `proto/aide/v1` at
//! build time, plus conversions between its enums and the aide-core domain types.

pub mod bearer;
pub mod bundle;
mod convert;
mod status;
pub mod task;

/// Version 1 of the aide APIs.
pub mod v1 {
    #![allow(missing_docs, unused_qualifications, missing_debug_implementations)]
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("aide.v1");

    /// The encoded file descriptor set, for gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("aide_descriptor");
}

pub use convert::UnknownEnum;
pub use status::{grpc_code, status_of};

/// The largest gRPC message any aide service sends or accepts: a runner's `Finished` event
/// carries the files an execution collected, and exports carry whole outputs.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
