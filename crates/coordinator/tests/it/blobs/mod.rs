//! The coordinator's blob store: one conformance suite run against a local directory and
//! against the S3 server of the test environment (SeaweedFS, [`aide_testkit::s3`])
//! ([`conformance`]), and the Blobs gRPC service end to end on loopback ([`service`]).

mod conformance;
mod service;

use std::path::Path;

use aide_coordinator::blobs::BlobStore;
use aide_core::bundle::Sha256Digest;
use bytes::Bytes;
use futures::Stream;
use sha2::{Digest as _, Sha256};

/// `len` deterministic pseudo-random bytes (xorshift), different per `seed`.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The sha256 of `bytes`.
pub fn sha(bytes: &[u8]) -> Sha256Digest {
    Sha256Digest(Sha256::digest(bytes).into())
}

/// `bytes` as a stream of `piece`-byte chunks that never fails.
pub fn chunks(bytes: &[u8], piece: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
    let pieces: Vec<_> = bytes
        .chunks(piece)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(pieces)
}

/// A store in a local directory.
pub fn local_store(dir: &Path) -> BlobStore {
    let url = format!("file://{}", dir.display());
    BlobStore::from_url(Some(&url), Path::new("/nonexistent")).expect("local store")
}

/// A store under a fresh prefix of the test S3 server; `None` after a SKIPPED line outside
/// CI when there is none.
pub fn s3_store() -> Option<BlobStore> {
    let s3 = aide_testkit::s3::require()?;
    let store = BlobStore::from_url_with(Some(&s3.url), Path::new("/nonexistent"), &s3.settings)
        .expect("S3 store");
    Some(store)
}

/// Every regular file under `dir`, relative (a local store's objects and leftovers).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir");
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}
