//! Parsing of model replies: the author's plan and code ([`parse_reply`]), and the
//! reviewer's structured verdict ([`Review`], [`extract_json_object`]).
//!
//! An author is asked for a short plan followed by exactly one python code block. Replies
//! drift from that format in many ways; [`parse_reply`] accepts the drift it can resolve
//! without guessing and reports `code: None` otherwise, so the caller can record that the
//! reply contained no code (`BugReason::NoCode`) instead of running prose.

mod blocks;
mod python;
mod review;

use serde::{Deserialize, Serialize};

pub use review::{Review, extract_json_object};

use crate::error::{Error, Result};
use blocks::Block;
use python::{LineKind, classify, looks_like_python};

/// Languages whose blocks are taken as Python without looking inside.
const PYTHON_LANGUAGES: &[&str] = &["python", "py", "python3", "py3", "ipython", "ipython3"];

/// Labels that say nothing about the language; such blocks count as bare ones.
const NEUTRAL_LANGUAGES: &[&str] = &["text", "txt", "plaintext", "plain", "code"];

/// Most prose a bare block may hold and still count as Python (share of non-blank lines).
const BARE_BLOCK_MAX_PROSE: f64 = 0.3;

/// Most prose an unfenced reply may hold, after its leading plan, and still count as Python.
const UNFENCED_MAX_PROSE: f64 = 0.15;

/// An author's reply taken apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedReply {
    /// The prose before the chosen code (trimmed). When the reply opens with its code, the
    /// prose after it. Empty when there is none.
    pub plan: String,
    /// The program, without surrounding blank lines; `None` when the reply held no code.
    pub code: Option<String>,
    /// Where the code came from.
    pub source: CodeSource,
    /// How many usable code blocks the reply had (1 when it followed the format). More than
    /// one means the longest was chosen; the caller may want to log it.
    pub candidates: usize,
}

/// How [`parse_reply`] found the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CodeSource {
    /// A fenced block. `language` is the normalised label (`None` for a bare fence);
    /// `terminated` is false when the reply ended inside the block.
    Fenced {
        language: Option<String>,
        terminated: bool,
    },
    /// No fence at all, but the reply (after a leading plan) reads as Python.
    Unfenced,
    /// No code was found.
    Missing,
}

impl ParsedReply {
    /// The plan and the code, or [`Error::NoCode`] when the reply held no code.
    pub fn into_plan_and_code(self) -> Result<(String, String)> {
        match self.code {
            Some(code) => Ok((self.plan, code)),
            None => Err(Error::NoCode),
        }
    }
}

/// Takes an author's reply apart into plan and code.
///
/// Line endings are normalised first (CRLF and lone CR become LF). Then:
///
/// 1. **Python-labelled blocks** (`python`, `py`, `Python3`, `python3.11`, `ipython`, a
///    `*.py` file name; any info string after the label) are the candidates. Empty blocks
///    are skipped.
/// 2. Without one, **bare blocks** (no label, or `text`/`code`) that read as Python are.
///    Blocks labelled with another language (`json`, `bash`, `csv`, …) never are.
/// 3. Among several candidates the **longest** wins. The reference implementation joins
///    every block that compiles; we cannot compile here, and joining is the wrong call for
///    the usual multi-block replies: the full program followed by a repeated excerpt or a
///    usage snippet (joining runs code twice or breaks on the fragment). A reply that
///    splits one program over several blocks is rare under a one-block instruction, and
///    taking the longest part then fails loudly at run time, which the debug step repairs.
/// 4. With **no fence at all**, the reply is code only when, after any leading prose (which
///    becomes the plan) and without trailing prose, it holds an unmistakable Python
///    statement (`import`, `def`, `class`, `print(`, an assignment) and hardly any prose.
///
/// The plan is the text before the chosen block (usually the text before the first
/// fence; if a `json` or `bash` block precedes the code, it is part of the plan). Prose
/// after the code is never code; it becomes the plan only when nothing precedes the code.
pub fn parse_reply(text: &str) -> ParsedReply {
    let text = normalise(text);
    let lines: Vec<&str> = text.lines().collect();
    let blocks = blocks::scan(&lines);
    if blocks.is_empty() {
        return unfenced(&lines);
    }

    let usable = |b: &&Block| !b.content.trim().is_empty();
    let mut candidates: Vec<&Block> = blocks
        .iter()
        .filter(usable)
        .filter(|b| is_python(b))
        .collect();
    if candidates.is_empty() {
        candidates = blocks
            .iter()
            .filter(usable)
            .filter(|b| is_bare(b) && looks_like_python(&b.content, BARE_BLOCK_MAX_PROSE))
            .collect();
    }
    // The first of the longest: `max_by_key` would keep the last of equals.
    let chosen = candidates
        .iter()
        .copied()
        .fold(None::<&Block>, |best, b| match best {
            Some(best) if code_len(best) >= code_len(b) => Some(best),
            _ => Some(b),
        });

    let Some(chosen) = chosen else {
        let plan = lines[..blocks[0].start_line].join("\n").trim().to_string();
        return ParsedReply {
            plan,
            code: None,
            source: CodeSource::Missing,
            candidates: 0,
        };
    };
    let mut plan = lines[..chosen.start_line].join("\n").trim().to_string();
    if plan.is_empty() {
        plan = lines[chosen.end_line.min(lines.len())..]
            .join("\n")
            .trim()
            .to_string();
    }
    ParsedReply {
        plan,
        code: Some(tidy(&chosen.content)),
        source: CodeSource::Fenced {
            language: chosen.language.clone(),
            terminated: chosen.terminated,
        },
        candidates: candidates.len(),
    }
}

fn normalise(text: &str) -> String {
    text.trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .replace('\r', "\n")
}

fn is_python(block: &Block) -> bool {
    block.language.as_deref().is_some_and(|l| {
        PYTHON_LANGUAGES.contains(&l)
            || (l.starts_with("python") && !l.contains("repl"))
            || (l.ends_with(".py") && l.len() > 3)
    })
}

fn is_bare(block: &Block) -> bool {
    block
        .language
        .as_deref()
        .is_none_or(|l| NEUTRAL_LANGUAGES.contains(&l))
}

fn code_len(block: &Block) -> usize {
    block.content.trim().chars().count()
}

/// The code without leading or trailing blank lines, and without indentation shared by
/// every line (top-level Python is never indented, so removing it is always safe).
fn tidy(code: &str) -> String {
    let lines: Vec<&str> = code.lines().skip_while(|l| l.trim().is_empty()).collect();
    let common = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| &l[..l.len() - l.trim_start_matches([' ', '\t']).len()])
        .reduce(|a, b| {
            let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            &a[..n]
        })
        .unwrap_or("");
    lines
        .iter()
        .map(|l| l.strip_prefix(common).unwrap_or(l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_string()
}

/// The fallback for replies without any fence.
fn unfenced(lines: &[&str]) -> ParsedReply {
    let missing = |plan: String| ParsedReply {
        plan,
        code: None,
        source: CodeSource::Missing,
        candidates: 0,
    };
    let whole = lines.join("\n").trim().to_string();
    let kinds = classify(lines);
    let Some(first_strong) = kinds.iter().position(|k| *k == LineKind::Strong) else {
        return missing(whole);
    };
    // The code starts at its first statement, with the comments and decorators just above.
    let mut start = first_strong;
    while start > 0 && is_comment_or_decorator(lines[start - 1]) {
        start -= 1;
    }
    // Anything before the code must be prose (headings included), or it is not a plan
    // followed by a program.
    let stray_code =
        (0..start).any(|k| kinds[k] == LineKind::Code && !lines[k].trim_start().starts_with('#'));
    if stray_code {
        return missing(whole);
    }
    let mut end = lines.len();
    while end > start && matches!(kinds[end - 1], LineKind::Blank | LineKind::Prose) {
        end -= 1;
    }
    let body = &kinds[start..end];
    let prose = body.iter().filter(|k| **k == LineKind::Prose).count();
    let non_blank = body.iter().filter(|k| **k != LineKind::Blank).count();
    let trailing_prose = kinds[end..]
        .iter()
        .filter(|k| **k == LineKind::Prose)
        .count();
    let leading_prose = kinds[..start].contains(&LineKind::Prose);
    // A sign-off after the program is fine; paragraphs around one stray statement are not.
    let surrounded = leading_prose || trailing_prose > 0;
    if prose as f64 > UNFENCED_MAX_PROSE * non_blank as f64
        || trailing_prose > (non_blank / 2).max(2)
        || (surrounded && non_blank < 2)
    {
        return missing(whole);
    }
    ParsedReply {
        plan: lines[..start].join("\n").trim().to_string(),
        code: Some(tidy(&lines[start..end].join("\n"))),
        source: CodeSource::Unfenced,
        candidates: 1,
    }
}

fn is_comment_or_decorator(line: &str) -> bool {
    let t = line.trim_start();
    !line.starts_with([' ', '\t']) && (t.starts_with('#') || t.starts_with('@'))
}

#[cfg(test)]
mod tests;
