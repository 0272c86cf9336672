//! Cutting long text (program output, data previews) to a head and a tail, so a prompt
//! shows how a run started and how it ended.

/// Shortens `text` to at most `max_chars` characters by keeping its beginning and its end
/// and putting a marker such as `\n... [1234 characters omitted] ...\n` in between.
///
/// - Returns `text` unchanged when it is short enough.
/// - Counts and cuts Unicode scalar values, so it never splits a UTF-8 character.
/// - Prefers to cut at line breaks when one is near the cut point, so lines stay whole.
/// - The result never exceeds `max_chars` characters; when `max_chars` is too small for the
///   marker, the result is just the first `max_chars` characters.
pub fn truncate_middle(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    // Reserve room for the widest marker this text can need.
    let marker_room = marker(total).chars().count();
    if max_chars <= marker_room + 2 {
        return text.chars().take(max_chars).collect();
    }
    let keep = max_chars - marker_room;
    let head_chars = keep.div_ceil(2);
    let tail_chars = keep - head_chars;

    // Byte offsets: the head ends at `head_end`, the tail starts at `tail_start`.
    let mut head_end = byte_offset(text, head_chars);
    let mut tail_start = byte_offset(text, total - tail_chars);

    // Snap to line breaks within the last/first fifth of the kept parts.
    let head = &text[..head_end];
    if let Some(nl) = head.rfind('\n')
        && head[nl..].chars().count() <= head_chars / 5 + 1
    {
        head_end = nl + 1;
    }
    let tail = &text[tail_start..];
    if let Some(nl) = tail.find('\n')
        && tail[..nl].chars().count() <= tail_chars / 5
    {
        tail_start += nl + 1;
    }

    // The marker starts and ends with a line break; the parts lose theirs.
    let head = text[..head_end].trim_end_matches('\n');
    let tail = text[tail_start..].trim_start_matches('\n');
    let omitted = total - head.chars().count() - tail.chars().count();
    let mut out = String::with_capacity(head.len() + tail.len() + marker_room);
    out.push_str(head);
    out.push_str(&marker(omitted));
    out.push_str(tail);
    out
}

fn marker(omitted: usize) -> String {
    format!("\n... [{omitted} characters omitted] ...\n")
}

/// The byte offset of the `n`th character (or the end).
fn byte_offset(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_unchanged() {
        assert_eq!(truncate_middle("hello", 5), "hello");
        assert_eq!(truncate_middle("", 0), "");
        assert_eq!(truncate_middle("héllo wörld", 100), "héllo wörld");
    }

    #[test]
    fn keeps_head_and_tail_with_a_marker() {
        let text: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        let out = truncate_middle(&text, 300);
        assert!(out.chars().count() <= 300, "{}", out.chars().count());
        assert!(out.starts_with("line 0\nline 1\n"));
        assert!(out.ends_with("line 998\nline 999\n"));
        assert!(out.contains(" characters omitted] ...\n"));
        // Cut at line breaks: every kept line is whole.
        for line in out.lines().filter(|l| !l.starts_with("...")) {
            assert!(line.starts_with("line "), "{line:?}");
            assert!(line[5..].parse::<u32>().is_ok(), "{line:?}");
        }
    }

    #[test]
    fn omitted_count_is_exact() {
        let text = "a".repeat(500);
        let out = truncate_middle(&text, 100);
        let omitted: usize = out
            .split('[')
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("count");
        let kept = out.replace(&marker(omitted), "").chars().count();
        assert_eq!(kept + omitted, 500);
    }

    #[test]
    fn length_bound_and_utf8_safety_for_every_width() {
        let text = "αβγ😀中文\nŧëxt🚀".repeat(40);
        let total = text.chars().count();
        for max in 0..total + 3 {
            let out = truncate_middle(&text, max);
            assert!(
                out.chars().count() <= max,
                "max {max}: {}",
                out.chars().count()
            );
            if max >= total {
                assert_eq!(out, text);
            } else if max > 60 {
                assert!(out.contains("characters omitted"), "max {max}");
                let head: String = text.chars().take(5).collect();
                let tail: String = text.chars().skip(total - 3).collect();
                assert!(
                    out.starts_with(&head) && out.ends_with(&tail),
                    "max {max}: {out}"
                );
            }
        }
    }

    #[test]
    fn tiny_budget_gives_a_plain_prefix() {
        assert_eq!(truncate_middle("abcdefghijklmnopqrstuvwxyz", 4), "abcd");
        assert_eq!(truncate_middle("😀😀😀😀😀😀", 2), "😀😀");
    }
}
