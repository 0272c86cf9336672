//! ExportRun: a run's outputs rendered from the store on request, byte for byte what the
//! outputs directory holds (journal, best solution, tree, report), and the best node's
//! submission as the engine kept it — streamed from the blob store as it is read, never
//! held whole in memory (or from the row, for a file kept inline).

use aide_core::RunId;
use aide_core::bundle::Sha256Digest;
use aide_proto::v1;
use aide_proto::v1::ExportFormat;
use aide_store::{NodeFileBody, NodeRecord, RunRecord, Store};
use futures::StreamExt;
use tonic::Status;

use super::store_status;
use crate::blobs::{BlobStore, rechunk};
use crate::outputs::{
    BEST_SOLUTION_FILE, JOURNAL_FILE, REPORT_FILE, TREE_FILE, best_node, journal_json, report_md,
    tree_html,
};

/// A file to export: bytes rendered here, or a blob to stream from the blob store.
pub(super) enum Exported {
    Rendered(v1::ExportRunResponse),
    Blob { name: String, digest: Sha256Digest },
}

impl Exported {
    /// The file as a stream of messages: its name with the first piece, then the rest.
    pub(super) async fn into_stream(
        self,
        blobs: Option<&BlobStore>,
    ) -> Result<ExportStream, Status> {
        match self {
            Self::Rendered(file) => Ok(in_chunks(file)),
            Self::Blob { name, digest } => {
                let blobs = blobs.ok_or_else(|| {
                    Status::failed_precondition(format!(
                        "{name} is blob {digest} and this coordinator has no blob store"
                    ))
                })?;
                let pieces = rechunk(blobs.read(&digest, 0).await?, CHUNK_BYTES);
                Ok(named_first(
                    name,
                    pieces.map(|piece| piece.map_err(Status::from)),
                ))
            }
        }
    }
}

pub(super) async fn export_run<S: Store>(
    store: &S,
    run_id: RunId,
    format: ExportFormat,
) -> Result<Exported, Status> {
    if format == ExportFormat::Unspecified {
        return Err(Status::invalid_argument(
            "format: choose journal, best solution, submission, tree html or report",
        ));
    }
    let run = store.get_run(run_id).await.map_err(store_status)?;
    let nodes = store.load_tree(run_id).await.map_err(store_status)?;
    let (file_name, content) = match format {
        ExportFormat::Unspecified => unreachable!("refused above"),
        ExportFormat::Journal => (JOURNAL_FILE.to_owned(), pretty(&journal_json(&run, &nodes))),
        ExportFormat::BestSolution => {
            let code = best(&run, &nodes)?
                .generation
                .as_ref()
                .and_then(|g| g.code.clone())
                .unwrap_or_default();
            (BEST_SOLUTION_FILE.to_owned(), code.into_bytes())
        }
        ExportFormat::Submission => {
            let name = run
                .task
                .submission
                .as_ref()
                .map(|s| s.file_name.clone())
                .ok_or_else(|| {
                    Status::failed_precondition(format!(
                        "run {run_id}'s task has no test data, so no submission"
                    ))
                })?;
            let node = best(&run, &nodes)?.id;
            let file = store
                .get_node_file(node, &name)
                .await
                .map_err(store_status)?
                .ok_or_else(|| {
                    Status::not_found(format!("best node {node} has no stored {name}"))
                })?;
            match file.body {
                NodeFileBody::Inline(content) => (name, content),
                NodeFileBody::Blob(digest) => return Ok(Exported::Blob { name, digest }),
            }
        }
        ExportFormat::TreeHtml => (TREE_FILE.to_owned(), tree_html(&run, &nodes).into_bytes()),
        ExportFormat::Report => {
            let (usage, calls) =
                tokio::try_join!(store.run_usage(run_id), store.run_llm_calls(run_id))
                    .map_err(store_status)?;
            let report = report_md(&run, &nodes, Some(&usage), &calls, None);
            (REPORT_FILE.to_owned(), report.into_bytes())
        }
    };
    Ok(Exported::Rendered(v1::ExportRunResponse {
        file_name,
        content,
    }))
}

/// The best node, or `NOT_FOUND` while no node is good.
fn best<'a>(run: &RunRecord, nodes: &'a [NodeRecord]) -> Result<&'a NodeRecord, Status> {
    best_node(run, nodes)
        .ok_or_else(|| Status::not_found(format!("run {} has no good node yet", run.id)))
}

/// JSON as the outputs directory writes it: pretty, with a final newline.
fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).unwrap_or_else(|_| value.to_string().into());
    bytes.push(b'\n');
    bytes
}

/// The messages of an ExportRun stream.
pub type ExportStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<v1::ExportRunResponse, Status>> + Send>>;

/// Bytes per streamed message.
const CHUNK_BYTES: usize = 1 << 20;

/// A rendered file as a stream: its name with the first piece, then the rest in order.
fn in_chunks(file: v1::ExportRunResponse) -> ExportStream {
    let pieces: Vec<Result<bytes::Bytes, Status>> = file
        .content
        .chunks(CHUNK_BYTES)
        .map(|piece| Ok(bytes::Bytes::copy_from_slice(piece)))
        .collect();
    named_first(file.file_name, futures::stream::iter(pieces))
}

/// Messages carrying `pieces`, the first with `name`; a file without bytes is one message
/// with the name alone.
fn named_first(
    name: String,
    pieces: impl futures::Stream<Item = Result<bytes::Bytes, Status>> + Send + 'static,
) -> ExportStream {
    let state = (Box::pin(pieces.fuse()), Some(name));
    let messages = futures::stream::unfold(state, |(mut pieces, mut name)| async move {
        let message = match pieces.next().await {
            Some(piece) => piece.map(|content| v1::ExportRunResponse {
                file_name: name.take().unwrap_or_default(),
                content: content.to_vec(),
            }),
            None => Ok(v1::ExportRunResponse {
                file_name: name.take()?,
                content: Vec::new(),
            }),
        };
        Some((message, (pieces, name)))
    });
    Box::pin(messages)
}
