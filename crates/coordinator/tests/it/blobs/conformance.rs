//! What every blob store must do, run against a local directory (`local::…`) and the S3
//! server of the test environment (`s3::…`): round trips with offset reads, the empty blob,
//! blobs of several multipart parts, refused uploads (wrong digest, wrong size, a stream cut
//! off or dropped mid-way) that leave nothing under the key and can be retried, concurrent
//! uploads of one blob, and manifests that need their blobs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aide_coordinator::Error;
use aide_coordinator::blobs::{BlobStore, PART_BYTES, PutOutcome};
use aide_core::bundle::{BundleFile, Limits, Manifest, Sha256Digest};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tempfile::TempDir;

use super::{chunks, data, files_under, local_store, s3_store, sha};

/// A store under test, with its directory when it is local.
struct Subject {
    store: BlobStore,
    dir: Option<TempDir>,
}

impl Subject {
    fn local() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self {
            store: local_store(dir.path()),
            dir: Some(dir),
        }
    }

    fn s3() -> Option<Self> {
        Some(Self {
            store: s3_store()?,
            dir: None,
        })
    }

    /// Local: no staged upload is left behind (object_store stages `<key>#<n>` files).
    async fn assert_no_leftovers(&self) {
        let Some(dir) = &self.dir else { return };
        // A dropped upload's staged file is removed by a spawned task.
        for _ in 0..100 {
            if !files_under(dir.path()).iter().any(|f| f.contains('#')) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("staged uploads left: {:?}", files_under(dir.path()));
    }

    /// Local: the files stored, relative to the store's directory.
    fn local_files(&self) -> Option<Vec<String>> {
        self.dir.as_ref().map(|d| files_under(d.path()))
    }
}

macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(&super::Subject::local()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(subject) = super::Subject::s3() else { return };
                    super::$case(&subject).await;
                }
            )*
        }
    };
}

on_both_stores!(
    round_trip_keeps_order_and_reads_from_offsets,
    the_empty_blob_round_trips,
    a_blob_of_several_parts_round_trips,
    a_wrong_digest_or_size_stores_nothing,
    a_cut_off_or_dropped_upload_stores_nothing_and_a_retry_succeeds,
    two_uploads_of_one_blob_at_once_both_succeed,
    manifests_need_their_blobs_and_round_trip,
    small_files_are_stored_by_digest,
);

async fn put(store: &BlobStore, bytes: &[u8], piece: usize) -> Result<PutOutcome, Error> {
    store
        .put(sha(bytes), bytes.len() as u64, chunks(bytes, piece))
        .await
}

async fn read(store: &BlobStore, digest: Sha256Digest, offset: u64) -> Result<Vec<u8>, Error> {
    let pieces: Vec<Bytes> = store.read(&digest, offset).await?.try_collect().await?;
    Ok(pieces.concat())
}

fn stored(len: usize) -> PutOutcome {
    PutOutcome {
        received: len as u64,
        already_stored: false,
    }
}

async fn round_trip_keeps_order_and_reads_from_offsets(s: &Subject) {
    let store = &s.store;
    let blobs: Vec<Vec<u8>> = [1, 1000, 100_003]
        .into_iter()
        .zip(1..)
        .map(|(len, seed)| data(len, seed))
        .collect();
    let unknown = sha(b"never stored");
    let asked = [sha(&blobs[0]), unknown, sha(&blobs[1]), sha(&blobs[2])];
    assert_eq!(store.missing(&asked).await.expect("missing"), asked);
    for blob in &blobs {
        let outcome = put(store, blob, 4096).await.expect("put");
        assert_eq!(outcome, stored(blob.len()));
    }
    assert_eq!(store.missing(&asked).await.expect("missing"), [unknown]);

    let big = &blobs[2];
    let digest = sha(big);
    for offset in [0, 1, 65_536, big.len() - 1, big.len()] {
        let got = read(store, digest, offset as u64).await.expect("read");
        assert!(got == big[offset..], "offset {offset}");
    }
    let past = read(store, digest, big.len() as u64 + 1).await;
    assert!(matches!(past, Err(Error::BlobOffset { .. })), "{past:?}");
    let missing = read(store, unknown, 0).await;
    assert!(
        matches!(missing, Err(Error::BlobNotFound { digest }) if digest == unknown),
        "{missing:?}"
    );
    let failing = futures::stream::iter([Err::<Bytes, _>(std::io::Error::other("not read"))]);
    let again = store
        .put(digest, big.len() as u64, failing)
        .await
        .expect("a stored blob is not read again");
    assert_eq!(
        again,
        PutOutcome {
            received: 0,
            already_stored: true
        }
    );
    s.assert_no_leftovers().await;
}

async fn the_empty_blob_round_trips(s: &Subject) {
    let store = &s.store;
    let empty = sha(b"");
    let nothing = futures::stream::empty::<Result<Bytes, std::io::Error>>();
    let outcome = store.put(empty, 0, nothing).await.expect("put");
    assert_eq!(outcome, stored(0));
    assert!(store.missing(&[empty]).await.expect("missing").is_empty());
    assert!(read(store, empty, 0).await.expect("read").is_empty());
    let again = put(store, b"", 1).await.expect("again");
    assert!(again.already_stored);
}

async fn a_blob_of_several_parts_round_trips(s: &Subject) {
    let store = &s.store;
    let blob = data(2 * PART_BYTES + 12_345, 7);
    let outcome = put(store, &blob, 300_007).await.expect("put");
    assert_eq!(outcome, stored(blob.len()));
    let digest = sha(&blob);
    assert!(read(store, digest, 0).await.expect("read") == blob);
    let offset = PART_BYTES + 3;
    assert!(read(store, digest, offset as u64).await.expect("read") == blob[offset..]);
    s.assert_no_leftovers().await;
}

async fn a_wrong_digest_or_size_stores_nothing(s: &Subject) {
    let store = &s.store;
    for len in [1000, PART_BYTES + 100] {
        let blob = data(len, len as u64);
        let claimed = sha(b"something else");
        let err = store
            .put(claimed, len as u64, chunks(&blob, 65_536))
            .await
            .expect_err("a wrong digest");
        assert!(
            matches!(&err, Error::BlobMismatch { digest, actual, .. }
                if *digest == claimed && *actual == sha(&blob)),
            "{err:?}"
        );
        assert!(err.to_string().contains(&claimed.to_string()), "{err}");
        let digest = sha(&blob);
        let short = store.put(digest, len as u64 + 1, chunks(&blob, 65_536));
        let short = short.await.expect_err("fewer bytes than declared");
        assert!(
            matches!(short, Error::BlobMismatch { received, .. } if received == len as u64),
            "{short:?}"
        );
        let long = store.put(digest, len as u64 - 1, chunks(&blob, 65_536));
        let long = long.await.expect_err("more bytes than declared");
        assert!(matches!(long, Error::BlobOverrun { .. }), "{long:?}");
        assert_eq!(
            store.missing(&[claimed, digest]).await.unwrap(),
            [claimed, digest]
        );
    }
    s.assert_no_leftovers().await;
    if let Some(files) = s.local_files() {
        assert!(files.is_empty(), "nothing was stored: {files:?}");
    }
}

/// `blob` in 1 MiB pieces up to `cut`, then an error.
fn cut_off(blob: &[u8], cut: usize) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    chunks(&blob[..cut], 1 << 20).chain(futures::stream::iter([Err(std::io::Error::other(
        "connection reset",
    ))]))
}

async fn a_cut_off_or_dropped_upload_stores_nothing_and_a_retry_succeeds(s: &Subject) {
    let store = &s.store;
    let big = data(2 * PART_BYTES + 5, 11);
    let small = data(4096, 12);
    for (blob, cut) in [(&big, 7 << 20), (&small, 1024)] {
        let digest = sha(blob);
        let err = store
            .put(digest, blob.len() as u64, cut_off(blob, cut))
            .await
            .expect_err("cut off");
        assert!(
            matches!(err, Error::UploadInterrupted { received, .. } if received == cut as u64),
            "{err:?}"
        );
        assert!(!store.contains(&digest).await.unwrap(), "nothing visible");
    }
    // A client that goes away: the upload's future is dropped while it waits for data.
    let digest = sha(&big);
    let stalled = chunks(&big[..6 << 20], 1 << 20).chain(futures::stream::pending());
    let upload = store.put(digest, big.len() as u64, stalled);
    let dropped = tokio::time::timeout(Duration::from_millis(1500), upload).await;
    assert!(dropped.is_err(), "the stalled upload cannot finish");
    assert!(!store.contains(&digest).await.unwrap(), "nothing visible");
    s.assert_no_leftovers().await;

    for blob in [&big, &small] {
        let outcome = put(store, blob, 1 << 20).await.expect("retry");
        assert_eq!(outcome, stored(blob.len()));
        assert!(read(store, sha(blob), 0).await.expect("read") == *blob);
    }
    s.assert_no_leftovers().await;
}

async fn two_uploads_of_one_blob_at_once_both_succeed(s: &Subject) {
    for len in [PART_BYTES * 2 + 1, 1000] {
        let blob = Arc::new(data(len, 21 + len as u64));
        let digest = sha(&blob);
        // Both have looked the blob up (missing) before either sends a byte.
        let gate = Arc::new(tokio::sync::Barrier::new(2));
        let uploads = (0..2).map(|_| {
            let (store, blob, gate) = (s.store.clone(), blob.clone(), gate.clone());
            tokio::spawn(async move {
                let opened = futures::stream::once(async move {
                    gate.wait().await;
                    Ok(Bytes::new())
                });
                let data = opened.chain(chunks(&blob, 65_536));
                store.put(digest, blob.len() as u64, data).await
            })
        });
        for outcome in futures::future::join_all(uploads).await {
            let outcome = outcome.expect("join").expect("both succeed");
            assert_eq!(outcome, stored(len));
        }
        assert!(read(&s.store, digest, 0).await.expect("read") == *blob);
    }
    s.assert_no_leftovers().await;
}

async fn manifests_need_their_blobs_and_round_trip(s: &Subject) {
    let store = &s.store;
    let (train, script) = (data(10, 31), data(20, 32));
    let file = |path: &str, bytes: &[u8], executable| BundleFile {
        path: path.into(),
        size: bytes.len() as u64,
        sha256: sha(bytes),
        executable,
    };
    let manifest = Manifest::from_files(
        vec![
            file("data/train.csv", &train, false),
            file("run.sh", &script, true),
        ],
        &Limits::default(),
    )
    .expect("manifest");
    put(store, &train, 4).await.expect("put");
    let err = store
        .put_manifest(&manifest)
        .await
        .expect_err("a missing blob");
    assert!(
        matches!(&err, Error::ManifestBlobMissing { path, digest }
            if path == "run.sh" && *digest == sha(&script)),
        "{err:?}"
    );
    assert!(err.to_string().contains("run.sh"), "{err}");
    let named = manifest.digest();
    let absent = store.get_manifest(&named).await;
    assert!(
        matches!(absent, Err(Error::ManifestNotFound { digest }) if digest == named),
        "{absent:?}"
    );
    put(store, &script, 7).await.expect("put");
    let digest = store.put_manifest(&manifest).await.expect("put manifest");
    assert_eq!(digest, named);
    assert_eq!(store.get_manifest(&digest).await.expect("get"), manifest);
    let empty = Manifest::default();
    let digest = store.put_manifest(&empty).await.expect("an empty bundle");
    assert_eq!(store.get_manifest(&digest).await.expect("get"), empty);
}

async fn small_files_are_stored_by_digest(s: &Subject) {
    let store = &s.store;
    let submission = b"id,price\n1,100\n";
    let digest = store.put_bytes(submission).await.expect("put");
    assert_eq!(digest, sha(submission));
    assert_eq!(
        store.read_all(&digest).await.expect("read"),
        &submission[..]
    );
    assert_eq!(store.put_bytes(submission).await.expect("again"), digest);
    if let Some(files) = s.local_files() {
        let hex = digest.to_string();
        assert_eq!(files, [format!("blobs/sha256/{}/{hex}", &hex[..2])]);
    }
}

#[test]
fn unknown_schemes_are_refused_with_the_url() {
    let err = BlobStore::from_url(Some("ftp://host/x"), Path::new("/tmp")).expect_err("ftp");
    assert!(err.to_string().contains("ftp://host/x"), "{err}");
}
