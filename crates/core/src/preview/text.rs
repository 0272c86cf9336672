//! Text files of the preview: binary detection, short files in full, longer ones as their
//! size, line count and first lines. Invalid UTF-8 is shown lossily, never split.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::{Described, PreviewOptions, Section, human_size, read_head, shorten};

/// Bytes read to decide whether a file is text and to show its head.
pub(super) const HEAD_BYTES: u64 = 64 * 1024;
/// Characters of one shown line.
const MAX_LINE_CHARS: usize = 200;
/// Characters of a shown head, all lines together.
const MAX_HEAD_CHARS: usize = 1200;
/// Lines shown of a long file in the compact rendering.
const COMPACT_LINES: usize = 4;
/// Files up to this size get their lines counted.
const MAX_COUNTED_BYTES: u64 = 256 << 20;

/// A section for a text file, or `None` for a binary one (the tree already lists it).
pub(super) fn describe(file: &Described<'_>, options: &PreviewOptions) -> Option<Section> {
    let (path, size) = (file.path, file.size);
    let title = format!("### {}\n", file.rel_path);
    let head = match read_head(path, HEAD_BYTES) {
        Ok(head) => head,
        Err(e) => {
            let text = format!("{title}Unreadable: {}.", e.kind());
            return Some(Section::new(text.clone(), text));
        }
    };
    let (text, lossy) = decode(&head, size > head.len() as u64);
    if is_binary(&head, &text) {
        return None;
    }
    let lossy_note = if lossy {
        " (not valid UTF-8; shown lossily)"
    } else {
        ""
    };
    let complete = size == head.len() as u64;
    if complete && text.chars().count() <= options.full_text_chars {
        let body = text.trim_end();
        let full = format!(
            "{title}Text, {}{lossy_note}, in full:\n{}",
            human_size(size),
            fenced(body)
        );
        let lines: Vec<&str> = body.lines().collect();
        let compact = if lines.len() > COMPACT_LINES + 1 {
            let head = shown_lines(&lines, COMPACT_LINES);
            let note = format!("{} lines{lossy_note}; first {COMPACT_LINES}:", lines.len());
            format!(
                "{title}Text, {}, {note}\n{}",
                human_size(size),
                fenced(&head)
            )
        } else {
            full.clone()
        };
        return Some(Section::new(full, compact));
    }
    // Lines are counted in a whole copy only; a head says nothing of the rest.
    let lines = file.complete.then(|| count_lines(path, size)).flatten();
    let about = match lines {
        Some(n) => format!("Text, {}, {n} lines{lossy_note}", human_size(size)),
        None => format!("Text, {}{lossy_note}", human_size(size)),
    };
    Some(head_section_from(&title, &about, &text, options))
}

/// A section showing the first lines of `path` after a note, for files whose structure
/// could not be analysed (invalid or oversized JSON, say).
pub(super) fn head_section(
    file: &Described<'_>,
    title: &str,
    note: &str,
    options: &PreviewOptions,
) -> Section {
    match read_head(file.path, HEAD_BYTES) {
        Ok(head) => {
            let (text, _) = decode(&head, file.size > head.len() as u64);
            if is_binary(&head, &text) {
                let text = format!("{title}{note} (binary content, not shown)");
                return Section::new(text.clone(), text);
            }
            head_section_from(title, note, &text, options)
        }
        Err(e) => {
            let text = format!("{title}{note} unreadable: {}.", e.kind());
            Section::new(text.clone(), text)
        }
    }
}

fn head_section_from(title: &str, about: &str, text: &str, options: &PreviewOptions) -> Section {
    let lines: Vec<&str> = text.lines().collect();
    let render = |n: usize| {
        let n = n.min(lines.len());
        format!(
            "{title}{about}; first {n} lines:\n{}",
            fenced(&shown_lines(&lines, n))
        )
    };
    Section::new(
        render(options.text_head_lines),
        render(COMPACT_LINES.min(options.text_head_lines)),
    )
}

/// The first `n` lines, each shortened, all together within [`MAX_HEAD_CHARS`].
fn shown_lines(lines: &[&str], n: usize) -> String {
    let mut out = String::new();
    for line in lines.iter().take(n) {
        let line = shorten(line.trim_end(), MAX_LINE_CHARS);
        if out.chars().count() + line.chars().count() > MAX_HEAD_CHARS {
            out.push_str("[...]\n");
            break;
        }
        let _ = writeln!(out, "{line}");
    }
    out.trim_end_matches('\n').to_string()
}

/// `body` inside a code fence that does not occur in it.
fn fenced(body: &str) -> String {
    let fence = if body.contains("```") { "~~~~" } else { "```" };
    format!("{fence}\n{body}\n{fence}")
}

/// Text of `bytes`, lossily decoded; `truncated` means the bytes may end mid-character,
/// which is not an encoding error. Returns whether anything was replaced.
fn decode(bytes: &[u8], truncated: bool) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), false),
        Err(e) if truncated && e.error_len().is_none() => (
            String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
            false,
        ),
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
    }
}

/// NUL bytes, many control characters or mostly undecodable bytes mean binary.
fn is_binary(bytes: &[u8], decoded: &str) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    let controls = bytes
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        .count();
    let chars = decoded.chars().count().max(1);
    let replaced = decoded.chars().filter(|&c| c == '\u{fffd}').count();
    controls * 20 > bytes.len() || replaced * 10 > chars
}

/// Lines of a file up to [`MAX_COUNTED_BYTES`] (a last line without newline counts).
fn count_lines(path: &Path, size: u64) -> Option<u64> {
    if size > MAX_COUNTED_BYTES {
        return None;
    }
    let mut file = File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    Some(lines + u64::from(last != b'\n'))
}
