//! [`BlobsService`], the `aide.v1.Blobs` gRPC service over a [`BlobStore`], with every input
//! bounded: at most [`MAX_FIND_DIGESTS`] digests per FindMissingBlobs, uploads up to
//! `max_blob_bytes` (a larger declared size is refused before any data is read, and the
//! bytes are checked against the declared size as they arrive), digests of 32 bytes
//! (INVALID_ARGUMENT names the field), manifests checked like any wire manifest, and
//! ReadBlob pieces of at most [`READ_CHUNK_BYTES`]. Store failures reach the client as a bare
//! INTERNAL; their details (paths, endpoints) stay in the log. Clients' calls (finding
//! missing blobs, uploading, storing manifests) take a member token; runners' reads
//! (ReadBlob, GetManifest) take a runner's certificate, or on plaintext the process token of
//! `aide serve` when it has one.

use aide_core::access::TokenHash;
use std::pin::Pin;

use std::sync::Arc;

use aide_core::access::Role;
use aide_core::bundle::{Limits, Sha256Digest};
use aide_proto::bundle::{digest_from_wire, digest_to_wire, manifest_from_wire};
use aide_proto::v1;
use aide_proto::v1::blobs_server::{Blobs, BlobsServer};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::BlobStore;
use super::rechunk::rechunk;
use crate::Error;
use crate::access::{Authenticate, require_runner};

/// The most digests one FindMissingBlobs may ask about.
pub const MAX_FIND_DIGESTS: usize = 100_000;
/// The largest piece ReadBlob sends.
pub const READ_CHUNK_BYTES: usize = 1 << 20;
/// The default upload size limit: 16 GiB, the largest file a bundle may hold by default.
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 16 << 30;

/// The `aide.v1.Blobs` service.
#[derive(Clone)]
pub struct BlobsService {
    store: BlobStore,
    max_blob_bytes: u64,
    access: Arc<dyn Authenticate>,
    /// The process token plaintext runner reads must bring (`aide serve`'s own runner).
    process_token: Option<TokenHash>,
}

impl std::fmt::Debug for BlobsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobsService")
            .field("store", &self.store)
            .field("max_blob_bytes", &self.max_blob_bytes)
            .finish_non_exhaustive()
    }
}

impl BlobsService {
    /// The service over `store`, refusing uploads over `max_blob_bytes`; uploads take a member
    /// token, checked by `access`.
    pub fn new(store: BlobStore, max_blob_bytes: u64, access: Arc<dyn Authenticate>) -> Self {
        Self {
            store,
            max_blob_bytes,
            access,
            process_token: None,
        }
    }

    /// Requires `token` of runner reads that come over plaintext.
    pub fn with_process_token(mut self, token: Option<TokenHash>) -> Self {
        self.process_token = token;
        self
    }

    /// `UNAUTHENTICATED` or `PERMISSION_DENIED` unless the request carries a member token.
    async fn member<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let caller = self.access.caller(request.metadata()).await?;
        caller.require(Role::Member)
    }

    /// The tonic server of this service, with aide's message size limit.
    pub fn into_server(self) -> BlobsServer<Self> {
        BlobsServer::new(self)
            .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES)
    }

    /// What a manifest from a client may hold.
    fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_blob_bytes,
            ..Limits::default()
        }
    }
}

fn status(error: Error) -> Status {
    Status::from(error)
}

/// The digest in a wire field; `INVALID_ARGUMENT` names the field when it is not 32 bytes.
pub(crate) fn digest(field: &'static str, bytes: &[u8]) -> Result<Sha256Digest, Status> {
    digest_from_wire(field, bytes).map_err(|e| Status::invalid_argument(e.to_string()))
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<v1::BlobChunk, Status>> + Send>>;

#[tonic::async_trait]
impl Blobs for BlobsService {
    async fn find_missing_blobs(
        &self,
        request: Request<v1::FindMissingBlobsRequest>,
    ) -> Result<Response<v1::FindMissingBlobsResponse>, Status> {
        self.member(&request).await?;
        let wire = request.into_inner().digests;
        if wire.len() > MAX_FIND_DIGESTS {
            return Err(Status::invalid_argument(format!(
                "digests: {} given, at most {MAX_FIND_DIGESTS} per request",
                wire.len()
            )));
        }
        let digests = wire
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                digest_from_wire("digests", bytes).map_err(|e| {
                    Status::invalid_argument(format!(
                        "digests[{i}]: a sha256 is 32 bytes, not {}",
                        e.len
                    ))
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let missing = self.store.missing(&digests).await.map_err(status)?;
        Ok(Response::new(v1::FindMissingBlobsResponse {
            missing: missing.iter().map(digest_to_wire).collect(),
        }))
    }

    async fn upload_blob(
        &self,
        request: Request<Streaming<v1::UploadBlobRequest>>,
    ) -> Result<Response<v1::UploadBlobResponse>, Status> {
        self.member(&request).await?;
        let mut messages = request.into_inner();
        let first = messages
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("digest: required in the first message"))?;
        let sha256 = digest("digest", &first.digest)?;
        if first.size > self.max_blob_bytes {
            return Err(Status::invalid_argument(format!(
                "size: blob {sha256} has {} bytes, over the limit of {} (--max-blob-bytes)",
                first.size, self.max_blob_bytes
            )));
        }
        let data = futures::stream::once(async move { Ok(Bytes::from(first.data)) })
            .chain(messages.map_ok(|m| Bytes::from(m.data)));
        let outcome = self
            .store
            .put(sha256, first.size, data)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::UploadBlobResponse {
            received: outcome.received,
            already_stored: outcome.already_stored,
        }))
    }

    type ReadBlobStream = ChunkStream;

    async fn read_blob(
        &self,
        request: Request<v1::ReadBlobRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        require_runner(&request, None, self.process_token)?;
        let request = request.into_inner();
        let sha256 = digest("digest", &request.digest)?;
        let bytes = self
            .store
            .read(&sha256, request.offset)
            .await
            .map_err(status)?;
        let chunks = rechunk(bytes, READ_CHUNK_BYTES).map(|piece| match piece {
            Ok(data) => Ok(v1::BlobChunk {
                data: data.to_vec(),
            }),
            Err(e) => Err(status(e)),
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn put_manifest(
        &self,
        request: Request<v1::PutManifestRequest>,
    ) -> Result<Response<v1::PutManifestResponse>, Status> {
        self.member(&request).await?;
        let wire = request
            .into_inner()
            .manifest
            .ok_or_else(|| Status::invalid_argument("manifest: required"))?;
        let manifest = manifest_from_wire(wire, &self.limits())
            .map_err(|e| Status::invalid_argument(format!("manifest: {e}")))?;
        let sha256 = self.store.put_manifest(&manifest).await.map_err(status)?;
        Ok(Response::new(v1::PutManifestResponse {
            digest: digest_to_wire(&sha256),
        }))
    }

    async fn get_manifest(
        &self,
        request: Request<v1::GetManifestRequest>,
    ) -> Result<Response<v1::BundleManifest>, Status> {
        require_runner(&request, None, self.process_token)?;
        let sha256 = digest("digest", &request.into_inner().digest)?;
        let manifest = self.store.get_manifest(&sha256).await.map_err(status)?;
        Ok(Response::new(v1::BundleManifest::from(&manifest)))
    }
}
