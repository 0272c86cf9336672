//! The integration tests of aide-bundle in one binary, on the real filesystem (and a real
//! gRPC server on loopback for the gRPC source).

mod blob_server;
mod coalesce;
mod common;
mod evict;
mod fetch;
mod grpc;
mod materialize;
mod restart;
