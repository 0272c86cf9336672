//! [`GrpcBlobSource`]: blobs read from the coordinator's `Blobs` service (`ReadBlob`).

use aide_core::bundle::Sha256Digest;
use aide_proto::bearer::{AuthedChannel, Bearer, authed};
use aide_proto::bundle::digest_to_wire;
use aide_proto::v1::ReadBlobRequest;
use aide_proto::v1::blobs_client::BlobsClient;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::{BlobSource, BlobStream, SourceError};

/// Reads blobs over gRPC. Cheap to clone (the channel is shared).
#[derive(Debug, Clone)]
pub struct GrpcBlobSource {
    client: BlobsClient<AuthedChannel>,
}

impl GrpcBlobSource {
    /// A source over `channel`, accepting messages up to [`aide_proto::MAX_MESSAGE_BYTES`].
    pub fn new(channel: Channel) -> Self {
        Self::with_bearer(channel, Bearer::none())
    }

    /// A source over `channel` sending `bearer` with every read.
    pub fn with_bearer(channel: Channel, bearer: Bearer) -> Self {
        Self {
            client: BlobsClient::new(authed(channel, bearer))
                .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES),
        }
    }
}

impl BlobSource for GrpcBlobSource {
    fn read(
        &self,
        digest: Sha256Digest,
        offset: u64,
    ) -> BoxFuture<'_, Result<BlobStream, SourceError>> {
        let mut client = self.client.clone();
        async move {
            let request = ReadBlobRequest {
                digest: digest_to_wire(&digest),
                offset,
            };
            let chunks = client.read_blob(request).await.map_err(classify)?;
            let stream = chunks
                .into_inner()
                .map(|chunk| chunk.map(|c| Bytes::from(c.data)).map_err(classify));
            Ok(stream.boxed())
        }
        .boxed()
    }
}

/// NOT_FOUND is final; codes that a retry may cure are transient; the rest permanent.
fn classify(status: Status) -> SourceError {
    match status.code() {
        Code::NotFound => SourceError::NotFound,
        code if retryable(code) => SourceError::transient(status),
        _ => SourceError::permanent(status),
    }
}

/// The codes a retry of the same call may cure.
pub(crate) fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::Internal
            | Code::Unknown
    )
}
