//! The gRPC source against a real `Blobs` server on loopback.

use std::sync::Arc;

use aide_bundle::{BlobSource as _, GrpcBlobSource, SourceError};
use aide_core::bundle::Sha256Digest;
use futures::TryStreamExt as _;
use tonic::transport::Channel;

use crate::blob_server::serve;
use crate::common::{Store, assert_tree, bytes, open, open_dir};

async fn connect(addr: std::net::SocketAddr) -> GrpcBlobSource {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect to the blob server");
    GrpcBlobSource::new(channel)
}

#[tokio::test]
async fn bundles_materialize_from_a_grpc_blob_server() {
    let store = Store::new();
    let big = bytes(5 << 20, 1);
    let files = [
        ("big.bin", &big[..], false),
        ("run.sh", &b"#!/bin/sh\n"[..], true),
    ];
    let (digest, manifest) = store.bundle(&files);
    let (addr, server) = serve(store.source.clone()).await;
    let source = connect(addr).await;
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, Arc::new(source.clone())).await;

    let lease = cache
        .materialize(digest, &manifest)
        .await
        .expect("materialize over gRPC");

    assert_tree(lease.dir(), &files);
    // Reads from an offset return the tail.
    let tail: Vec<u8> = source
        .read(manifest.files[0].sha256, 5_000_000)
        .await
        .unwrap()
        .map_ok(|b| b.to_vec())
        .try_concat()
        .await
        .unwrap();
    assert_eq!(tail, big[5_000_000..]);
    server.abort();
}

#[tokio::test]
async fn an_unknown_blob_is_not_found_over_grpc() {
    let store = Store::new();
    store.source.insert(b"something").unwrap();
    let (addr, server) = serve(store.source.clone()).await;
    let source = connect(addr).await;
    let missing = Sha256Digest([3; 32]);

    let result = source.read(missing, 0).await;

    assert!(
        matches!(result, Err(SourceError::NotFound)),
        "{:?}",
        result.err()
    );
    server.abort();
}
