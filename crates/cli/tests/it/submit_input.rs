//! `aide submit` of bad task data against a real `aide serve`: each refusal is exit 2 with
//! the offending path named, and leaves nothing half-stored (no manifest, no run, and for a
//! task over `--max-task-bytes` no blob at all); a 0-byte file is fine; two clients pushing
//! one task at once store its blobs once; an upload killed mid-stream leaves no partial blob,
//! and the retry sends only what is missing.

use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use aide_core::bundle::{Limits, Manifest};
use serde_json::Value;

use crate::serve_support::Server;
use crate::support::stderr;

/// A task directory `<root>/<name>` with a `task.toml` and `data/a.csv`.
fn task(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("data")).expect("task dir");
    std::fs::write(
        dir.join("task.toml"),
        "goal = \"Predict y.\"\n[submission]\nrequired = false\n",
    )
    .expect("task.toml");
    std::fs::write(dir.join("data/a.csv"), "x,y\n1,2\n").expect("a.csv");
    dir
}

/// The files under `dir`, recursively (none when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// What the server holds: its blobs, its manifests and its runs.
struct Stored {
    blobs: Vec<PathBuf>,
    manifests: Vec<PathBuf>,
    runs: usize,
}

fn stored(server: &Server) -> Stored {
    let data = server.dir.path().join("data");
    let listed = server.client(&["ls", "--json"]);
    let runs: Value = serde_json::from_slice(&listed.stdout).expect("ls --json");
    Stored {
        blobs: files_under(&data.join("blobs")),
        manifests: files_under(&data.join("manifests")),
        runs: runs.as_array().expect("an array").len(),
    }
}

/// Every stored blob holds the bytes its name is the sha256 of.
fn assert_blobs_whole(server: &Server) {
    for blob in files_under(&server.dir.path().join("data/blobs")) {
        let name = blob
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let hashed = Manifest::of_dir(&blob, &Limits::default()).expect("hash");
        assert_eq!(
            hashed.files[0].sha256.to_string(),
            name,
            "{} is not whole",
            blob.display()
        );
    }
}

fn submit(server: &Server, task: &Path, extra: &[&str]) -> Output {
    let task = task.to_str().expect("a UTF-8 temp path");
    let mut args = vec!["submit", task, "--steps", "1"];
    args.extend_from_slice(extra);
    server.client(&args)
}

/// Submits `task`, expects exit 2 naming `path` and `why`, and that nothing was stored.
fn assert_refused(server: &Server, task: &Path, extra: &[&str], path: &str, why: &str) {
    let before = stored(server);
    let out = submit(server, task, extra);
    assert_eq!(out.status.code(), Some(2), "bad input is exit 2");
    let text = stderr(&out);
    assert!(text.contains(path), "names {path}: {text}");
    assert!(text.contains(why), "says {why:?}: {text}");
    let after = stored(server);
    assert_eq!(after.manifests, before.manifests, "no manifest stored");
    assert_eq!(after.runs, before.runs, "no run created");
    assert_eq!(after.blobs, before.blobs, "nothing uploaded");
}

/// Cancels the run printed by a successful submit, so it does not load the machine.
fn created_run(server: &Server, out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    server.client(&["cancel", &id]);
    id
}

#[test]
fn submit_refuses_bad_task_data_naming_the_path_and_storing_nothing() {
    let Some(server) = Server::start() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");

    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "server secrets").expect("secret");
    let linked = task(root.path(), "linked");
    std::os::unix::fs::symlink(&secret, linked.join("data/leak")).expect("symlink");
    assert_refused(
        &server,
        &linked,
        &[],
        "linked/data/leak",
        "outside the task directory",
    );

    let piped = task(root.path(), "piped");
    nix::unistd::mkfifo(&piped.join("data/pipe"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
    assert_refused(&server, &piped, &[], "piped/data/pipe", "a FIFO");

    let odd = task(root.path(), "odd");
    let name = std::ffi::OsStr::from_bytes(b"bad\xffname.csv");
    std::fs::write(odd.join("data").join(name), "x\n").expect("non-UTF-8 name");
    assert_refused(&server, &odd, &[], "odd/data/bad", "not UTF-8");

    let many = task(root.path(), "many");
    for i in 0..100_000 {
        let dir = many.join(format!("data/d{}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&dir).expect("dir");
        }
        std::fs::write(dir.join(format!("f{i}")), i.to_string()).expect("small file");
    }
    assert_refused(&server, &many, &[], "many/data/", "more than 50000 files");

    let big = task(root.path(), "big");
    std::fs::write(big.join("data/b.bin"), vec![7u8; 4000]).expect("big file");
    assert_refused(
        &server,
        &big,
        &["--max-task-bytes", "1000"],
        "big/data/b.bin",
        "pass 1000 bytes in all",
    );
}

#[test]
fn an_empty_file_is_uploaded_and_listed_in_the_stored_manifest() {
    let Some(server) = Server::start() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let empty = task(root.path(), "empty");
    std::fs::write(empty.join("data/empty.txt"), "").expect("empty file");
    let before = stored(&server);
    created_run(&server, &submit(&server, &empty, &[]));
    let after = stored(&server);
    assert_eq!(after.runs, before.runs + 1, "the run is created");
    let digest = Manifest::of_dir(&empty.join("data"), &Limits::default())
        .expect("manifest")
        .digest();
    let json = std::fs::read(server.dir.path().join(format!("data/manifests/{digest}")))
        .expect("the task's manifest is stored");
    let manifest: Manifest = serde_json::from_slice(&json).expect("a manifest");
    let file = manifest.files.iter().find(|f| f.path == "empty.txt");
    assert_eq!(file.map(|f| f.size), Some(0), "{manifest:?}");
    assert_blobs_whole(&server);
}

/// Fills `dir/data` with `count` distinct files of `mib` MiB each.
fn distinct_files(dir: &Path, count: usize, mib: usize) {
    for i in 0..count {
        let mut bytes = vec![0u8; mib << 20];
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
        for chunk in bytes.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(dir.join(format!("data/part{i}.bin")), bytes).expect("data file");
    }
}

#[test]
fn two_clients_pushing_one_task_at_once_store_it_once() {
    let Some(server) = Server::start() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let shared = task(root.path(), "shared");
    distinct_files(&shared, 6, 4);
    let before = stored(&server);
    let spawn = || {
        server
            .aide()
            .args(["submit", shared.to_str().expect("UTF-8"), "--steps", "1"])
            .args(["--server", &server.url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn aide submit")
    };
    let (first, second) = (spawn(), spawn());
    let first = first.wait_with_output().expect("first submit");
    let second = second.wait_with_output().expect("second submit");
    eprintln!("{}\n{}", stderr(&first), stderr(&second));
    let ids = [created_run(&server, &first), created_run(&server, &second)];
    assert_ne!(ids[0], ids[1], "two runs");
    let after = stored(&server);
    assert_eq!(after.runs, before.runs + 2, "both runs created");
    assert_eq!(
        after.blobs.len(),
        before.blobs.len() + 7,
        "each of the 7 files stored once: {:?}",
        after.blobs
    );
    assert_eq!(
        after.manifests.len(),
        before.manifests.len() + 1,
        "one manifest for both"
    );
    let digest = Manifest::of_dir(&shared.join("data"), &Limits::default())
        .expect("manifest")
        .digest();
    assert!(
        after
            .manifests
            .iter()
            .any(|m| m.ends_with(digest.to_string()))
    );
    assert_blobs_whole(&server);
}

/// The share of the upload a progress line reports, as in "… (40%), …".
fn percent(line: &str) -> Option<u32> {
    let open = line.rfind('(')?;
    let close = line[open..].find("%)")? + open;
    line[open + 1..close].parse().ok()
}

#[test]
fn an_upload_killed_mid_stream_leaves_no_partial_blob_and_the_retry_sends_the_rest() {
    let Some(server) = Server::start() else {
        return;
    };
    let root = tempfile::tempdir().expect("temp dir");
    let large = task(root.path(), "large");
    distinct_files(&large, 12, 32);
    let before = stored(&server);

    let mut child = server
        .aide()
        .args(["submit", large.to_str().expect("UTF-8"), "--steps", "1"])
        .args(["--server", &server.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn aide submit");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("submit ended before 60% was sent:\n{seen}"))
            .expect("a line");
        seen.push_str(&line);
        seen.push('\n');
        if percent(&line).is_some_and(|p| p >= 60) {
            break;
        }
    }
    child.kill().expect("kill aide submit");
    child.wait().expect("reap");
    assert!(
        !seen.contains("uploaded "),
        "killed before the end:\n{seen}"
    );

    // The server notices the broken streams and drops their partial uploads.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while files_under(&server.dir.path().join("data/blobs"))
        .iter()
        .any(|p| p.to_string_lossy().contains('#'))
    {
        assert!(std::time::Instant::now() < deadline, "partial uploads stay");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let cut = stored(&server);
    assert_eq!(cut.manifests, before.manifests, "no manifest stored");
    assert_eq!(cut.runs, before.runs, "no run created");
    assert_blobs_whole(&server);
    let kept = cut.blobs.len() - before.blobs.len();
    assert!((1..13).contains(&kept), "{kept} of 13 blobs kept");

    let retried = submit(&server, &large, &[]);
    created_run(&server, &retried);
    let text = stderr(&retried);
    let missing = 13 - kept;
    assert!(
        text.contains(&format!("uploading {missing} of 13 files")),
        "only the {missing} missing blobs are sent: {text}"
    );
    let after = stored(&server);
    assert_eq!(after.blobs.len(), before.blobs.len() + 13);
    assert_eq!(after.runs, before.runs + 1);
    assert_blobs_whole(&server);
}
