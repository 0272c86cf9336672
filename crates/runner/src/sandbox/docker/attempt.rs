//! One attempt's files inside Docker: the per-attempt volume mounted at `/sandbox`, filled
//! before the start with `solution.py` and an empty `working/`, and the copy-out of the
//! submission and collect-glob matches from the stopped container, under the limits of
//! [`crate::collect`] (which owns the order, the file count, and the size caps).

use std::collections::HashMap;

use aide_proto::v1::CollectedFile;
use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures::StreamExt;

use super::{
    LABEL_KIND, LABEL_RUNNER, archive,
    daemon::{Daemon, OP_TIMEOUT},
};
use crate::{
    Error, Result,
    collect::{self, Budget, CollectSpec},
};

/// `aide.kind` of an attempt volume.
pub const KIND_ATTEMPT: &str = "attempt";
/// Where the working directory is inside the container.
const WORKING: &str = "/sandbox/working";

/// The attempt volume of container `container`.
pub fn volume_name(container: &str) -> String {
    format!("{container}-work")
}

/// Creates the attempt volume, labelled with the runner.
pub async fn create_volume(docker: &Daemon, runner_id: &str, container: &str) -> Result<String> {
    let name = volume_name(container);
    let request = bollard::models::VolumeCreateRequest {
        name: Some(name.clone()),
        labels: Some(HashMap::from([
            (LABEL_RUNNER.to_string(), runner_id.to_string()),
            (LABEL_KIND.to_string(), KIND_ATTEMPT.to_string()),
        ])),
        ..Default::default()
    };
    docker
        .op("create volume", &name, docker.create_volume(request))
        .await?;
    Ok(name)
}

/// The attempt volume's `working/` on this host, when the runner can see the daemon's
/// volume directory (it runs as root on the daemon's host, or has that directory mounted):
/// then the disk quota is watched from outside the sandbox, by a walker that may read every
/// directory (files deleted while still open escape the count).
pub async fn working_on_this_host(docker: &Daemon, volume: &str) -> Option<std::path::PathBuf> {
    let inspected = docker.inspect_volume(volume).await.ok()?;
    let working = std::path::Path::new(&inspected.mountpoint).join("working");
    tokio::fs::metadata(&working)
        .await
        .is_ok_and(|m| m.is_dir())
        .then_some(working)
}

/// Copies the script and an empty `working/` owned by `owner` into the created container's
/// `/sandbox` (its attempt volume: the root filesystem itself is read-only).
pub async fn upload(
    docker: &Daemon,
    container: &str,
    code: &[u8],
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let tar = archive::attempt(code, owner).map_err(|source| Error::Archive {
        context: "packing the script",
        source,
    })?;
    let opts = UploadToContainerOptions {
        path: "/sandbox".into(),
        ..Default::default()
    };
    let body = bollard::body_full(tar.into());
    docker
        .op(
            "upload",
            container,
            docker.upload_to_container(container, Some(opts), body),
        )
        .await
}

/// The files `spec` asks for, read from the (stopped) container's `working/`.
pub async fn collect_out(
    docker: &Daemon,
    container: &str,
    spec: &CollectSpec,
) -> Result<Vec<CollectedFile>> {
    if spec.submission.is_empty() && spec.globs.is_empty() {
        return Ok(Vec::new());
    }
    let mut submission = spec.submission.clone();
    // A top-level submission is read by name (the daemon's archive of a symbolic link is
    // the link, which is refused). Anything else comes from a listing of working/, which
    // never descends into symbolic links, so nothing outside working/ is reached.
    let matches = if spec.globs.is_empty() && !submission.contains('/') {
        Vec::new()
    } else {
        let mut patterns = spec.globs.clone();
        if !submission.is_empty() {
            patterns.push(glob::Pattern::escape(&submission));
        }
        let mut matches = list(docker, container, patterns).await?;
        if !submission.is_empty() && matches.pop().is_none_or(|m| m.is_empty()) {
            submission.clear();
        }
        matches
    };
    let mut budget = Budget::new(spec.max_file, spec.max_total);
    let mut files = Vec::new();
    for name in collect::select(&submission, matches) {
        if let Some(file) = read(docker, container, &name, budget.cap()).await? {
            budget.spend(&file);
            files.push(file);
        }
    }
    Ok(files)
}

/// Per pattern, the regular files of `working/` that match it.
async fn list(docker: &Daemon, container: &str, patterns: Vec<String>) -> Result<Vec<Vec<String>>> {
    let Some(stream) = download(docker, container, WORKING).await? else {
        return Ok(vec![Vec::new(); patterns.len()]);
    };
    let reader = archive::blocking_reader(stream);
    tokio::task::spawn_blocking(move || archive::matches_in(reader, &patterns))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e)))?
        .map_err(|source| Error::Archive {
            context: "listing working/",
            source,
        })
}

/// The first `cap` bytes of `working/<name>`, when it is a regular file.
async fn read(
    docker: &Daemon,
    container: &str,
    name: &str,
    cap: u64,
) -> Result<Option<CollectedFile>> {
    let Some(stream) = download(docker, container, &format!("{WORKING}/{name}")).await? else {
        return Ok(None);
    };
    let reader = archive::blocking_reader(stream);
    let owned = name.to_string();
    let reading = tokio::task::spawn_blocking(move || archive::read_one(reader, &owned, cap));
    match tokio::time::timeout(OP_TIMEOUT, reading).await {
        Ok(joined) => joined
            .map_err(|e| Error::Io(std::io::Error::other(e)))?
            .map_err(|source| Error::Archive {
                context: "reading a collected file",
                source,
            }),
        Err(_) => Err(Error::DockerTimeout {
            op: "download",
            container: container.to_string(),
        }),
    }
}

type Download = std::pin::Pin<
    Box<
        dyn futures::Stream<Item = Result<tokio_util::bytes::Bytes, bollard::errors::Error>> + Send,
    >,
>;

/// The archive of `path` in the container; `None` when it does not exist.
async fn download(docker: &Daemon, container: &str, path: &str) -> Result<Option<Download>> {
    let opts = DownloadFromContainerOptions { path: path.into() };
    let mut stream = Box::pin(docker.download_from_container(container, Some(opts)));
    let first = match tokio::time::timeout(OP_TIMEOUT, stream.next()).await {
        Err(_) => {
            return Err(Error::DockerTimeout {
                op: "download",
                container: container.to_string(),
            });
        }
        Ok(None) => return Ok(Some(Box::pin(futures::stream::empty()))),
        Ok(Some(Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }))) => return Ok(None),
        Ok(Some(Err(e))) => return Err(Error::docker("download", container)(e)),
        Ok(Some(Ok(chunk))) => chunk,
    };
    Ok(Some(Box::pin(
        futures::stream::once(async move { Ok(first) }).chain(stream),
    )))
}
