//! Conversions between the wire's bundle messages and aide-core's [`Manifest`]: digests travel
//! as 32 raw bytes, and a manifest from the wire is checked before it is used.

use aide_core::bundle::{BundleFile, Limits, Manifest, ManifestError, Sha256Digest};

use crate::v1;

/// A digest field that is not 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDigest {
    /// The field's name.
    pub field: &'static str,
    /// The length received.
    pub len: usize,
}

impl std::fmt::Display for BadDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: a sha256 is 32 bytes, not {}", self.field, self.len)
    }
}

impl std::error::Error for BadDigest {}

/// The digest in a wire field.
pub fn digest_from_wire(field: &'static str, bytes: &[u8]) -> Result<Sha256Digest, BadDigest> {
    <[u8; 32]>::try_from(bytes)
        .map(Sha256Digest)
        .map_err(|_| BadDigest {
            field,
            len: bytes.len(),
        })
}

/// A digest as a wire field.
pub fn digest_to_wire(digest: &Sha256Digest) -> Vec<u8> {
    digest.0.to_vec()
}

impl From<&Manifest> for v1::BundleManifest {
    fn from(manifest: &Manifest) -> Self {
        Self {
            files: manifest
                .files
                .iter()
                .map(|f| v1::BundleFile {
                    path: f.path.clone(),
                    size: f.size,
                    sha256: digest_to_wire(&f.sha256),
                    executable: f.executable,
                })
                .collect(),
        }
    }
}

/// Why a wire manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireManifestError {
    #[error("{0}")]
    Digest(#[from] BadDigest),
    #[error("{0}")]
    Manifest(#[from] ManifestError),
}

/// The manifest a wire message describes, checked against `limits`.
pub fn manifest_from_wire(
    wire: v1::BundleManifest,
    limits: &Limits,
) -> Result<Manifest, WireManifestError> {
    let files = wire
        .files
        .into_iter()
        .map(|f| {
            Ok(BundleFile {
                sha256: digest_from_wire("files.sha256", &f.sha256)?,
                path: f.path,
                size: f.size,
                executable: f.executable,
            })
        })
        .collect::<Result<Vec<_>, BadDigest>>()?;
    Ok(Manifest::from_files(files, limits)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_survives_the_wire() {
        let manifest = Manifest::from_files(
            vec![BundleFile {
                path: "train.csv".into(),
                size: 3,
                sha256: Sha256Digest([7; 32]),
                executable: true,
            }],
            &Limits::default(),
        )
        .unwrap();
        let wire = v1::BundleManifest::from(&manifest);
        assert_eq!(
            manifest_from_wire(wire, &Limits::default()).unwrap(),
            manifest
        );
    }

    #[test]
    fn short_digests_are_refused_by_field() {
        let err = digest_from_wire("input_digest", &[1, 2, 3]).unwrap_err();
        assert_eq!(err.to_string(), "input_digest: a sha256 is 32 bytes, not 3");
    }
}
