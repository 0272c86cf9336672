//! The file tree of the preview: a bounded walk of the directory (or a tree built from a
//! listing of files) and its rendering.
//!
//! Hidden entries (names starting with `.`) are skipped, entries are sorted by name (files
//! before subdirectories), symlinked directories are not followed, and every directory
//! carries its total file count and size so that elided parts still tell their weight.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::{PreviewOptions, human_size};

/// A file found by the walk; `rel_path` uses `/` whatever the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileEntry {
    pub name: String,
    pub rel_path: String,
    pub size: u64,
    /// Its metadata could not be read (a dangling symlink, say).
    pub unreadable: bool,
}

/// A directory found by the walk, with totals over everything below it.
#[derive(Debug, Clone, Default)]
pub(super) struct DirNode {
    pub name: String,
    pub files: Vec<FileEntry>,
    pub dirs: Vec<DirNode>,
    pub total_files: u64,
    pub total_bytes: u64,
    /// Why the directory could not be listed, if it could not.
    pub error: Option<String>,
    /// The walk stopped early somewhere below (too many entries): totals are lower bounds.
    pub incomplete: bool,
    /// Symlinks to directories, listed by name only.
    pub linked_dirs: Vec<String>,
}

/// Walks `dir`, examining at most `options.max_scanned_entries` entries.
pub(super) fn walk(dir: &Path, options: &PreviewOptions) -> DirNode {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let mut budget = options.max_scanned_entries;
    walk_dir(dir, name, "", 0, &mut budget)
}

/// The tree of files listed as `(relative path, size)`, `/`-separated, under a root named
/// `name`: the same shape and order as a walk of a directory holding them, hidden entries
/// skipped, at most `options.max_scanned_entries` files.
pub(super) fn from_listing(
    name: &str,
    files: &[(String, u64)],
    options: &PreviewOptions,
) -> DirNode {
    let mut root = Listed::default();
    for (taken, (rel_path, size)) in files.iter().enumerate() {
        if taken == options.max_scanned_entries {
            root.incomplete = true;
            break;
        }
        let parts: Vec<&str> = rel_path.split('/').collect();
        if parts.iter().any(|p| p.starts_with('.') || p.is_empty()) {
            continue;
        }
        let (file_name, dirs) = parts.split_last().expect("split yields one part");
        if dirs.len() > MAX_WALK_DEPTH {
            root.incomplete = true;
            continue;
        }
        let node = dirs.iter().fold(&mut root, |node, dir| {
            node.dirs.entry((*dir).to_owned()).or_default()
        });
        node.files.push(FileEntry {
            name: (*file_name).to_owned(),
            rel_path: rel_path.clone(),
            size: *size,
            unreadable: false,
        });
    }
    root.into_node(name.to_owned())
}

/// A directory of a listing being gathered, its subdirectories by name.
#[derive(Default)]
struct Listed {
    files: Vec<FileEntry>,
    dirs: BTreeMap<String, Listed>,
    incomplete: bool,
}

impl Listed {
    /// The directory as a walk would have found it: sorted, totals summed from the leaves.
    fn into_node(mut self, name: String) -> DirNode {
        self.files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut node = DirNode {
            name,
            total_files: self.files.len() as u64,
            total_bytes: self.files.iter().map(|f| f.size).sum(),
            files: self.files,
            incomplete: self.incomplete,
            ..DirNode::default()
        };
        for (name, child) in self.dirs {
            let child = child.into_node(name);
            node.total_files += child.total_files;
            node.total_bytes += child.total_bytes;
            node.incomplete |= child.incomplete;
            node.dirs.push(child);
        }
        node
    }
}

/// Directory levels walked at most; deeper directories count as not fully walked.
const MAX_WALK_DEPTH: usize = 32;

fn walk_dir(dir: &Path, name: String, rel: &str, depth: usize, budget: &mut usize) -> DirNode {
    let mut node = DirNode {
        name,
        ..DirNode::default()
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            node.error = Some(e.kind().to_string());
            return node;
        }
    };
    let mut subdirs = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        if *budget == 0 {
            node.incomplete = true;
            break;
        }
        *budget -= 1;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // Follow symlinks for files; never recurse into linked directories (loops).
        let meta = fs::metadata(entry.path());
        match meta {
            Ok(meta) if meta.is_dir() && file_type.is_symlink() => node.linked_dirs.push(name),
            Ok(meta) if meta.is_dir() => subdirs.push((name, rel_path)),
            Ok(meta) => node.files.push(FileEntry {
                name,
                rel_path,
                size: meta.len(),
                unreadable: false,
            }),
            Err(_) => node.files.push(FileEntry {
                name,
                rel_path,
                size: 0,
                unreadable: true,
            }),
        }
    }
    node.files.sort_by(|a, b| a.name.cmp(&b.name));
    subdirs.sort();
    node.linked_dirs.sort();
    node.total_files = node.files.len() as u64;
    node.total_bytes = node.files.iter().map(|f| f.size).sum();
    for (name, rel_path) in subdirs {
        if depth >= MAX_WALK_DEPTH {
            node.incomplete = true;
            node.dirs.push(DirNode {
                name,
                incomplete: true,
                ..DirNode::default()
            });
            continue;
        }
        let child = walk_dir(&dir.join(&name), name, &rel_path, depth + 1, budget);
        node.total_files += child.total_files;
        node.total_bytes += child.total_bytes;
        node.incomplete |= child.incomplete;
        node.dirs.push(child);
    }
    node
}

/// The tree as indented text, showing at most `per_dir` entries per directory and
/// expanding `max_depth` levels below the root.
pub(super) fn render(root: &DirNode, per_dir: usize, max_depth: usize) -> String {
    let mut out = String::from("## Files\n");
    render_dir(root, 0, per_dir, max_depth, &mut out);
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

fn render_dir(node: &DirNode, depth: usize, per_dir: usize, max_depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let at_least = if node.incomplete { "at least " } else { "" };
    let _ = write!(
        out,
        "{indent}{}/  ({at_least}{} {}, {})",
        node.name,
        node.total_files,
        plural(node.total_files, "file"),
        human_size(node.total_bytes)
    );
    if let Some(error) = &node.error {
        let _ = write!(out, " [unreadable: {error}]");
    }
    if depth > max_depth && !(node.files.is_empty() && node.dirs.is_empty()) {
        out.push_str(" [not expanded]\n");
        return;
    }
    out.push('\n');
    let child_indent = "  ".repeat(depth + 1);
    let (files, dirs) = split_shown(node, per_dir);
    for file in &node.files[..files] {
        if file.unreadable {
            let _ = writeln!(out, "{child_indent}{}  (unreadable)", file.name);
        } else {
            let _ = writeln!(
                out,
                "{child_indent}{}  ({})",
                file.name,
                human_size(file.size)
            );
        }
    }
    for dir in &node.dirs[..dirs] {
        render_dir(dir, depth + 1, per_dir, max_depth, out);
    }
    let hidden_files = &node.files[files..];
    let hidden_dirs = &node.dirs[dirs..];
    if !hidden_files.is_empty() {
        let bytes: u64 = hidden_files.iter().map(|f| f.size).sum();
        let _ = writeln!(
            out,
            "{child_indent}... and {} more {} ({}{})",
            hidden_files.len(),
            plural(hidden_files.len() as u64, "file"),
            extension_summary(hidden_files),
            human_size(bytes)
        );
    }
    if !hidden_dirs.is_empty() {
        let files: u64 = hidden_dirs.iter().map(|d| d.total_files).sum();
        let _ = writeln!(
            out,
            "{child_indent}... and {} more {} (holding {files} {})",
            hidden_dirs.len(),
            plural(hidden_dirs.len() as u64, "directory"),
            plural(files, "file")
        );
    }
    for linked in &node.linked_dirs {
        let _ = writeln!(out, "{child_indent}{linked}/  (symlink, not followed)");
    }
}

/// How many files and subdirectories of `node` are shown with `per_dir` entries.
fn split_shown(node: &DirNode, per_dir: usize) -> (usize, usize) {
    let files = node.files.len().min(per_dir);
    let dirs = node.dirs.len().min(per_dir - files);
    (files, dirs)
}

/// "812 .png, 3 .txt, 1 other, " for the hidden files of a directory (top three).
fn extension_summary(files: &[FileEntry]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for file in files {
        let ext = match file.name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => format!(".{}", ext.to_ascii_lowercase()),
            _ => "no extension".to_string(),
        };
        *counts.entry(ext).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = String::new();
    for (ext, n) in counts.iter().take(3) {
        let _ = write!(out, "{n} {ext}, ");
    }
    let rest: usize = counts.iter().skip(3).map(|(_, n)| n).sum();
    if rest > 0 {
        let _ = write!(out, "{rest} other, ");
    }
    out
}

/// The files visible in the tree rendered with these limits, in display order.
pub(super) fn shown_files(root: &DirNode, per_dir: usize, max_depth: usize) -> Vec<&FileEntry> {
    let mut out = Vec::new();
    collect_shown(root, 0, per_dir, max_depth, &mut out);
    out
}

fn collect_shown<'a>(
    node: &'a DirNode,
    depth: usize,
    per_dir: usize,
    max_depth: usize,
    out: &mut Vec<&'a FileEntry>,
) {
    if depth > max_depth {
        return;
    }
    let (files, dirs) = split_shown(node, per_dir);
    out.extend(node.files[..files].iter().filter(|f| !f.unreadable));
    for dir in &node.dirs[..dirs] {
        collect_shown(dir, depth + 1, per_dir, max_depth, out);
    }
}

pub(super) fn plural(n: u64, word: &str) -> String {
    match (n, word) {
        (1, _) => word.to_string(),
        (_, "directory") => "directories".to_string(),
        _ => format!("{word}s"),
    }
}
