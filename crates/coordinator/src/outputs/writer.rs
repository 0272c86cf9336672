//! [`OutputsWriter`]: a run's outputs refreshed off the run loop's critical path. The loop
//! hands over a snapshot of the run after each reviewed node and goes on at once; one
//! background task per run writes the newest snapshot on a blocking thread, skipping the
//! ones a newer snapshot replaced while it was writing. [`OutputsWriter::finish`] waits
//! for the last snapshot to be written, so a finished or stopped run's directory is
//! current before anything else is written to it.

use std::sync::Arc;

use aide_store::{NodeRecord, RunRecord};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, warn};

use super::RunOutputs;

/// What [`RunOutputs::refresh`] writes from.
#[derive(Debug)]
struct Snapshot {
    run: RunRecord,
    nodes: Vec<NodeRecord>,
    submission: Option<(String, Vec<u8>)>,
}

/// The background writer of one run's outputs.
#[derive(Debug)]
pub struct OutputsWriter {
    outputs: RunOutputs,
    newest: watch::Sender<Option<Arc<Snapshot>>>,
    task: JoinHandle<()>,
}

impl OutputsWriter {
    /// Starts the writer of `outputs` (on the current tokio runtime).
    pub fn start(outputs: RunOutputs) -> Self {
        let (newest, mut pending) = watch::channel(None::<Arc<Snapshot>>);
        let target = outputs.clone();
        let task = tokio::spawn(
            async move {
                // Ends when the sender is dropped, after writing what it last sent.
                while pending.changed().await.is_ok() {
                    let Some(snapshot) = pending.borrow_and_update().clone() else {
                        continue;
                    };
                    write(target.clone(), snapshot).await;
                }
            }
            .in_current_span(),
        );
        Self {
            outputs,
            newest,
            task,
        }
    }

    /// The directory written to.
    pub fn outputs(&self) -> &RunOutputs {
        &self.outputs
    }

    /// Asks for the outputs to show `run` and `nodes` (and the best node's submission);
    /// returns at once.
    pub fn refresh(
        &self,
        run: &RunRecord,
        nodes: &[NodeRecord],
        submission: Option<(&str, &[u8])>,
    ) {
        let snapshot = Snapshot {
            run: run.clone(),
            nodes: nodes.to_vec(),
            submission: submission.map(|(name, bytes)| (name.to_owned(), bytes.to_vec())),
        };
        self.newest.send_replace(Some(Arc::new(snapshot)));
    }

    /// Waits until the last snapshot asked for is written; returns the outputs.
    pub async fn finish(self) -> RunOutputs {
        drop(self.newest);
        if let Err(e) = self.task.await {
            warn!(error = %e, "the run outputs writer failed");
        }
        self.outputs
    }
}

/// Writes one snapshot on a blocking thread (the files are rendered and written there).
async fn write(outputs: RunOutputs, snapshot: Arc<Snapshot>) {
    let written = tokio::task::spawn_blocking(move || {
        let submission = snapshot
            .submission
            .as_ref()
            .map(|(name, bytes)| (name.as_str(), bytes.as_slice()));
        outputs.refresh(&snapshot.run, &snapshot.nodes, submission)
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "cannot refresh the run outputs"),
        Err(e) => warn!(error = %e, "the run outputs refresh failed"),
    }
}
