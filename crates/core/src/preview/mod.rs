//! Data preview of a task directory, as shown to the author in draft and debug prompts.
//!
//! [`preview_dir`] renders a markdown-ish overview for an LLM: the file tree (sorted, hidden
//! files skipped, per-directory limits, human sizes), then one section per described file:
//! CSV/TSV column profiles (`table`), JSON structure (`json`) and text heads (`text`).
//! [`preview_listing`] renders the same overview of files listed with their sizes and read
//! through a [`HeadSource`] (a stored bundle: only the heads of described files are fetched).
//! The result fits [`PreviewOptions::max_tokens`], counted with the options' [`TokenCounter`]:
//! sections are compacted largest-saving first (each rendering counted once), and only then
//! is the text cut at a line boundary with a marker.

mod column;
mod heads;
mod json;
mod table;
mod text;
mod tree;

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::tokens::TokenCounter;

pub use heads::{Head, HeadSource, InPlace, TABLE_HEAD_BYTES};

/// The default budget of a preview, in tokens: a profile of numeric columns takes about a
/// token for 2.5 characters and prose one for four, so this is some 5,000 to 8,000
/// characters, about the reference's 6,000-character preview; the per-column profiles of
/// the breast-cancer example's 30 columns (1,937 tokens) fit whole.
pub const DEFAULT_MAX_TOKENS: usize = 2_000;

/// Limits of the preview; [`Default`] suits a prompt's data-overview section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewOptions {
    /// Upper bound on the tokens of the whole preview.
    pub max_tokens: usize,
    /// What counts the tokens (clones share one loaded encoding).
    pub tokens: TokenCounter,
    /// Entries shown per directory in the tree before "... and K more".
    pub max_entries_per_dir: usize,
    /// Directory levels expanded below the root; deeper ones are summarised.
    pub max_depth: usize,
    /// Entries examined while walking before the walk stops (protects huge trees).
    pub max_scanned_entries: usize,
    /// Files given their own section, in tree order.
    pub max_described_files: usize,
    /// Data rows of one CSV/TSV file whose cells are profiled (the first ones).
    pub max_csv_rows: usize,
    /// Cells of one CSV/TSV file profiled: wide tables profile fewer rows.
    pub max_csv_cells: usize,
    /// Data rows of one CSV/TSV file counted; beyond it the total is estimated from its size.
    pub max_counted_rows: usize,
    /// Distinct values listed in full for a low-cardinality column.
    pub max_listed_values: usize,
    /// Text files up to this many characters are shown in full.
    pub full_text_chars: usize,
    /// Lines shown of a longer text file.
    pub text_head_lines: usize,
    /// JSON files larger than this many bytes are not parsed.
    pub max_json_bytes: u64,
}

impl Default for PreviewOptions {
    fn default() -> Self {
        Self {
            max_tokens: DEFAULT_MAX_TOKENS,
            tokens: TokenCounter::new(),
            max_entries_per_dir: 20,
            max_depth: 4,
            max_scanned_entries: 100_000,
            max_described_files: 20,
            max_csv_rows: 100_000,
            max_csv_cells: 5_000_000,
            max_counted_rows: 2_000_000,
            max_listed_values: 10,
            full_text_chars: 1000,
            text_head_lines: 12,
            max_json_bytes: 32 << 20,
        }
    }
}

/// One part of the preview in two renderings; `compact` is never longer than `full`.
#[derive(Debug, Clone)]
struct Section {
    full: String,
    compact: String,
}

impl Section {
    fn new(full: String, compact: String) -> Self {
        if compact.chars().count() < full.chars().count() {
            Self { full, compact }
        } else {
            Self {
                compact: full.clone(),
                full,
            }
        }
    }
}

/// The data overview of `dir`: file tree plus per-file sections, at most
/// `options.max_tokens` tokens. Fails only when `dir` itself cannot be listed.
pub fn preview_dir(dir: &Path, options: &PreviewOptions) -> Result<String> {
    std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(render(tree::walk(dir, options), &InPlace(dir), options))
}

/// The data overview of the files listed as `(relative path, size)` under a root named
/// `name`, each described file read through `heads`.
pub fn preview_listing(
    name: &str,
    files: &[(String, u64)],
    heads: &dyn HeadSource,
    options: &PreviewOptions,
) -> String {
    render(tree::from_listing(name, files, options), heads, options)
}

fn render(root: tree::DirNode, heads: &dyn HeadSource, options: &PreviewOptions) -> String {
    let mut sections = vec![Section::new(
        tree::render(&root, options.max_entries_per_dir, options.max_depth),
        tree::render(
            &root,
            (options.max_entries_per_dir / 4).max(3),
            options.max_depth.min(2),
        ),
    )];

    let shown = tree::shown_files(&root, options.max_entries_per_dir, options.max_depth);
    let mut tables = Vec::new();
    let mut others = Vec::new();
    let mut described = 0;
    for (order, file) in shown.iter().enumerate() {
        if described == options.max_described_files {
            let rest = shown.len() - order;
            others.push((
                order,
                Section::new(
                    format!("({rest} more listed files not described.)"),
                    String::new(),
                ),
            ));
            break;
        }
        if file.size == 0 {
            let line = format!("### {}\nEmpty file.", file.rel_path);
            others.push((order, Section::new(line.clone(), line)));
            described += 1;
            continue;
        }
        let kind = FileKind::of(&file.rel_path);
        let head = match heads.head(&file.rel_path, kind.wanted_bytes(options)) {
            Ok(head) => head,
            Err(e) => {
                let line = format!("### {}\nUnreadable: {}.", file.rel_path, e.kind());
                others.push((order, Section::new(line.clone(), line)));
                described += 1;
                continue;
            }
        };
        let described_file = Described {
            path: &head.path,
            rel_path: &file.rel_path,
            size: file.size,
            complete: head.complete,
        };
        match kind {
            FileKind::Table(delimiter) => {
                tables.push((order, table::profile(&described_file, delimiter, options)));
                described += 1;
            }
            FileKind::Json { lines } => {
                others.push((order, json::describe(&described_file, lines, options)));
                described += 1;
            }
            FileKind::Other => {
                if let Some(section) = text::describe(&described_file, options) {
                    others.push((order, section));
                    described += 1;
                }
            }
        }
    }

    let profiles: Vec<&table::TableProfile> = tables.iter().map(|(_, t)| t).collect();
    let any_missing = tables
        .iter()
        .any(|(_, t)| t.columns.iter().any(|c| c.missing > 0));
    let mut ordered: Vec<(usize, Section)> = tables
        .iter()
        .map(|(order, t)| (*order, t.render(&profiles, options)))
        .collect();
    ordered.extend(others);
    ordered.sort_by_key(|(order, _)| *order);
    if any_missing {
        let note = "Missing = empty cells or NA, N/A, NaN, null, None (as pandas reads them).";
        sections.push(Section::new(note.to_string(), note.to_string()));
    }
    sections.extend(ordered.into_iter().map(|(_, s)| s));
    fit(&sections, options.max_tokens, &options.tokens)
}

/// A file being described: a local copy of it (or of its start) and what it really is.
#[derive(Debug, Clone, Copy)]
struct Described<'a> {
    /// The local copy.
    path: &'a Path,
    rel_path: &'a str,
    /// The real file's size.
    size: u64,
    /// The local copy holds the whole file.
    complete: bool,
}

/// How a file is described, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// Delimited table; the delimiter is a guess refined when reading (`;` CSVs).
    Table(u8),
    Json {
        lines: bool,
    },
    Other,
}

impl FileKind {
    fn of(rel_path: &str) -> Self {
        let ext = rel_path
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "csv" => Self::Table(b','),
            "tsv" | "tab" => Self::Table(b'\t'),
            "json" | "geojson" => Self::Json { lines: false },
            "jsonl" | "ndjson" => Self::Json { lines: true },
            _ => Self::Other,
        }
    }

    /// The bytes of a file of this kind its description reads at most.
    fn wanted_bytes(self, options: &PreviewOptions) -> u64 {
        match self {
            Self::Table(_) | Self::Json { lines: true } => TABLE_HEAD_BYTES,
            Self::Json { lines: false } => options.max_json_bytes,
            Self::Other => text::HEAD_BYTES,
        }
    }
}

/// Joins the sections, compacting the ones that save most until the text fits
/// `max_tokens`; if even the compact text is too long, cuts it at a line boundary and says
/// so. Each rendering is counted once; the joined text is counted again only to cut it.
fn fit(sections: &[Section], max_tokens: usize, tokens: &TokenCounter) -> String {
    // A "\n\n" between two non-empty sections is one token.
    let sep = 1;
    let sizes: Vec<(usize, usize)> = sections
        .iter()
        .map(|s| (tokens.count(&s.full), tokens.count(&s.compact)))
        .collect();
    let mut use_compact = vec![false; sections.len()];
    let total = |use_compact: &[bool]| -> usize {
        let parts: Vec<usize> = sizes
            .iter()
            .zip(use_compact)
            .map(|(&(full, compact), &c)| if c { compact } else { full })
            .filter(|&n| n > 0)
            .collect();
        parts.iter().sum::<usize>() + sep * parts.len().saturating_sub(1)
    };
    let mut savings: Vec<(usize, usize)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(full, compact))| (full.saturating_sub(compact), i))
        .filter(|&(saving, _)| saving > 0)
        .collect();
    savings.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in savings {
        if total(&use_compact) <= max_tokens {
            break;
        }
        use_compact[i] = true;
    }
    let text = sections
        .iter()
        .zip(&use_compact)
        .map(|(s, &c)| {
            if c {
                s.compact.as_str()
            } else {
                s.full.as_str()
            }
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    truncate_with_marker(&text, max_tokens, tokens)
}

/// What ends a preview cut to fit its budget.
const TRUNCATED: &str = "\n[... preview truncated to fit the token budget]";

/// `text` itself when it has at most `max_tokens` tokens; otherwise its longest prefix,
/// ending at a line break when one falls in its second half, followed by a truncation
/// marker, the two within the budget.
fn truncate_with_marker(text: &str, max_tokens: usize, tokens: &TokenCounter) -> String {
    if tokens.fits(text, max_tokens) {
        return text.to_string();
    }
    let marker_tokens = tokens.count(TRUNCATED);
    if max_tokens <= marker_tokens {
        return tokens
            .prefix(TRUNCATED.trim_start(), max_tokens)
            .to_string();
    }
    let room = max_tokens - marker_tokens;
    let any = tokens.prefix(text, room);
    let head = match any.rfind('\n') {
        Some(cut) if cut > any.len() / 2 => &any[..cut],
        _ => any,
    };
    // The marker starts with a line break, so it cannot merge with the head's last token
    // into fewer; checked all the same, since the budget is a promise.
    let mut out = format!("{head}{TRUNCATED}");
    if !tokens.fits(&out, max_tokens) {
        out = format!("{}{TRUNCATED}", tokens.prefix(head, room.saturating_sub(1)));
    }
    out
}

/// The first `n` characters of `s` (never splits a UTF-8 character).
fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((cut, _)) => &s[..cut],
        None => s,
    }
}

/// The longest prefix of `s` with at most `n` bytes that ends on a character boundary.
fn prefix_bytes(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut cut = n;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    &s[..cut]
}

/// `s` shortened to at most `n` characters, with "…" when cut.
fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", prefix_chars(s, n.saturating_sub(1)))
    }
}

/// Decimal human size: "0 B", "999 B", "451.4 kB", "1.2 MB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Up to `limit` bytes from the start of `path`.
fn read_head(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod dataset_tests;
#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod tests;
