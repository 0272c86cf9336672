//! Tar archives between the runner and containers, the only way files cross into or out of a
//! sandbox: a bundle directory streamed in as a tar built on a blocking thread (bounded
//! memory: a few 64 KiB chunks in flight), the attempt's script and empty `working/`, and
//! the reading side of `download_from_container` answers (a listing of `working/` and one
//! file cut at a size limit). Entries carry explicit owners and modes, because the daemon
//! extracts them with the owner written in the header.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use aide_proto::v1::CollectedFile;
use futures::{Stream, TryStreamExt};
use tokio::sync::mpsc;
use tokio_util::{
    bytes::Bytes,
    io::{StreamReader, SyncIoBridge},
};

use crate::collect;

/// Size of the chunks a tar is streamed in.
const CHUNK: usize = 64 << 10;

/// The tar of every file under `dir` (sorted, directories 0755, files 0444 or 0555, owned by
/// root), streamed as it is built. Symbolic links to regular files are followed (their
/// content is copied); anything else but files and directories fails the stream. A failure
/// ends the stream with an error, never with a shorter archive that looks complete.
pub fn dir_stream(dir: PathBuf) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let written = (|| {
            let mut tar = tar::Builder::new(&mut out);
            append_tree(&mut tar, &dir, Path::new(""))?;
            tar.into_inner()?.flush()
        })();
        if let Err(e) = written {
            let _ = tx.blocking_send(Err(io::Error::new(
                e.kind(),
                format!("archiving {}: {e}", dir.display()),
            )));
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

fn append_tree<W: Write>(tar: &mut tar::Builder<W>, root: &Path, rel: &Path) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tar.append_data(
                &mut header(tar::EntryType::Directory, 0o755, 0),
                &rel,
                io::empty(),
            )?;
            append_tree(tar, root, &rel)?;
            continue;
        }
        // Follows a symbolic link; a link to a directory is refused like a device.
        let meta = fs::metadata(entry.path())?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", rel.display()),
            ));
        }
        let exec = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
        let mode = if exec { 0o555 } else { 0o444 };
        let mut h = header(tar::EntryType::Regular, mode, 0);
        h.set_size(meta.len());
        // The size is fixed in the header: a file changing meanwhile fails the archive.
        let file = fs::File::open(entry.path())?;
        tar.append_data(&mut h, &rel, file.take(meta.len()))?;
    }
    Ok(())
}

/// The attempt's tar for `/sandbox`: `solution.py` (root, 0444) and an empty `working/`
/// owned by `owner` (uid, gid), or open to everyone when the sandbox user is not numeric.
pub fn attempt(code: &[u8], owner: Option<(u32, u32)>) -> io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Regular, 0o444, 0);
    h.set_size(code.len() as u64);
    tar.append_data(&mut h, crate::workspace::SCRIPT, code)?;
    let mut h = match owner {
        Some((uid, gid)) => {
            let mut h = header(tar::EntryType::Directory, 0o755, uid);
            h.set_gid(u64::from(gid));
            h
        }
        None => header(tar::EntryType::Directory, 0o777, 0),
    };
    tar.append_data(&mut h, "working", io::empty())?;
    tar.into_inner()
}

fn header(kind: tar::EntryType, mode: u32, uid: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(u64::from(uid));
    h.set_gid(u64::from(uid));
    h.set_mtime(0);
    h.set_size(0);
    h
}

/// Turns a daemon byte stream into a blocking reader (for use on a blocking thread only).
pub fn blocking_reader<S, E>(stream: S) -> impl Read + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    SyncIoBridge::new(StreamReader::new(stream.map_err(io::Error::other)))
}

/// Reads the tar of `working/` (as the daemon sends it: entries under `working/`) and
/// returns, for each pattern, the regular files it matches; each list is cut to the
/// [`collect::MAX_FILES`] smallest names, so a script creating a million files costs no
/// memory. Symbolic links are never listed and the archive does not descend into them.
pub fn matches_in(tar: impl Read, patterns: &[String]) -> io::Result<Vec<Vec<String>>> {
    let compiled: Vec<_> = patterns
        .iter()
        .map(|p| glob::Pattern::new(p).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e)))
        .collect::<Result<_, _>>()?;
    let mut found = vec![std::collections::BTreeSet::new(); compiled.len()];
    for entry in tar::Archive::new(tar).entries()? {
        let entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path()?;
        let Ok(name) = path.strip_prefix("working") else {
            continue;
        };
        let name = name.to_string_lossy();
        for (pattern, set) in compiled.iter().zip(&mut found) {
            if collect::matches(pattern, &name) {
                set.insert(name.to_string());
                if set.len() > collect::MAX_FILES {
                    set.pop_last();
                }
            }
        }
    }
    Ok(found.into_iter().map(|s| s.into_iter().collect()).collect())
}

/// Reads the tar of one file (`name` is its path under `working/`): its first `cap` bytes
/// and its size; `None` when the path is not a regular file.
pub fn read_one(tar: impl Read, name: &str, cap: u64) -> io::Result<Option<CollectedFile>> {
    let mut archive = tar::Archive::new(tar);
    let Some(entry) = archive.entries()?.next() else {
        return Ok(None);
    };
    let entry = entry?;
    if entry.header().entry_type() != tar::EntryType::Regular {
        return Ok(None);
    }
    let size = entry.header().size()?;
    let mut content = Vec::new();
    entry.take(cap).read_to_end(&mut content)?;
    Ok(Some(CollectedFile {
        path: name.to_string(),
        truncated: (content.len() as u64) < size,
        content,
        size,
    }))
}

/// Collects the chunks of a blocking tar writer into the channel of a stream.
struct ChunkWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload ended"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_directory_streams_as_a_tar_with_fixed_owners_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/b.csv"), vec![7u8; 200_000]).unwrap();
        fs::write(dir.path().join("a.txt"), "a").unwrap();
        let bytes: Vec<u8> = dir_stream(dir.path().to_path_buf())
            .map(|c| c.unwrap().to_vec())
            .concat()
            .await;
        let mut seen = Vec::new();
        for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            seen.push((
                e.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.size().unwrap(),
            ));
        }
        assert_eq!(
            seen,
            [
                ("a.txt".into(), 0o444, 0, 1),
                ("sub".into(), 0o755, 0, 0),
                ("sub/b.csv".into(), 0o444, 0, 200_000)
            ]
        );
        let listing = matches_in(&attempt_with_files()[..], &["*.csv".into()]).unwrap();
        assert_eq!(listing, [vec!["s.csv".to_string()]]);
    }

    #[tokio::test]
    async fn a_fifo_fails_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&dir.path().join("p"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let items: Vec<_> = dir_stream(dir.path().to_path_buf()).collect().await;
        assert!(items.last().unwrap().is_err());
    }

    fn attempt_with_files() -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, kind) in [
            ("working", tar::EntryType::Directory),
            ("working/s.csv", tar::EntryType::Regular),
            ("working/d/t.csv", tar::EntryType::Regular),
            ("working/l.csv", tar::EntryType::Symlink),
        ] {
            let mut h = header(kind, 0o644, 0);
            if kind == tar::EntryType::Symlink {
                h.set_link_name("/etc/passwd").unwrap();
            }
            tar.append_data(&mut h, name, io::empty()).unwrap();
        }
        tar.into_inner().unwrap()
    }
}
