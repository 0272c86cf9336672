//! Markdown fenced code blocks: finding them in a reply, line by line, the way CommonMark
//! does, with the leniencies LLM replies need.
//!
//! - Fences are runs of at least three backticks or tildes; the info string's first word
//!   (`python`, `py`, `Python3`, `json`, …) is the block's language.
//! - An opening fence may be indented by any amount (models nest fences in list items with
//!   four or more spaces); the closing fence may be indented up to three spaces more than
//!   the opening one, uses the same character, is at least as long, and carries nothing else.
//!   Content lines lose the opening fence's indentation.
//! - A line that merely contains backticks (`s = "```"`, inline `` `x` ``) is never a fence.
//! - An unterminated fence runs to the end of the reply, unless a content line ends with the
//!   fence itself (`print(x)```"), which models sometimes write instead of a closing line.
//!
//! Known limit: a bare fence line inside a Python string (a program that writes markdown)
//! closes the block early, as it would in any markdown renderer; models that need such
//! strings usually open with a longer fence (````` ```` `````), which is handled.

/// One fenced block of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The normalised language: the info string's first word, lowercased, without braces;
    /// `None` for a bare fence.
    pub language: Option<String>,
    /// The content with the opening fence's indentation removed.
    pub content: String,
    /// Index of the opening fence line.
    pub start_line: usize,
    /// Index of the first line after the block (after the closing fence when there is one).
    pub end_line: usize,
    /// False when the reply ended before a closing fence.
    pub terminated: bool,
}

struct Opening<'a> {
    indent: usize,
    marker: char,
    len: usize,
    info: &'a str,
}

/// Leading whitespace width; a tab counts as four columns.
fn indent_of(line: &str) -> usize {
    line.chars()
        .take_while(|c| matches!(c, ' ' | '\t'))
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

fn opening_fence(line: &str) -> Option<Opening<'_>> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let marker = trimmed.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let len = trimmed.chars().take_while(|&c| c == marker).count();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    // CommonMark: a backtick fence's info string holds no backtick (so "```x```" is inline).
    if marker == '`' && info.contains('`') {
        return None;
    }
    Some(Opening {
        indent: indent_of(line),
        marker,
        len,
        info,
    })
}

fn is_closing_fence(line: &str, open: &Opening<'_>) -> bool {
    if indent_of(line) > open.indent + 3 {
        return false;
    }
    let trimmed = line.trim();
    let run = trimmed.chars().take_while(|&c| c == open.marker).count();
    run >= open.len && run == trimmed.chars().count()
}

/// The language named by an info string: its first word, lowercased, without the braces
/// some tools write (`{python}`) or a `:file` suffix (`python:main.py`).
fn language_of(info: &str) -> Option<String> {
    let word = info
        .split(|c: char| c.is_whitespace() || c == ',')
        .next()?
        .trim_matches(['{', '}', '.']);
    let word = word.split(':').next().unwrap_or(word);
    (!word.is_empty()).then(|| word.to_ascii_lowercase())
}

/// Removes up to `indent` columns of leading whitespace.
fn dedent(line: &str, indent: usize) -> &str {
    let mut removed = 0;
    let mut start = 0;
    for (i, c) in line.char_indices() {
        let width = match c {
            ' ' => 1,
            '\t' => 4,
            _ => break,
        };
        if removed + width > indent {
            break;
        }
        removed += width;
        start = i + c.len_utf8();
    }
    &line[start..]
}

/// Every fenced block of `lines`, in order. Lines inside a block are never fences.
pub(crate) fn scan(lines: &[&str]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(open) = opening_fence(lines[i]) else {
            i += 1;
            continue;
        };
        let start = i;
        let body_start = i + 1;
        let close = (body_start..lines.len()).find(|&j| is_closing_fence(lines[j], &open));
        let block = match close {
            Some(end) => Block {
                language: language_of(open.info),
                content: join_dedented(&lines[body_start..end], open.indent),
                start_line: start,
                end_line: end + 1,
                terminated: true,
            },
            None => unterminated(lines, start, &open),
        };
        i = block.end_line.max(start + 1);
        blocks.push(block);
    }
    blocks
}

/// A block whose fence is never closed on a line of its own: it ends at a line that ends
/// with the fence (`print(x)```), else at the end of the reply.
fn unterminated(lines: &[&str], start: usize, open: &Opening<'_>) -> Block {
    let fence: String = std::iter::repeat_n(open.marker, open.len).collect();
    let body = &lines[start + 1..];
    let inline_close = body.iter().position(|line| {
        let t = line.trim_end();
        t.ends_with(&fence) && !t.trim_end_matches(open.marker).trim().is_empty()
    });
    let (content, end_line, terminated) = match inline_close {
        Some(k) => {
            let mut kept: Vec<&str> = body[..k].to_vec();
            let last = body[k].trim_end().trim_end_matches(open.marker);
            kept.push(last);
            (join_dedented(&kept, open.indent), start + 1 + k + 1, true)
        }
        None => (join_dedented(body, open.indent), lines.len(), false),
    };
    Block {
        language: language_of(open.info),
        content,
        start_line: start,
        end_line,
        terminated,
    }
}

fn join_dedented(lines: &[&str], indent: usize) -> String {
    let mut out = String::new();
    for (k, line) in lines.iter().enumerate() {
        if k > 0 {
            out.push('\n');
        }
        out.push_str(dedent(line, indent));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str) -> Vec<Block> {
        scan(&text.lines().collect::<Vec<_>>())
    }

    #[test]
    fn languages_are_normalised() {
        assert_eq!(language_of("Python3"), Some("python3".into()));
        assert_eq!(language_of("{python}"), Some("python".into()));
        assert_eq!(
            language_of("python title=\"main.py\""),
            Some("python".into())
        );
        assert_eq!(language_of("python:main.py"), Some("python".into()));
        assert_eq!(language_of(""), None);
    }

    #[test]
    fn closing_fence_must_be_at_least_as_long_and_bare() {
        let b = blocks("````python\na = '```'\n```\nb = 1\n````\nafter");
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].content, "a = '```'\n```\nb = 1");
        let b = blocks("```\nx = 1\n``` not a close\n```");
        assert_eq!(b[0].content, "x = 1\n``` not a close");
    }

    #[test]
    fn list_nested_fence_is_dedented() {
        let b = blocks("1. Code:\n\n    ```python\n    def f():\n        return 1\n    ```\n");
        assert_eq!(b[0].content, "def f():\n    return 1");
        assert!(b[0].terminated);
    }

    #[test]
    fn inline_close_on_the_last_code_line() {
        let b = blocks("```python\nimport os\nprint(os.getcwd())```\nDone.");
        assert_eq!(b[0].content, "import os\nprint(os.getcwd())");
        assert_eq!(b[0].end_line, 3);
    }
}
