//! An execution's `./input`: a task bundle fetched by digest into the runner's cache
//! ([`aide_bundle::BundleCache`], blobs read from the coordinator), or — only for a runner
//! embedded in `aide run`, one process and one user — a directory of this host. A runner
//! started as a service refuses host paths: it never opens a path a caller named.

use std::path::PathBuf;
use std::sync::Arc;

use aide_bundle::{BundleCache, BundleLease};
use aide_core::bundle::{Limits, Manifest, Sha256Digest};
use aide_proto::bundle::{digest_from_wire, manifest_from_wire};
use aide_proto::v1::ExecuteRequest;

use crate::private_input::PrivateInputs;
use crate::sandbox::SandboxInput;
use crate::{Error, Result};

/// The input a request asks for, checked.
#[derive(Debug, Clone)]
pub enum RequestedInput {
    None,
    Local(PathBuf),
    Bundle {
        digest: Sha256Digest,
        manifest: Manifest,
    },
}

impl RequestedInput {
    /// The request's input; a bundle's manifest must hash to its digest.
    pub fn of(req: &mut ExecuteRequest) -> Result<Self> {
        let local = std::mem::take(&mut req.local_input_dir);
        match (req.input.take(), local.is_empty()) {
            (Some(_), false) => Err(Error::InvalidRequest(
                "give input or local_input_dir, not both".into(),
            )),
            (None, true) => Ok(Self::None),
            (None, false) => Ok(Self::Local(PathBuf::from(local))),
            (Some(bundle), true) => {
                let digest = digest_from_wire("input.digest", &bundle.digest)
                    .map_err(|e| Error::InvalidRequest(e.to_string()))?;
                let wire = bundle
                    .manifest
                    .ok_or_else(|| Error::InvalidRequest("input.manifest is required".into()))?;
                let manifest = manifest_from_wire(wire, &Limits::default())
                    .map_err(|e| Error::InvalidRequest(format!("input.manifest: {e}")))?;
                if manifest.digest() != digest {
                    return Err(Error::InvalidRequest(
                        "input.manifest does not hash to input.digest".into(),
                    ));
                }
                Ok(Self::Bundle { digest, manifest })
            }
        }
    }
}

/// Where inputs come from on this runner.
#[derive(Debug, Clone, Default)]
pub struct InputSource {
    /// The bundle cache; `None` when the runner knows no coordinator to fetch from.
    pub cache: Option<BundleCache>,
    /// Accept a directory of this host (only the runner embedded in `aide run`).
    pub accept_local: bool,
    /// Copies of host directories sandbox users could not read (a root runner's slots).
    pub private: Option<Arc<PrivateInputs>>,
}

/// An input ready for the sandbox, kept from eviction while this value lives.
#[derive(Debug, Default)]
pub struct PreparedInput {
    pub input: Option<SandboxInput>,
    _lease: Option<BundleLease>,
}

impl InputSource {
    /// Checks a request's input before a slot is taken: a host path is refused unless this
    /// runner accepts them, and must then be an existing absolute directory.
    pub fn check(&self, input: &RequestedInput) -> Result<()> {
        match input {
            RequestedInput::Local(_) if !self.accept_local => Err(Error::InvalidRequest(
                "local_input_dir is only accepted by a runner embedded in `aide run`; send the \
                 task as an input bundle"
                    .into(),
            )),
            RequestedInput::Local(dir) if !dir.is_absolute() || !dir.is_dir() => {
                Err(Error::InvalidRequest(
                    "local_input_dir must be an existing absolute directory".into(),
                ))
            }
            RequestedInput::Bundle { .. } if self.cache.is_none() => Err(Error::InvalidRequest(
                "this runner has no coordinator to fetch input bundles from (--coordinator)".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Makes the input present: a bundle is fetched into the cache (missing blobs only).
    pub async fn prepare(&self, input: RequestedInput) -> Result<PreparedInput> {
        match input {
            RequestedInput::None => Ok(PreparedInput::default()),
            RequestedInput::Local(dir) => {
                let copy = match &self.private {
                    Some(private) => private.readable_copy(&dir).await?,
                    None => None,
                };
                Ok(match copy {
                    Some(lease) => PreparedInput {
                        input: Some(SandboxInput::Bundle {
                            digest: lease.digest(),
                            dir: lease.dir().to_path_buf(),
                        }),
                        _lease: Some(lease),
                    },
                    None => PreparedInput {
                        input: Some(SandboxInput::LocalDir(dir)),
                        _lease: None,
                    },
                })
            }
            RequestedInput::Bundle { digest, manifest } => {
                let cache = self.cache.as_ref().ok_or_else(|| {
                    Error::InvalidRequest("this runner has no bundle cache".into())
                })?;
                let lease = cache
                    .materialize(digest, &manifest)
                    .await
                    .map_err(Error::Input)?;
                Ok(PreparedInput {
                    input: Some(SandboxInput::Bundle {
                        digest,
                        dir: lease.dir().to_path_buf(),
                    }),
                    _lease: Some(lease),
                })
            }
        }
    }
}
