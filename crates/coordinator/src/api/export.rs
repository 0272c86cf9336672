//! ExportRun: a run's outputs rendered from the store on request, byte for byte what the
//! outputs directory holds (journal, best solution, tree, report), and the best node's
//! submission as the engine stored it (`get_node_file`).

use aide_core::RunId;
use aide_proto::v1;
use aide_proto::v1::ExportFormat;
use aide_store::{NodeRecord, RunRecord, Store};
use tonic::Status;

use super::store_status;
use crate::outputs::{
    BEST_SOLUTION_FILE, JOURNAL_FILE, REPORT_FILE, TREE_FILE, best_node, journal_json, report_md,
    tree_html,
};

pub(super) async fn export_run<S: Store>(
    store: &S,
    run_id: RunId,
    format: ExportFormat,
) -> Result<v1::ExportRunResponse, Status> {
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
            let content = store
                .get_node_file(node, &name)
                .await
                .map_err(store_status)?
                .ok_or_else(|| {
                    Status::not_found(format!("best node {node} has no stored {name}"))
                })?;
            (name, content)
        }
        ExportFormat::TreeHtml => (TREE_FILE.to_owned(), tree_html(&run, &nodes).into_bytes()),
        ExportFormat::Report => {
            let usage = store.run_usage(run_id).await.map_err(store_status)?;
            let report = report_md(&run, &nodes, Some(&usage), None);
            (REPORT_FILE.to_owned(), report.into_bytes())
        }
    };
    Ok(v1::ExportRunResponse { file_name, content })
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
pub(super) fn in_chunks(file: v1::ExportRunResponse) -> ExportStream {
    let mut messages: Vec<Result<v1::ExportRunResponse, Status>> = file
        .content
        .chunks(CHUNK_BYTES)
        .map(|piece| {
            Ok(v1::ExportRunResponse {
                file_name: String::new(),
                content: piece.to_vec(),
            })
        })
        .collect();
    match messages.first_mut() {
        Some(Ok(first)) => first.file_name = file.file_name,
        _ => messages.push(Ok(v1::ExportRunResponse {
            file_name: file.file_name,
            content: Vec::new(),
        })),
    }
    Box::pin(futures::stream::iter(messages))
}
