//! Benchmark (not a test): upload throughput through the Blobs gRPC service (in the service
//! shell, as the coordinator serves it) on loopback into the local blob store, for a synthetic task: one large file plus 1,024 small files of
//! 16 KiB (16 MiB), `AIDE_BENCH_BLOB_MIB` MiB in all (default 256). It prints MB/s for the
//! large blob (1 MiB messages), files/s for the small ones (8 uploads at once), the time of
//! an unchanged re-submit's FindMissingBlobs, and ReadBlob's MB/s for the large blob.
//!
//! `AIDE_BENCH_BLOB_MIB=1024 cargo bench -p aide-coordinator --bench blob_upload`
//! (the store lives in a temporary directory under `AIDE_BENCH_DIR`, default the system's).

use std::time::{Duration, Instant};

use aide_coordinator::access::Access;
use aide_coordinator::blobs::{BlobStore, BlobsService};
use aide_core::access::{ProjectName, Role, Token};
use aide_core::bundle::Sha256Digest;
use aide_proto::bearer::{AuthedChannel, Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::blobs_client::BlobsClient;
use aide_store::{AccessStore, NewToken};
use futures::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const SMALL_FILES: usize = 1024;
const SMALL_BYTES: usize = 16 << 10;
const MESSAGE_BYTES: usize = 1 << 20;
const SMALL_AT_ONCE: usize = 8;

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest(Sha256::digest(bytes).into())
}

fn mb_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

/// The `i`th upload message: the first names the blob.
fn message(i: usize, piece: &[u8], digest: Sha256Digest, size: u64) -> v1::UploadBlobRequest {
    let first = i == 0;
    v1::UploadBlobRequest {
        digest: if first { digest.0.to_vec() } else { Vec::new() },
        size: if first { size } else { 0 },
        data: piece.to_vec(),
    }
}

/// Uploads a small `bytes` in 1 MiB messages; returns the bytes the server received.
async fn upload(
    client: &mut BlobsClient<AuthedChannel>,
    bytes: &[u8],
    digest: Sha256Digest,
) -> u64 {
    let size = bytes.len() as u64;
    let messages: Vec<_> = bytes
        .chunks(MESSAGE_BYTES)
        .enumerate()
        .map(|(i, piece)| message(i, piece, digest, size))
        .collect();
    let response = client
        .upload_blob(futures::stream::iter(messages))
        .await
        .expect("upload");
    response.into_inner().received
}

/// Like [`upload`], the messages made lazily (a 1 GiB blob is not copied whole).
async fn upload_large(
    client: &mut BlobsClient<AuthedChannel>,
    bytes: &'static [u8],
    digest: Sha256Digest,
) {
    let size = bytes.len() as u64;
    let messages = futures::stream::iter(bytes.chunks(MESSAGE_BYTES).enumerate())
        .map(move |(i, piece)| message(i, piece, digest, size));
    let response = client.upload_blob(messages).await.expect("upload");
    assert_eq!(response.into_inner().received, size);
}

/// The Blobs service as the coordinator serves it, with its token check (a SQLite store in
/// `dir`); a client sending a member token.
async fn serve(store: BlobStore, dir: &std::path::Path) -> BlobsClient<AuthedChannel> {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let url = format!("sqlite:{}", dir.join("tokens.db").display());
    let tokens = std::sync::Arc::new(aide_store::connect(&url).await.expect("token store"));
    let token = Token::generate().expect("token");
    let member = NewToken {
        project: ProjectName::default_project(),
        role: Role::Member,
        hash: token.hash(),
        label: "bench".into(),
        expires_at: None,
    };
    tokens.create_token(&member).await.expect("member token");
    let access = std::sync::Arc::new(Access::new(tokens));
    let service = BlobsService::new(store, u64::MAX, access).into_server();
    // Served as the coordinator serves it: in the service shell (its HTTP/2 windows, its
    // trace and metrics layers).
    let shell = aide_service::Shell::default().add_service(service);
    tokio::spawn(async move {
        let forever = CancellationToken::new();
        shell
            .serve(listener, forever, async {})
            .await
            .expect("serve");
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("address")
        .connect()
        .await
        .expect("connect");
    BlobsClient::new(authed(channel, Bearer::new(&token)))
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
}

#[tokio::main]
async fn main() {
    let total_mib: usize = std::env::var("AIDE_BENCH_BLOB_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let large_len = (total_mib << 20)
        .saturating_sub(SMALL_FILES * SMALL_BYTES)
        .max(1 << 20);
    let root = std::env::var_os("AIDE_BENCH_DIR").unwrap_or_else(|| std::env::temp_dir().into());
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let blobs = BlobStore::from_url(None, &dir.path().join("data")).expect("store");
    let mut client = serve(blobs, dir.path()).await;
    println!(
        "blob upload over loopback gRPC into a local store ({}):",
        dir.path().display()
    );

    let large: &'static [u8] = Vec::leak(data(large_len, 1));
    let small: Vec<Vec<u8>> = (0..SMALL_FILES)
        .map(|i| data(SMALL_BYTES, i as u64 + 2))
        .collect();
    let started = Instant::now();
    let large_digest = sha(large);
    let small_digests: Vec<Sha256Digest> = small.iter().map(|s| sha(s)).collect();
    let hashing = started.elapsed();
    let all_bytes = large_len + SMALL_FILES * SMALL_BYTES;
    println!(
        "  client-side sha256 of the set ({:.0} MB): {:.2} s ({:.0} MB/s), not counted below",
        all_bytes as f64 / 1e6,
        hashing.as_secs_f64(),
        mb_per_s(all_bytes, hashing)
    );

    let started = Instant::now();
    upload_large(&mut client, large, large_digest).await;
    let took = started.elapsed();
    println!(
        "  large blob, {:.0} MB in 1 MiB messages: {:.2} s, {:.0} MB/s",
        large_len as f64 / 1e6,
        took.as_secs_f64(),
        mb_per_s(large_len, took)
    );

    let started = Instant::now();
    let uploads = small.iter().zip(&small_digests).map(|(bytes, digest)| {
        let mut client = client.clone();
        async move { upload(&mut client, bytes, *digest).await }
    });
    let received: u64 = futures::stream::iter(uploads)
        .buffer_unordered(SMALL_AT_ONCE)
        .fold(0, |sum, n| async move { sum + n })
        .await;
    let took = started.elapsed();
    assert_eq!(received as usize, SMALL_FILES * SMALL_BYTES);
    println!(
        "  {SMALL_FILES} files of {} KiB, {SMALL_AT_ONCE} at once: {:.2} s, {:.0} files/s, {:.1} MB/s",
        SMALL_BYTES >> 10,
        took.as_secs_f64(),
        SMALL_FILES as f64 / took.as_secs_f64(),
        mb_per_s(SMALL_FILES * SMALL_BYTES, took)
    );

    let mut digests: Vec<Vec<u8>> = small_digests.iter().map(|d| d.0.to_vec()).collect();
    digests.push(large_digest.0.to_vec());
    let started = Instant::now();
    let missing = client
        .find_missing_blobs(v1::FindMissingBlobsRequest { digests })
        .await
        .expect("find")
        .into_inner()
        .missing;
    assert!(missing.is_empty());
    println!(
        "  unchanged re-submit: FindMissingBlobs of {} digests: {:.1} ms, nothing missing",
        SMALL_FILES + 1,
        started.elapsed().as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let request = v1::ReadBlobRequest {
        digest: large_digest.0.to_vec(),
        offset: 0,
    };
    let mut stream = client.read_blob(request).await.expect("read").into_inner();
    let mut hasher = Sha256::new();
    let mut read = 0;
    while let Some(chunk) = stream.message().await.expect("chunk") {
        read += chunk.data.len();
        hasher.update(&chunk.data);
    }
    let took = started.elapsed();
    assert_eq!(Sha256Digest(hasher.finalize().into()), large_digest);
    println!(
        "  ReadBlob of the large blob (hashed by the client): {:.2} s, {:.0} MB/s",
        took.as_secs_f64(),
        mb_per_s(read, took)
    );
}
