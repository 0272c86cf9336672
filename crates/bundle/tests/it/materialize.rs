//! Materializing: the files, their bytes and modes, what a sandbox uid can read, and the
//! manifests refused before anything is written.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::sync::Arc;

use aide_bundle::{BundleCache, CacheConfig, Error, SourceError};
use aide_core::bundle::{BundleFile, Limits, Manifest, Sha256Digest};

use crate::common::{Store, assert_tree, bytes, files_under, open, open_dir};

#[tokio::test]
async fn a_bundle_becomes_identical_files_with_their_exec_bits() {
    let store = Store::new();
    let big = bytes(3 << 20, 1);
    let files = [
        ("train.csv", &b"id,y\n1,2\n"[..], false),
        ("data/deep/nested/x.bin", &big[..], false),
        ("run.sh", &b"#!/bin/sh\necho hi\n"[..], true),
        ("empty", &b""[..], false),
        // The same bytes as run.sh, not executable: a separate blob file (one mode per inode).
        ("copy-of-run.sh", &b"#!/bin/sh\necho hi\n"[..], false),
    ];
    let (digest, manifest) = store.bundle(&files);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;

    let lease = cache
        .materialize(digest, &manifest)
        .await
        .expect("materialize");

    assert_eq!(
        lease.dir(),
        cache_dir.path().join("bundles").join(digest.to_string())
    );
    assert_tree(lease.dir(), &files);
    for dir in [lease.dir().to_owned(), lease.dir().join("data/deep")] {
        assert_eq!(
            fs::metadata(&dir).unwrap().mode() & 0o7777,
            0o755,
            "{}",
            dir.display()
        );
    }
    assert_eq!(
        fs::metadata(cache_dir.path()).unwrap().mode() & 0o7777,
        0o755
    );
    // run.sh and its copy are two blob files; each tree file is a link to its blob.
    assert_eq!(files_under(&cache_dir.path().join("blobs")).len(), 5);
    assert_eq!(
        fs::metadata(lease.dir().join("train.csv")).unwrap().nlink(),
        2
    );
    assert_eq!(cache.stored_bytes(), manifest.total_bytes());
    assert!(files_under(&cache_dir.path().join("tmp")).is_empty());
}

#[tokio::test]
async fn another_uid_reads_the_bundle_whatever_the_source_permissions() {
    if !aide_testkit::is_root() {
        aide_testkit::unavailable::<()>("root (to read as another uid)", "not root");
        return;
    }
    let store = Store::new();
    let files = [
        ("secret-looking/train.csv", &b"a,b\n"[..], false),
        ("go", &b"x"[..], true),
    ];
    let (digest, manifest) = store.bundle(&files);
    // The source's own files are private; the cache's copies must not be.
    fs::set_permissions(store.dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;
    let lease = cache.materialize(digest, &manifest).await.unwrap();

    let output = std::process::Command::new("cat")
        .arg(lease.dir().join("secret-looking/train.csv"))
        .uid(65534)
        .gid(65534)
        .output()
        .expect("run cat as nobody");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout, b"a,b\n");
    let write = std::process::Command::new("sh")
        .args(["-c", "echo more >> go || exit 3; touch new && exit 4"])
        .current_dir(lease.dir())
        .uid(65534)
        .gid(65534)
        .status()
        .expect("run sh as nobody");
    assert_eq!(
        write.code(),
        Some(3),
        "the bundle must be read-only to a sandbox uid"
    );
}

#[tokio::test]
async fn a_manifest_that_does_not_hash_to_the_digest_is_refused() {
    let store = Store::new();
    let (_, manifest) = store.bundle(&[("a", b"1", false)]);
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;
    let other = Sha256Digest([9; 32]);

    let err = cache.materialize(other, &manifest).await.unwrap_err();

    assert!(
        matches!(err, Error::ManifestDigest { asked, .. } if asked == other),
        "{err}"
    );
    assert!(files_under(&cache_dir.path().join("blobs")).is_empty());
}

#[tokio::test]
async fn an_unclean_path_is_refused_before_anything_is_written() {
    let store = Store::new();
    let sha256 = store.source.insert(b"x").unwrap();
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;
    for bad in ["../escape", "/etc/cron.d/x", "a/../../b", "a//b"] {
        // Built by hand, as a buggy caller could, skipping Manifest::from_files.
        let manifest = Manifest {
            files: vec![BundleFile {
                path: bad.into(),
                size: 1,
                sha256,
                executable: false,
            }],
        };
        let err = cache
            .materialize(manifest.digest(), &manifest)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::UnsafePath { path } if path == bad),
            "{bad}: {err}"
        );
    }
    assert!(files_under(&cache_dir.path().join("blobs")).is_empty());
    assert!(!cache_dir.path().join("escape").exists());
}

#[tokio::test]
async fn a_blob_the_source_lacks_is_an_error_naming_it() {
    let store = Store::new();
    let missing = Sha256Digest([7; 32]);
    let manifest = Manifest::from_files(
        vec![BundleFile {
            path: "gone.csv".into(),
            size: 4,
            sha256: missing,
            executable: false,
        }],
        &Limits::default(),
    )
    .unwrap();
    let cache_dir = open_dir();
    let cache = open(cache_dir.path(), 1 << 30, store.arc()).await;

    let err = cache
        .materialize(manifest.digest(), &manifest)
        .await
        .unwrap_err();

    assert!(err.to_string().contains(&missing.to_string()), "{err}");
    assert!(
        matches!(err.original(), Error::Source { digest, source: SourceError::NotFound } if *digest == missing),
        "{err:?}"
    );
    assert!(
        !cache_dir
            .path()
            .join("bundles")
            .join(manifest.digest().to_string())
            .exists()
    );
}

#[tokio::test]
async fn an_imported_directory_materializes_identically() {
    let task = open_dir();
    fs::create_dir_all(task.path().join("input/sub")).unwrap();
    fs::write(task.path().join("input/sub/a.csv"), bytes(70_000, 3)).unwrap();
    fs::write(task.path().join("task.toml"), b"goal = \"x\"\n").unwrap();
    fs::write(task.path().join("prep.sh"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(
        task.path().join("prep.sh"),
        fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let store = Store::new();
    let manifest = store
        .source
        .import_dir(task.path(), &Limits::default())
        .unwrap();
    let cache_dir = open_dir();
    let cache = BundleCache::open(
        CacheConfig {
            dir: cache_dir.path().join("nested/cache"),
            max_bytes: 1 << 30,
        },
        Arc::new(store.source.clone()),
    )
    .await
    .unwrap();

    let lease = cache
        .materialize(manifest.digest(), &manifest)
        .await
        .unwrap();

    let a = bytes(70_000, 3);
    assert_tree(
        lease.dir(),
        &[
            ("input/sub/a.csv", &a, false),
            ("task.toml", b"goal = \"x\"\n", false),
            ("prep.sh", b"#!/bin/sh\n", true),
        ],
    );
}
