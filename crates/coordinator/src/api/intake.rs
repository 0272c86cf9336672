//! Where CreateRun's task comes from: an uploaded bundle (a descriptor plus the digests of
//! manifests already stored) or a task under one of the configured task roots, read here
//! (confined to the root) and stored as bundles before the run is created. No path a client
//! sends is ever opened.

use aide_core::Task;
use aide_core::bundle::{Limits, LocalBundle, Manifest, Sha256Digest};
use aide_core::task::{Answers, TaskData};
use aide_proto::task::{StoredBundle, task_from_bundle};
use aide_proto::v1;
use aide_proto::v1::task_source::Source;
use tonic::Status;

use crate::Error;
use crate::blobs::BlobStore;
use crate::blobs::service::digest;
use crate::task_roots::{RootRefusal, TaskRoots};

/// What CreateRun needs to take a task in.
#[derive(Debug, Clone, Default)]
pub struct TaskIntake {
    /// Where bundles are stored; without it no task can be taken.
    pub blobs: Option<BlobStore>,
    pub roots: TaskRoots,
}

impl TaskIntake {
    /// The task a source names, its data stored as bundles.
    pub async fn task(&self, source: Option<Source>) -> Result<Task, Status> {
        let source = source.ok_or_else(|| {
            Status::invalid_argument("task: give an uploaded bundle or a server task")
        })?;
        let blobs = self.blobs.as_ref().ok_or_else(|| {
            Status::failed_precondition("this coordinator has no blob store to take tasks in")
        })?;
        match source {
            Source::Bundle(bundle) => uploaded(blobs, bundle).await,
            Source::ServerTask(name) => self.server_task(blobs, name).await,
        }
    }

    async fn server_task(&self, blobs: &BlobStore, name: String) -> Result<Task, Status> {
        let roots = self.roots.clone();
        let (task, input, answers) = tokio::task::spawn_blocking(move || {
            let task = roots.load(&name).map_err(root_status)?;
            let input = local_bundle(&task.input)?;
            let answers = task
                .answers
                .as_ref()
                .map(|a| local_bundle(&a.data))
                .transpose()?;
            Ok::<_, Status>((task, input, answers))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "reading a server task panicked");
            Status::internal("internal error while reading the task")
        })??;
        let input_ref = blobs.ingest(&input).await.map_err(Status::from)?;
        let answers = match (task.answers.clone(), answers) {
            (Some(a), Some(bundle)) => Some(Answers {
                data: TaskData::Bundle(blobs.ingest(&bundle).await.map_err(Status::from)?),
                file: a.file,
            }),
            _ => None,
        };
        Ok(Task {
            input: TaskData::Bundle(input_ref),
            answers,
            ..task
        })
    }
}

/// The task of an uploaded descriptor over its stored manifests.
async fn uploaded(blobs: &BlobStore, bundle: v1::TaskBundle) -> Result<Task, Status> {
    let descriptor = bundle
        .descriptor
        .ok_or_else(|| Status::invalid_argument("task.bundle.descriptor: required"))?;
    let input_digest = digest("task.bundle.input_digest", &bundle.input_digest)?;
    let input = stored_manifest(blobs, "task.bundle.input_digest", input_digest).await?;
    let private = match bundle.private_digest.is_empty() {
        true => None,
        false => {
            let digest = digest("task.bundle.private_digest", &bundle.private_digest)?;
            let manifest = stored_manifest(blobs, "task.bundle.private_digest", digest).await?;
            Some((digest, manifest))
        }
    };
    let input = StoredBundle {
        digest: input_digest,
        manifest: &input,
    };
    let private = private.as_ref().map(|(digest, manifest)| StoredBundle {
        digest: *digest,
        manifest,
    });
    task_from_bundle(descriptor, input, private)
        .map_err(|why| Status::invalid_argument(format!("task.bundle.{why}")))
}

async fn stored_manifest(
    blobs: &BlobStore,
    field: &str,
    digest: Sha256Digest,
) -> Result<Manifest, Status> {
    blobs.get_manifest(&digest).await.map_err(|e| match e {
        Error::ManifestNotFound { .. } => Status::failed_precondition(format!(
            "{field}: no stored manifest {digest}; store it with Blobs.PutManifest first"
        )),
        other => Status::from(other),
    })
}

/// The bundle of a server task's local data (hashing its files), refusing what a bundle
/// cannot hold with the path relative to the task.
fn local_bundle(data: &TaskData) -> Result<LocalBundle, Status> {
    let path = data
        .local_path()
        .ok_or_else(|| Status::internal("a server task's data is not local"))?;
    LocalBundle::of(path, &Limits::default())
        .map_err(|e| Status::invalid_argument(format!("server_task: {e}")))
}

fn root_status(refusal: RootRefusal) -> Status {
    match refusal {
        RootRefusal::NoTask(_) | RootRefusal::UnknownRoot { .. } => {
            Status::not_found(refusal.to_string())
        }
        RootRefusal::BadName(_) | RootRefusal::Invalid(_) => {
            Status::invalid_argument(refusal.to_string())
        }
    }
}
