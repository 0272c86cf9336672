//! Bundle inputs as Docker volumes: one named volume per bundle digest
//! (`aide-input-<first 24 hex>`), filled once by streaming the bundle directory as a tar into
//! a created-but-never-started helper container that mounts it, then mounted read-only at
//! `/sandbox/input` by every execution of that bundle.
//!
//! Completeness: labels cannot change after a volume is created, so a second, empty volume
//! `aide-input-<hex>-ready` is created only after the copy succeeded. A data volume without its
//! marker was left half-filled by a crash (or is being filled by another runner of the same
//! daemon): it is never mounted; it is removed and filled again (if it is in use, the
//! execution fails and is retried). Removal goes data first, marker second, so a crash between
//! them leaves a marker without data, which also counts as absent.
//!
//! Concurrent executions of one digest in this process wait on one per-digest lock, so the
//! copy happens once; later executions trust it without asking the daemon, and the container
//! creation checks the volume's labels (a volume removed behind our back would be re-created
//! empty by the daemon, without labels).
//!
//! Reaping ([`InputVolumes::reap`]): this runner's input volumes not used for
//! `input_idle_secs`, and beyond the `input_volumes_max` most recently used, are removed,
//! except those in use. "Used" is known in this process; a volume from an earlier life of the
//! runner counts as used when it was created.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use aide_core::bundle::Sha256Digest;
use bollard::{
    models::{ContainerCreateBody, HostConfig, Mount, MountType, MountVolumeOptions},
    query_parameters::{CreateContainerOptions, ListVolumesOptions, UploadToContainerOptions},
};
use tracing::info;

use super::{
    LABEL_KIND, LABEL_RUNNER, archive,
    daemon::{Daemon, RemoveGuard, lock, remove_container, remove_volume},
};
use crate::{Error, Result};

/// Label holding the full digest of an input volume.
pub const LABEL_DIGEST: &str = "aide.digest";
/// `aide.kind` of a bundle's data volume.
pub const KIND_INPUT: &str = "input";
/// `aide.kind` of the marker saying a data volume is complete.
pub const KIND_READY: &str = "input-ready";
/// `aide.kind` of the helper container that fills a data volume.
pub const KIND_FILL: &str = "input-fill";

/// The data volume of a bundle.
pub fn volume_name(digest: &Sha256Digest) -> String {
    format!("aide-input-{}", &digest.to_string()[..24])
}

/// The marker volume of a bundle.
pub fn ready_name(digest: &Sha256Digest) -> String {
    format!("{}-ready", volume_name(digest))
}

/// The input volumes of one runner.
#[derive(Debug, Clone)]
pub struct InputVolumes {
    docker: Daemon,
    runner_id: String,
    image: String,
    entries: Arc<Mutex<HashMap<Sha256Digest, Arc<Entry>>>>,
    /// The backend's containers in use (the container sweep leaves them alone).
    live: Arc<Mutex<HashSet<String>>>,
}

#[derive(Debug)]
struct Entry {
    /// Held while checking or filling; true once the volume is known complete.
    ready: tokio::sync::Mutex<bool>,
    /// Executions holding a lease; the reaper leaves the volume alone while > 0.
    users: Mutex<usize>,
    last_used: Mutex<SystemTime>,
}

/// One execution's use of an input volume; released on drop.
#[derive(Debug)]
pub struct Lease {
    entry: Arc<Entry>,
    /// The data volume to mount.
    pub volume: String,
    digest: Sha256Digest,
    volumes: InputVolumes,
}

impl Drop for Lease {
    fn drop(&mut self) {
        *lock(&self.entry.users) -= 1;
        *lock(&self.entry.last_used) = SystemTime::now();
    }
}

impl Lease {
    /// Checks, once the execution's container exists (and so holds the volume), that the
    /// mounted volume is the filled one; a mismatch is forgotten so the next use refills it.
    pub async fn verify_mounted(&self) -> Result<()> {
        let vol = self
            .volumes
            .docker
            .op("inspect volume", &self.volume, async {
                self.volumes.docker.inspect_volume(&self.volume).await
            })
            .await?;
        if vol.labels.get(LABEL_DIGEST) == Some(&self.digest.to_string()) {
            return Ok(());
        }
        *self.entry.ready.lock().await = false;
        Err(Error::InputVolume(format!(
            "{} was replaced while in use; the next execution fills it again",
            self.volume
        )))
    }
}

impl InputVolumes {
    /// The input volumes of `runner_id`, filled with containers of `image`.
    pub fn new(
        docker: Daemon,
        runner_id: &str,
        image: &str,
        live: Arc<Mutex<HashSet<String>>>,
    ) -> Self {
        Self {
            docker,
            runner_id: runner_id.to_string(),
            image: image.to_string(),
            entries: Arc::default(),
            live,
        }
    }

    /// The volume holding bundle `digest` (materialised at `dir`), filled first when needed.
    pub async fn acquire(&self, digest: &Sha256Digest, dir: &Path) -> Result<Lease> {
        let entry = {
            let mut entries = lock(&self.entries);
            let entry = entries.entry(*digest).or_insert_with(|| {
                Arc::new(Entry {
                    ready: tokio::sync::Mutex::new(false),
                    users: Mutex::new(0),
                    last_used: Mutex::new(SystemTime::now()),
                })
            });
            *lock(&entry.users) += 1;
            *lock(&entry.last_used) = SystemTime::now();
            entry.clone()
        };
        let lease = Lease {
            entry: entry.clone(),
            volume: volume_name(digest),
            digest: *digest,
            volumes: self.clone(),
        };
        let mut ready = entry.ready.lock().await;
        if !*ready {
            if !self.complete(digest).await? {
                self.fill(digest, dir).await?;
            }
            *ready = true;
        }
        Ok(lease)
    }

    /// Whether the data volume and its marker both exist (a lone data volume is removed).
    async fn complete(&self, digest: &Sha256Digest) -> Result<bool> {
        let data = volume_name(digest);
        let found = self.find(&data, digest).await?;
        let marked = self.find(&ready_name(digest), digest).await?;
        if found && !marked {
            info!(volume = %data, "input volume was left half-filled; filling it again");
            remove_volume(&self.docker, &data).await?;
        }
        Ok(found && marked)
    }

    /// Whether volume `name` exists with this digest's label.
    async fn find(&self, name: &str, digest: &Sha256Digest) -> Result<bool> {
        match self.docker.inspect_volume(name).await {
            Ok(v) => Ok(v.labels.get(LABEL_DIGEST) == Some(&digest.to_string())),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(Error::docker("inspect volume", name)(e)),
        }
    }

    fn labels(&self, kind: &str, digest: &Sha256Digest) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_RUNNER.to_string(), self.runner_id.clone()),
            (LABEL_KIND.to_string(), kind.to_string()),
            (LABEL_DIGEST.to_string(), digest.to_string()),
        ])
    }

    /// Creates the data volume, streams `dir` into it, then creates the marker.
    async fn fill(&self, digest: &Sha256Digest, dir: &Path) -> Result<()> {
        let data = volume_name(digest);
        let started = std::time::Instant::now();
        let request = bollard::models::VolumeCreateRequest {
            name: Some(data.clone()),
            labels: Some(self.labels(KIND_INPUT, digest)),
            ..Default::default()
        };
        self.docker
            .op("create volume", &data, self.docker.create_volume(request))
            .await?;
        let helper = format!("{data}-fill");
        remove_container(&self.docker, &helper).await?;
        lock(&self.live).insert(helper.clone());
        // Removes the helper if this future is dropped mid-copy (the volume then has no
        // marker, and is filled again by the next use).
        let mut guard = RemoveGuard {
            docker: self.docker.clone(),
            name: Some(helper.clone()),
            volume: None,
            live: self.live.clone(),
        };
        let copied = self.copy_in(&helper, &data, digest, dir).await;
        let removed = remove_container(&self.docker, &helper).await;
        guard.name = None;
        lock(&self.live).remove(&helper);
        copied.and(removed)?;
        let request = bollard::models::VolumeCreateRequest {
            name: Some(ready_name(digest)),
            labels: Some(self.labels(KIND_READY, digest)),
            ..Default::default()
        };
        self.docker
            .op("create volume", &data, self.docker.create_volume(request))
            .await?;
        info!(volume = %data, elapsed = ?started.elapsed(), "input volume filled");
        Ok(())
    }

    /// Creates the helper container `helper` holding volume `data` and streams `dir` in.
    async fn copy_in(
        &self,
        helper: &str,
        data: &str,
        digest: &Sha256Digest,
        dir: &Path,
    ) -> Result<()> {
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(vec!["true".into()]),
            labels: Some(self.labels(KIND_FILL, digest)),
            network_disabled: Some(true),
            host_config: Some(HostConfig {
                mounts: Some(vec![volume_mount(data, "/input", false)]),
                network_mode: Some("none".into()),
                readonly_rootfs: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(helper.to_string()),
            ..Default::default()
        };
        let create = self.docker.create_container(Some(opts), body);
        self.docker.op("create", helper, create).await?;
        let upload = UploadToContainerOptions {
            path: "/input".into(),
            ..Default::default()
        };
        let tar = bollard::body_try_stream(archive::dir_stream(dir.to_path_buf()));
        // No overall timeout: a large bundle takes as long as its bytes take.
        self.docker
            .upload_to_container(helper, Some(upload), tar)
            .await
            .map_err(Error::docker("upload", helper))
    }

    /// Removes this runner's input volumes unused for `idle` and beyond the `keep` most
    /// recently used; returns how many bundles were removed.
    pub async fn reap(&self, idle: Duration, keep: usize) -> Result<usize> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_RUNNER}={}", self.runner_id),
                format!("{LABEL_KIND}={KIND_INPUT}"),
            ],
        )]);
        let opts = ListVolumesOptions {
            filters: Some(filters),
        };
        let listed = self
            .docker
            .op("list volumes", "-", self.docker.list_volumes(Some(opts)))
            .await?;
        let now = SystemTime::now();
        let mut found: Vec<(SystemTime, Sha256Digest)> = Vec::new();
        for v in listed.volumes.unwrap_or_default() {
            let Some(digest) = v.labels.get(LABEL_DIGEST).and_then(|d| d.parse().ok()) else {
                continue;
            };
            let created = v
                .created_at
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(&c).ok())
                .map_or(now, SystemTime::from);
            let used = match lock(&self.entries).get(&digest) {
                Some(e) if *lock(&e.users) > 0 => continue,
                Some(e) => *lock(&e.last_used),
                None => created,
            };
            found.push((used, digest));
        }
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        let mut removed = 0;
        for (i, (used, digest)) in found.into_iter().enumerate() {
            let idle_for = now.duration_since(used).unwrap_or_default();
            if i < keep && idle_for < idle {
                continue;
            }
            if self.remove(&digest).await? {
                removed += 1;
            }
        }
        if removed > 0 {
            info!(removed, "janitor removed input volumes");
        }
        Ok(removed)
    }

    /// Removes a bundle's volumes unless in use (data first, then the marker).
    async fn remove(&self, digest: &Sha256Digest) -> Result<bool> {
        let entry = lock(&self.entries).get(digest).cloned();
        let guard = match &entry {
            Some(e) => match e.ready.try_lock() {
                Ok(g) if *lock(&e.users) == 0 => Some(g),
                _ => return Ok(false),
            },
            None => None,
        };
        match self
            .docker
            .remove_volume(
                &volume_name(digest),
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            // In use by a container (perhaps another runner's): keep it.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => return Ok(false),
            Err(e) => return Err(Error::docker("remove volume", volume_name(digest))(e)),
        }
        remove_volume(&self.docker, &ready_name(digest)).await?;
        if let Some(mut ready) = guard {
            *ready = false;
        }
        Ok(true)
    }
}

/// A mount of named volume `name` at `target`, never seeded from the image.
pub fn volume_mount(name: &str, target: &str, read_only: bool) -> Mount {
    Mount {
        target: Some(target.into()),
        source: Some(name.into()),
        typ: Some(MountType::VOLUME),
        read_only: Some(read_only),
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}
