//! The object store a `--blob-store` URL names: `file:///abs/path` or a bare path (a local
//! directory, created when missing), `s3://bucket/prefix` (S3 or any S3-compatible server,
//! configured by the standard `AWS_*` variables: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL` for MinIO, SeaweedFS or R2,
//! `AWS_ALLOW_HTTP=true` for a plain-http endpoint), or nothing: `<data_dir>` itself, so that
//! blobs land in `<data_dir>/blobs/` and manifests in `<data_dir>/manifests/`. In a local store
//! both are private to the coordinator's user (mode 0700): held-back answers are stored there,
//! and on a host running the process sandbox, every slot's user could read them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;

use super::BlobStore;
use crate::Error;

impl BlobStore {
    /// The store `url` names, or a local one in `data_dir` without one (blobs in
    /// `<data_dir>/blobs/`); S3 settings from the environment.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<Self, Error> {
        Self::from_url_with(url, data_dir, &[])
    }

    /// [`from_url`](Self::from_url) with S3 settings laid over the environment's, as
    /// `(key, value)` pairs named like the variables in lower case (`aws_endpoint`,
    /// `aws_access_key_id`, `aws_allow_http`...). Ignored for local stores.
    pub fn from_url_with(
        url: Option<&str>,
        data_dir: &Path,
        s3_settings: &[(String, String)],
    ) -> Result<Self, Error> {
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        let Some(url) = url else {
            // Its keys start with blobs/ and manifests/.
            return local(data_dir);
        };
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(url, "a file:// URL takes an absolute path (file:///…)"));
            }
            return local(Path::new(path));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad(url, "no bucket; expected s3://bucket/prefix"));
            }
            return s3(url, bucket, prefix.trim_matches('/'), s3_settings);
        }
        if url.contains("://") {
            return Err(bad(
                url,
                "unknown scheme; expected s3://bucket/prefix, file:///path or a path",
            ));
        }
        local(Path::new(url))
    }
}

fn bad(url: &str, why: impl std::fmt::Display) -> Error {
    Error::Config(format!("--blob-store {url}: {why}"))
}

/// A local directory, created when missing, whose `blobs/` and `manifests/` are private
/// (mode 0700): they hold held-back answers, and the process sandbox's users may share this
/// host. The directory itself stays as it is: `<data_dir>/cache`, beside them, is a bundle
/// cache that must let other users through.
fn local(dir: &Path) -> Result<BlobStore, Error> {
    use std::os::unix::fs::PermissionsExt;

    let what = dir.display().to_string();
    let dir: PathBuf = std::path::absolute(dir).map_err(|e| bad(&what, e))?;
    for private in ["blobs", "manifests"] {
        let sub = dir.join(private);
        std::fs::create_dir_all(&sub)
            .map_err(|e| bad(&what, format!("cannot create {}: {e}", sub.display())))?;
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            bad(
                &what,
                format!("cannot make {} private (mode 0700): {e}", sub.display()),
            )
        })?;
    }
    let fs = LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(&what, e))?;
    Ok(BlobStore::new(Arc::new(fs), ""))
}

#[cfg(feature = "s3")]
fn s3(
    url: &str,
    bucket: &str,
    prefix: &str,
    settings: &[(String, String)],
) -> Result<BlobStore, Error> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    for (key, value) in settings {
        let key: AmazonS3ConfigKey = key
            .parse()
            .map_err(|e| bad(url, format!("S3 setting {key}: {e}")))?;
        builder = builder.with_config(key, value);
    }
    let store = builder.build().map_err(|e| bad(url, e))?;
    Ok(BlobStore::new(Arc::new(store), prefix))
}

#[cfg(not(feature = "s3"))]
fn s3(url: &str, _: &str, _: &str, _: &[(String, String)]) -> Result<BlobStore, Error> {
    Err(bad(
        url,
        "this build has no S3 support (build aide-coordinator with its `s3` feature)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_store_and_unknown_schemes_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let default = BlobStore::from_url(None, &data_dir).expect("default");
        assert!(data_dir.is_dir(), "{default}");
        for private in ["blobs", "manifests"] {
            let meta = std::fs::metadata(data_dir.join(private)).expect(private);
            let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
            assert_eq!(
                mode & 0o777,
                0o700,
                "{private} is the coordinator's user's only"
            );
        }
        let url = format!("file://{}/elsewhere", dir.path().display());
        BlobStore::from_url(Some(&url), dir.path()).expect("file URL");
        assert!(dir.path().join("elsewhere").is_dir());
        for (url, says) in [
            ("gs://bucket/x", "unknown scheme"),
            ("file://relative/x", "absolute path"),
            ("s3:///prefix", "no bucket"),
        ] {
            let err = BlobStore::from_url(Some(url), dir.path()).expect_err(url);
            assert!(
                matches!(&err, Error::Config(m) if m.contains(says) && m.contains(url)),
                "{url}: {err}"
            );
        }
    }
}
