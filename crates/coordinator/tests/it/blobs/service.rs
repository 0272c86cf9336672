//! The `aide.v1.Blobs` service end to end: a tonic server on 127.0.0.1 over a local store,
//! driven by the generated `BlobsClient` — chunked uploads, repeats that store nothing, reads
//! in pieces of at most 1 MiB, bounded and validated inputs, manifests — and the
//! `aide-coordinator` binary serving it next to the Coordinator API.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use aide_coordinator::access::{Access, BOOTSTRAP_TOKEN_FILE};
use aide_coordinator::blobs::{BlobStore, BlobsService};
use aide_core::access::{Role, Token};
use aide_proto::bearer::AuthedChannel;
use aide_proto::v1;
use aide_proto::v1::blobs_client::BlobsClient;
use aide_testkit::{ChildGuard, free_port};
use futures::StreamExt;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::{Code, Status};

use super::{data, files_under, local_store, sha};
use crate::api_support::{authed_channel, mint};

/// A Blobs server on loopback over `store`, its tokens in a SQLite store of its own; a client
/// with a member token. The server stops when the guard is dropped.
async fn serve(store: BlobStore, max_blob_bytes: u64) -> (BlobsClient<AuthedChannel>, DropGuard) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let stop = CancellationToken::new();
    let tokens_dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", tokens_dir.path().join("aide.db").display());
    let tokens = Arc::new(aide_store::connect(&url).await.expect("store"));
    let member = mint(&*tokens, "default", Role::Member).await;
    let access = Arc::new(Access::new(tokens));
    let service = BlobsService::new(store, max_blob_bytes, access).into_server();
    let cancelled = stop.clone();
    tokio::spawn(async move {
        let _tokens_dir = tokens_dir;
        aide_service::Shell::default()
            .add_service(service)
            .serve(listener, cancelled, async {})
            .await
            .expect("serve");
    });
    (client(addr, Some(&member)).await, stop.drop_guard())
}

async fn client(addr: SocketAddr, token: Option<&Token>) -> BlobsClient<AuthedChannel> {
    BlobsClient::new(authed_channel(&format!("http://{addr}"), token).await)
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
}

/// The upload messages of `bytes` declared as `digest` and `size`, `piece` bytes each.
fn messages(digest: Vec<u8>, size: u64, bytes: &[u8], piece: usize) -> Vec<v1::UploadBlobRequest> {
    let mut out: Vec<_> = bytes
        .chunks(piece)
        .map(|c| v1::UploadBlobRequest {
            data: c.to_vec(),
            ..Default::default()
        })
        .collect();
    if out.is_empty() {
        out.push(v1::UploadBlobRequest::default());
    }
    out[0].digest = digest;
    out[0].size = size;
    out
}

async fn upload(
    client: &mut BlobsClient<AuthedChannel>,
    bytes: &[u8],
    piece: usize,
) -> Result<v1::UploadBlobResponse, Status> {
    let wire = sha(bytes).0.to_vec();
    let stream = futures::stream::iter(messages(wire, bytes.len() as u64, bytes, piece));
    client.upload_blob(stream).await.map(|r| r.into_inner())
}

async fn read(client: &mut BlobsClient<AuthedChannel>, bytes: &[u8], offset: u64) -> Vec<Vec<u8>> {
    let request = v1::ReadBlobRequest {
        digest: sha(bytes).0.to_vec(),
        offset,
    };
    let mut stream = client.read_blob(request).await.expect("read").into_inner();
    let mut pieces = Vec::new();
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        pieces.push(chunk.data);
    }
    pieces
}

async fn missing(client: &mut BlobsClient<AuthedChannel>, asked: &[&[u8]]) -> Vec<Vec<u8>> {
    let digests = asked.iter().map(|b| sha(b).0.to_vec()).collect();
    let request = v1::FindMissingBlobsRequest { digests };
    let response = client.find_missing_blobs(request).await.expect("find");
    response.into_inner().missing
}

#[tokio::test]
async fn chunked_uploads_read_back_identical_and_repeats_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut client, _server) = serve(local_store(dir.path()), 1 << 30).await;
    let blob = data((3 << 20) + 4321, 41);
    let small = data(10, 42);
    let empty: &[u8] = b"";
    let asked = [&blob[..], &small, empty];
    assert_eq!(missing(&mut client, &asked).await.len(), 3);

    let first = upload(&mut client, &blob, 256 << 10).await.expect("upload");
    assert_eq!(
        (first.received, first.already_stored),
        (blob.len() as u64, false)
    );
    upload(&mut client, &small, 3).await.expect("upload");
    upload(&mut client, empty, 1)
        .await
        .expect("upload the empty blob");
    assert!(missing(&mut client, &asked).await.is_empty());
    let again = upload(&mut client, &blob, 1 << 20).await.expect("again");
    assert_eq!((again.received, again.already_stored), (0, true));

    let pieces = read(&mut client, &blob, 0).await;
    assert!(
        pieces.iter().all(|p| p.len() <= 1 << 20),
        "pieces of at most 1 MiB"
    );
    assert_eq!(pieces.len(), 4, "full pieces but the last");
    assert!(pieces.concat() == blob);
    assert!(read(&mut client, &blob, 12_345).await.concat() == blob[12_345..]);
    assert!(read(&mut client, empty, 0).await.concat().is_empty());
}

/// Asserts that `result` failed with `code` and a message saying `says` and not naming `dir`.
fn refused<T>(dir: &std::path::Path, result: Result<T, Status>, code: Code, says: &str) {
    let Err(status) = result else {
        panic!("accepted, though it should be refused with {says:?}")
    };
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(says), "{says}: {status:?}");
    let leaked = dir.display().to_string();
    assert!(!status.message().contains(&leaked), "{status:?}");
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field_and_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let max = 1 << 20;
    let (mut client, _server) = serve(local_store(dir.path()), max).await;

    // Over the limit: refused from the first message, though the client never sends more.
    let big = data(max as usize + 1, 51);
    let first = messages(sha(&big).0.to_vec(), big.len() as u64, &big[..10], 10);
    let stalled = futures::stream::iter(first).chain(futures::stream::pending());
    let answer = tokio::time::timeout(Duration::from_secs(10), client.upload_blob(stalled));
    let answer = answer.await.expect("refused without reading the body");
    refused(dir.path(), answer, Code::InvalidArgument, "size");

    let blob = data(1000, 52);
    let short_digest = messages(vec![7; 31], 1000, &blob, 100);
    let result = client
        .upload_blob(futures::stream::iter(short_digest))
        .await;
    refused(
        dir.path(),
        result,
        Code::InvalidArgument,
        "digest: a sha256 is 32 bytes, not 31",
    );
    let result = client.upload_blob(futures::stream::iter(Vec::new())).await;
    refused(dir.path(), result, Code::InvalidArgument, "digest");

    let overrun = messages(sha(&blob[..500]).0.to_vec(), 500, &blob, 100);
    let result = client.upload_blob(futures::stream::iter(overrun)).await;
    refused(
        dir.path(),
        result,
        Code::InvalidArgument,
        "more than the declared 500 bytes",
    );
    let wrong = sha(b"other");
    let mismatch = messages(wrong.0.to_vec(), 1000, &blob, 100);
    let result = client.upload_blob(futures::stream::iter(mismatch)).await;
    refused(
        dir.path(),
        result,
        Code::InvalidArgument,
        &wrong.to_string(),
    );

    let digests = vec![sha(&blob).0.to_vec(), vec![1; 33]];
    let result = client
        .find_missing_blobs(v1::FindMissingBlobsRequest { digests })
        .await;
    refused(dir.path(), result, Code::InvalidArgument, "digests[1]");
    let digests = vec![vec![0; 32]; 100_001];
    let result = client
        .find_missing_blobs(v1::FindMissingBlobsRequest { digests })
        .await;
    refused(dir.path(), result, Code::InvalidArgument, "at most 100000");

    let unknown = v1::ReadBlobRequest {
        digest: sha(&blob).0.to_vec(),
        offset: 0,
    };
    refused(
        dir.path(),
        client.read_blob(unknown).await,
        Code::NotFound,
        "not found",
    );
    let bad = v1::ReadBlobRequest {
        digest: vec![1],
        offset: 0,
    };
    refused(
        dir.path(),
        client.read_blob(bad).await,
        Code::InvalidArgument,
        "digest",
    );
    let bad = v1::GetManifestRequest { digest: vec![] };
    refused(
        dir.path(),
        client.get_manifest(bad).await,
        Code::InvalidArgument,
        "digest",
    );

    assert!(files_under(dir.path()).is_empty(), "nothing was stored");
}

#[tokio::test]
async fn manifests_are_stored_once_their_blobs_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut client, _server) = serve(local_store(dir.path()), 1 << 20).await;
    let train = data(100, 61);
    let file = |path: &str, bytes: &[u8]| v1::BundleFile {
        path: path.into(),
        size: bytes.len() as u64,
        sha256: sha(bytes).0.to_vec(),
        executable: false,
    };
    let put = |files: Vec<v1::BundleFile>| v1::PutManifestRequest {
        manifest: Some(v1::BundleManifest { files }),
    };
    let status = client
        .put_manifest(put(vec![file("input/train.csv", &train)]))
        .await
        .expect_err("the blob is missing");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("input/train.csv"), "{status:?}");
    let status = client
        .put_manifest(put(vec![file("../train.csv", &train)]))
        .await
        .expect_err("a bad path");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = client
        .put_manifest(v1::PutManifestRequest { manifest: None })
        .await
        .expect_err("no manifest");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    upload(&mut client, &train, 64).await.expect("upload");
    let wire = v1::BundleManifest {
        files: vec![file("input/train.csv", &train)],
    };
    let digest = client
        .put_manifest(put(wire.files.clone()))
        .await
        .expect("put")
        .into_inner()
        .digest;
    let request = v1::GetManifestRequest {
        digest: digest.clone(),
    };
    let got = client
        .get_manifest(request)
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, wire);
    let unknown = v1::GetManifestRequest {
        digest: sha(b"no such manifest").0.to_vec(),
    };
    let status = client.get_manifest(unknown).await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn the_coordinator_binary_serves_blobs_into_its_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let data_dir = dir.path().join("data");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aide-coordinator"));
    command
        .arg("--plaintext")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database-url")
        .arg(format!("sqlite:{}", dir.path().join("aide.db").display()))
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("AIDE_BLOB_STORE");
    let mut coordinator =
        ChildGuard::spawn_logged("coordinator", &mut command, &dir.path().join("log"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let up = aide_testkit::net::wait_for_port_async(addr, Duration::from_secs(30)).await;
    assert!(up, "the coordinator did not listen: {}", coordinator.log());
    // Its first start made an admin token, in a file only its owner reads; the log names the
    // file and never the token.
    // The port opens before the store is migrated, so the file and the line naming it may
    // come a moment later.
    let token_file = data_dir.join(BOOTSTRAP_TOKEN_FILE);
    aide_testkit::wait::until(
        "the bootstrap token is announced",
        Duration::from_secs(30),
        || std::future::ready(coordinator.log().contains(BOOTSTRAP_TOKEN_FILE)),
    )
    .await;
    let text = std::fs::read_to_string(&token_file).expect("the bootstrap token file");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file)
            .expect("metadata")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let token: Token = text.parse().expect("a token");
    assert!(
        !coordinator.log().contains(&token.expose()[5..]),
        "the token is never logged"
    );
    let mut anonymous = client(addr, None).await;
    let refused = upload(&mut anonymous, &data(10, 1), 8192)
        .await
        .expect_err("no token");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let mut client = client(addr, Some(&token)).await;
    let blob = data(70_000, 71);
    let response = upload(&mut client, &blob, 8192).await.expect("upload");
    assert_eq!(response.received, blob.len() as u64);
    assert!(read(&mut client, &blob, 0).await.concat() == blob);
    let hex = sha(&blob).to_string();
    let stored = data_dir.join(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    assert_eq!(std::fs::read(&stored).expect("the stored blob"), blob);
    assert!(coordinator.is_running(), "{}", coordinator.log());
}
