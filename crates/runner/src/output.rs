//! The script's merged output: turns raw bytes into UTF-8 chunks with byte offsets for live
//! streaming, and keeps a bounded head and tail for the final result while counting the full
//! size.

use std::collections::VecDeque;

/// Accumulates output bytes: live chunks out, bounded head + tail kept.
#[derive(Debug)]
pub struct OutputBuffer {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
    /// Bytes of an incomplete UTF-8 sequence held back from the last chunk.
    pending: Vec<u8>,
    /// Offset (in the full output) of the first pending byte.
    pending_offset: u64,
}

impl OutputBuffer {
    /// Keeps at most `max_kept` bytes: half from the start, half from the end.
    pub fn new(max_kept: usize) -> Self {
        let head_cap = max_kept.div_ceil(2);
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap,
            tail_cap: max_kept - head_cap,
            total: 0,
            pending: Vec::new(),
            pending_offset: 0,
        }
    }

    /// Takes in `bytes`; returns the text to stream now and its byte offset, if any. A UTF-8
    /// sequence split across reads is held back until it completes; invalid bytes become
    /// U+FFFD.
    pub fn push(&mut self, bytes: &[u8]) -> Option<(String, u64)> {
        self.keep(bytes);
        self.total += bytes.len() as u64;
        let offset = self.pending_offset;
        self.pending.extend_from_slice(bytes);
        let cut = complete_prefix_len(&self.pending);
        if cut == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&self.pending[..cut]).into_owned();
        self.pending.drain(..cut);
        self.pending_offset = offset + cut as u64;
        Some((text, offset))
    }

    /// Flushes a trailing incomplete sequence (as U+FFFD) at the end of the output.
    pub fn finish(&mut self) -> Option<(String, u64)> {
        if self.pending.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        let offset = self.pending_offset;
        self.pending_offset += self.pending.len() as u64;
        self.pending.clear();
        Some((text, offset))
    }

    /// Raw offset just past the text returned so far.
    pub fn streamed_bytes(&self) -> u64 {
        self.pending_offset
    }

    /// Full size of the output in bytes.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The kept text: everything when it fit, else head, a marker and tail.
    pub fn kept_text(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        let (a, b) = self.tail.as_slices();
        let mut tail_bytes = Vec::with_capacity(a.len() + b.len());
        tail_bytes.extend_from_slice(a);
        tail_bytes.extend_from_slice(b);
        let kept = (self.head.len() + tail_bytes.len()) as u64;
        if kept == self.total {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail_bytes);
            return String::from_utf8_lossy(&all).into_owned();
        }
        // Skip continuation bytes at the cut so the tail does not start mid-character.
        let skip = tail_bytes
            .iter()
            .take(3)
            .take_while(|b| (**b & 0xC0) == 0x80)
            .count();
        let tail = String::from_utf8_lossy(&tail_bytes[skip..]);
        format!(
            "{head}\n... [{} bytes omitted] ...\n{tail}",
            self.total - kept
        )
    }

    fn keep(&mut self, mut bytes: &[u8]) {
        let room = self.head_cap.saturating_sub(self.head.len());
        let to_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        if self.tail_cap == 0 || bytes.is_empty() {
            return;
        }
        if bytes.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(bytes);
    }
}

/// Length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence which
/// could still complete (invalid bytes count as complete: they become U+FFFD).
fn complete_prefix_len(bytes: &[u8]) -> usize {
    let n = bytes.len();
    // Look back at most 3 bytes for the start of a multi-byte sequence.
    for back in 1..=n.min(3) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte, keep looking for the lead
        }
        let need = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if need > back { n - back } else { n };
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_utf8_is_held_back_then_joined() {
        let mut out = OutputBuffer::new(1000);
        let s = "héllo".as_bytes();
        assert_eq!(out.push(&s[..2]), Some(("h".into(), 0)));
        assert_eq!(out.push(&s[2..]), Some(("éllo".into(), 1)));
        assert_eq!(out.total_bytes(), 6);
        assert_eq!(out.kept_text(), "héllo");
    }

    #[test]
    fn invalid_bytes_are_replaced() {
        let mut out = OutputBuffer::new(1000);
        let (text, _) = out.push(b"a\xffb").unwrap();
        assert_eq!(text, "a\u{fffd}b");
        assert!(out.push(b"\xe2\x82").is_none());
        assert_eq!(out.finish(), Some(("\u{fffd}".into(), 3)));
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let mut out = OutputBuffer::new(10);
        for i in 0..100u8 {
            out.push(&[b'a' + (i % 26)]);
        }
        let kept = out.kept_text();
        assert!(
            kept.starts_with("abcde\n... [90 bytes omitted] ...\n"),
            "{kept}"
        );
        assert!(kept.ends_with("rstuv"), "{kept}");
        assert_eq!(out.total_bytes(), 100);
    }
}
