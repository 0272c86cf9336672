//! Manifests of real directories: content, order, digest stability, and every refusal.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;
use crate::Error;

const HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn task_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("train.csv"), "hello").expect("write");
    fs::write(dir.path().join("empty.txt"), "").expect("write");
    fs::create_dir(dir.path().join("sub")).expect("mkdir");
    fs::write(dir.path().join("sub/run.sh"), "#!/bin/sh\n").expect("write");
    fs::set_permissions(
        dir.path().join("sub/run.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    dir
}

fn refusal(result: crate::Result<Manifest>) -> (std::path::PathBuf, Refusal) {
    match result {
        Err(Error::InvalidBundle { path, refusal }) => (path, refusal),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn files_are_listed_in_path_order_with_size_sha256_and_mode() {
    let dir = task_dir();
    let manifest = Manifest::of_dir(dir.path(), &Limits::default()).expect("manifest");
    let listed: Vec<(&str, u64, String, bool)> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.size, f.sha256.to_string(), f.executable))
        .collect();
    assert_eq!(
        listed,
        [
            ("empty.txt", 0, EMPTY.to_owned(), false),
            ("sub/run.sh", 10, listed[1].2.clone(), true),
            ("train.csv", 5, HELLO.to_owned(), false),
        ]
    );
    assert_eq!(manifest.total_bytes(), 15);
}

#[test]
fn the_digest_names_the_content_not_the_location() {
    let (a, b) = (task_dir(), task_dir());
    let of = |d: &Path| Manifest::of_dir(d, &Limits::default()).expect("manifest");
    assert_eq!(of(a.path()).digest(), of(b.path()).digest());
    fs::write(b.path().join("train.csv"), "hellO").expect("write");
    assert_ne!(of(a.path()).digest(), of(b.path()).digest());
    let c = task_dir();
    fs::set_permissions(
        c.path().join("train.csv"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    assert_ne!(of(a.path()).digest(), of(c.path()).digest());
}

#[test]
fn links_inside_are_followed_once_and_links_outside_are_refused_by_name() {
    let dir = task_dir();
    symlink(dir.path().join("train.csv"), dir.path().join("alias.csv")).expect("link");
    symlink(dir.path(), dir.path().join("sub/loop")).expect("link");
    let manifest = Manifest::of_dir(dir.path(), &Limits::default()).expect("manifest");
    let alias = manifest
        .files
        .iter()
        .find(|f| f.path == "alias.csv")
        .expect("alias");
    assert_eq!(alias.sha256.to_string(), HELLO);
    assert!(manifest.files.iter().all(|f| !f.path.contains("loop/")));

    let outside = tempfile::tempdir().expect("tempdir");
    fs::write(outside.path().join("secret"), "keys").expect("write");
    symlink(outside.path().join("secret"), dir.path().join("sub/leak")).expect("link");
    let (path, why) = refusal(Manifest::of_dir(dir.path(), &Limits::default()));
    assert!(path.ends_with("sub/leak"), "{path:?}");
    assert!(matches!(why, Refusal::EscapingSymlink { .. }), "{why}");
    assert!(why.to_string().contains("outside the task directory"));
}

#[test]
fn a_fifo_is_refused_with_its_path() {
    let dir = task_dir();
    let fifo = dir.path().join("sub/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let (path, why) = refusal(Manifest::of_dir(dir.path(), &Limits::default()));
    assert_eq!(path, fifo);
    assert_eq!(why, Refusal::NotRegular { kind: "FIFO" });
}

#[test]
fn limits_on_count_and_size_are_refusals_naming_the_file() {
    let dir = task_dir();
    let few = Limits {
        max_files: 2,
        ..Limits::default()
    };
    let (path, why) = refusal(Manifest::of_dir(dir.path(), &few));
    assert!(path.ends_with("train.csv"), "the third file: {path:?}");
    assert_eq!(why, Refusal::TooManyFiles { limit: 2 });
    let small = Limits {
        max_file_bytes: 9,
        ..Limits::default()
    };
    let (path, why) = refusal(Manifest::of_dir(dir.path(), &small));
    assert!(path.ends_with("sub/run.sh"), "{path:?}");
    assert_eq!(why, Refusal::FileTooLarge { size: 10, limit: 9 });
    let total = Limits {
        max_total_bytes: 12,
        ..Limits::default()
    };
    let (path, why) = refusal(Manifest::of_dir(dir.path(), &total));
    assert!(path.ends_with("train.csv"), "{path:?}");
    assert_eq!(why, Refusal::TotalTooLarge { limit: 12 });
}

#[test]
fn digests_print_parse_and_serialise_as_hex() {
    let digest: Sha256Digest = HELLO.parse().expect("parse");
    assert_eq!(digest.to_string(), HELLO);
    assert_eq!(HELLO.to_uppercase().parse::<Sha256Digest>(), Ok(digest));
    let json = serde_json::to_string(&digest).expect("json");
    assert_eq!(json, format!("\"{HELLO}\""));
    assert_eq!(
        serde_json::from_str::<Sha256Digest>(&json).expect("back"),
        digest
    );
    assert!("abc".parse::<Sha256Digest>().is_err());
    assert!(HELLO.replace('2', "g").parse::<Sha256Digest>().is_err());
}

#[test]
fn a_single_file_is_a_one_file_bundle_that_points_back_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.csv");
    fs::write(&answers, "hello").unwrap();
    fs::write(dir.path().join("other.csv"), "not part of it").unwrap();
    let bundle = LocalBundle::of(&answers, &Limits::default()).unwrap();
    assert_eq!(bundle.manifest.files.len(), 1);
    let entry = &bundle.manifest.files[0];
    assert_eq!(entry.path, "answers.csv");
    assert_eq!(entry.sha256.to_string(), HELLO);
    assert_eq!(bundle.source_of(entry), answers.canonicalize().unwrap());
}
