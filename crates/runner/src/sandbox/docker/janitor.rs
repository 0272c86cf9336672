//! The container and attempt-volume half of the Docker backend's sweep: removes this
//! runner's labelled containers (executions, input fillers) and attempt volumes that no
//! execution in progress holds. Input volumes are reaped by [`super::inputs`].

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use bollard::query_parameters::{ListContainersOptions, ListVolumesOptions};
use tracing::info;

use super::{
    LABEL_KIND, LABEL_RUNNER,
    attempt::{KIND_ATTEMPT, volume_name},
    daemon::{Daemon, lock, remove_container, remove_volume},
};
use crate::Result;

/// Removes leftovers of `runner_id` not in `live`; returns how many.
pub async fn sweep(
    docker: &Daemon,
    runner_id: &str,
    live: &Mutex<HashSet<String>>,
) -> Result<usize> {
    let owned = format!("{LABEL_RUNNER}={runner_id}");
    let opts = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([("label".to_string(), vec![owned.clone()])])),
        ..Default::default()
    };
    let found = docker
        .op("list", "-", docker.list_containers(Some(opts)))
        .await?;
    let live_now = lock(live).clone();
    let mut removed = 0;
    for c in found {
        let name = c
            .names
            .and_then(|n| n.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        if name.is_empty() || live_now.contains(&name) {
            continue;
        }
        remove_container(docker, &name).await?;
        removed += 1;
    }
    // Listed after the containers are gone, so their volumes are free; an execution that
    // started meanwhile is in `live`.
    let opts = ListVolumesOptions {
        filters: Some(HashMap::from([(
            "label".to_string(),
            vec![owned, format!("{LABEL_KIND}={KIND_ATTEMPT}")],
        )])),
    };
    let volumes = docker
        .op("list volumes", "-", docker.list_volumes(Some(opts)))
        .await?;
    let live_now = lock(live).clone();
    let live_volumes: HashSet<String> = live_now.iter().map(|c| volume_name(c)).collect();
    for v in volumes.volumes.unwrap_or_default() {
        if live_volumes.contains(&v.name) {
            continue;
        }
        remove_volume(docker, &v.name).await?;
        removed += 1;
    }
    if removed > 0 {
        info!(
            removed,
            "janitor removed leftover containers and attempt volumes"
        );
    }
    Ok(removed)
}
