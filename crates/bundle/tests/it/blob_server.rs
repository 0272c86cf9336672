//! A tiny `Blobs` gRPC server for tests and the benchmark: `ReadBlob` serves real bytes from a
//! [`DirBlobSource`] directory; every other method is unimplemented.

use std::net::SocketAddr;

use aide_bundle::{BlobSource as _, DirBlobSource, SourceError};
use aide_proto::bundle::digest_from_wire;
use aide_proto::v1::blobs_server::{Blobs, BlobsServer};
use aide_proto::v1::{
    BlobChunk, BundleManifest, FindMissingBlobsRequest, FindMissingBlobsResponse,
    GetManifestRequest, PutManifestRequest, PutManifestResponse, ReadBlobRequest,
    UploadBlobRequest, UploadBlobResponse,
};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use tonic::{Request, Response, Status, Streaming};

pub struct DirBlobs(pub DirBlobSource);

#[tonic::async_trait]
impl Blobs for DirBlobs {
    type ReadBlobStream = BoxStream<'static, Result<BlobChunk, Status>>;

    async fn read_blob(
        &self,
        request: Request<ReadBlobRequest>,
    ) -> Result<Response<Self::ReadBlobStream>, Status> {
        let request = request.into_inner();
        let digest = digest_from_wire("digest", &request.digest)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let stream = self
            .0
            .read(digest, request.offset)
            .await
            .map_err(|e| match e {
                SourceError::NotFound => Status::not_found(format!("blob {digest}")),
                other => Status::unavailable(other.to_string()),
            })?;
        Ok(Response::new(
            stream
                .map(|chunk| {
                    chunk
                        .map(|data| BlobChunk {
                            data: data.to_vec(),
                        })
                        .map_err(|e| Status::unavailable(e.to_string()))
                })
                .boxed(),
        ))
    }

    async fn find_missing_blobs(
        &self,
        _: Request<FindMissingBlobsRequest>,
    ) -> Result<Response<FindMissingBlobsResponse>, Status> {
        Err(Status::unimplemented("test server: ReadBlob only"))
    }

    async fn upload_blob(
        &self,
        _: Request<Streaming<UploadBlobRequest>>,
    ) -> Result<Response<UploadBlobResponse>, Status> {
        Err(Status::unimplemented("test server: ReadBlob only"))
    }

    async fn put_manifest(
        &self,
        _: Request<PutManifestRequest>,
    ) -> Result<Response<PutManifestResponse>, Status> {
        Err(Status::unimplemented("test server: ReadBlob only"))
    }

    async fn get_manifest(
        &self,
        _: Request<GetManifestRequest>,
    ) -> Result<Response<BundleManifest>, Status> {
        Err(Status::unimplemented("test server: ReadBlob only"))
    }
}

/// Serves `source` on a free loopback port until the returned task is aborted.
pub async fn serve(source: DirBlobSource) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tonic::transport::Server::builder()
        .add_service(
            BlobsServer::new(DirBlobs(source))
                .max_encoding_message_size(aide_proto::MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming(incoming);
    let task = tokio::spawn(async move { server.await.expect("blob server") });
    (addr, task)
}
