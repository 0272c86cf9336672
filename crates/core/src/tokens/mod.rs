//! Counting tokens the way a model reads text: OpenAI's `o200k_base` encoding (the GPT-4o
//! family's), whose vocabulary ships inside the `tiktoken-rs` crate, so counting needs no
//! download. Prompt budgets (the data preview, the memory) are measured with it; other
//! models' tokenizers differ by some percent, which the budgets' margins absorb.
//!
//! [`TokenCounter`] is the only door to the crate: a cheap handle that loads the vocabulary
//! on its first count, shared by its clones. Given a cache directory, it keeps the
//! vocabulary there in a form that loads about three times faster (see `vocabulary`).

mod vocabulary;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use vocabulary::Vocabulary;

use crate::prompt::truncate_middle;

/// Counts `o200k_base` tokens. Clones share one loaded vocabulary; [`TokenCounter::preload`]
/// loads it on a background thread so the first count need not wait.
#[derive(Clone, Default)]
pub struct TokenCounter {
    encoding: Arc<OnceLock<Vocabulary>>,
    /// Where the vocabulary is kept between processes, if anywhere.
    cache: Option<Arc<Path>>,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("encoding", &ENCODING)
            .field("cache", &self.cache)
            .field("loaded", &self.encoding.get().is_some())
            .finish()
    }
}

/// Every counter counts the same way, so any two are interchangeable.
impl PartialEq for TokenCounter {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for TokenCounter {}

/// The name of the encoding counted, for reports.
pub const ENCODING: &str = "o200k_base";

impl TokenCounter {
    /// A counter whose vocabulary is loaded on first use, from `tiktoken-rs`.
    pub fn new() -> Self {
        Self::default()
    }

    /// A counter that keeps its vocabulary in `dir` (created when missing) and loads it from
    /// there when a previous process left it.
    pub fn cached_in(dir: impl Into<PathBuf>) -> Self {
        Self {
            encoding: Arc::default(),
            cache: Some(Arc::from(dir.into())),
        }
    }

    /// Starts loading the vocabulary on a thread of its own, unless it is loaded already.
    pub fn preload(&self) {
        if self.encoding.get().is_some() {
            return;
        }
        let counter = self.clone();
        std::thread::spawn(move || {
            counter.encoding();
        });
    }

    /// The tokens of `text`, special-token markers counted as ordinary text.
    pub fn count(&self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        self.encoding().count(text)
    }

    /// Whether `text` holds at most `max` tokens. A text of at most `max` bytes always does
    /// (no token is shorter than a byte), so short texts are not counted.
    pub fn fits(&self, text: &str, max: usize) -> bool {
        text.len() <= max || self.count(text) <= max
    }

    /// The longest prefix of `text` that ends at a line break (or is `text` itself) and
    /// holds at most `max` tokens; empty when not even the first line fits.
    pub fn line_prefix<'t>(&self, text: &'t str, max: usize) -> &'t str {
        self.longest_fitting(text, max, |window| {
            window.match_indices('\n').map(|(i, _)| i).collect()
        })
    }

    /// The longest prefix of `text` holding at most `max` tokens, cut anywhere (never inside
    /// a character).
    pub fn prefix<'t>(&self, text: &'t str, max: usize) -> &'t str {
        self.longest_fitting(text, max, |window| {
            window.char_indices().map(|(i, _)| i).skip(1).collect()
        })
    }

    /// `text` when it fits, else its longest prefix that fits among those ending at the
    /// offsets `ends` gives (ascending) in a window of it. The window is the shortest prefix
    /// found by doubling (from four bytes a token) that no longer fits, so every count is of
    /// a text a few times the budget, however long `text` is; counts grow with the prefix,
    /// so a binary search finds the longest.
    fn longest_fitting<'t>(
        &self,
        text: &'t str,
        max: usize,
        ends: impl Fn(&str) -> Vec<usize>,
    ) -> &'t str {
        if self.fits(text, max) {
            return text;
        }
        let mut window = floor_char_boundary(text, max.saturating_mul(4).max(64));
        while window < text.len() && self.fits(&text[..window], max) {
            window = floor_char_boundary(text, window.saturating_mul(2));
        }
        let ends = ends(&text[..window]);
        match ends.partition_point(|&end| self.fits(&text[..end], max)) {
            0 => "",
            n => &text[..ends[n - 1]],
        }
    }

    /// `text` cut in the middle ([`truncate_middle`]) to at most `max` tokens, keeping its
    /// head and its tail; unchanged when it fits.
    pub fn truncate_middle(&self, text: &str, max: usize) -> String {
        if text.len() <= max {
            return text.to_string();
        }
        let total = self.count(text);
        if total <= max {
            return text.to_string();
        }
        let chars = text.chars().count();
        // Start from the characters the budget's share of the text holds, then shrink by
        // the observed excess until the cut text fits; each round counts one short text.
        let mut cap = chars * max / total;
        loop {
            let cut = truncate_middle(text, cap);
            let tokens = self.count(&cut);
            if tokens <= max || cap == 0 {
                return cut;
            }
            cap = (cap * max / tokens).min(cap - 1);
        }
    }

    fn encoding(&self) -> &Vocabulary {
        self.encoding
            .get_or_init(|| Vocabulary::load(self.cache.as_deref()))
    }
}

/// The largest character boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_known_texts() {
        let tokens = TokenCounter::new();
        assert_eq!(tokens.count(""), 0);
        assert_eq!(tokens.count("hello world"), 2);
        // Digits go in groups of at most three, and a special marker is plain text.
        assert_eq!(tokens.count("1234567"), 3);
        assert!(tokens.count("<|endoftext|>") > 1);
        let clone = tokens.clone();
        assert_eq!(clone.count("hello world"), 2, "clones share the encoding");
    }

    #[test]
    fn counts_as_tiktoken_does() {
        let reference = tiktoken_rs::o200k_base().expect("o200k_base");
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = TokenCounter::cached_in(dir.path());
        let mut texts: Vec<String> = [
            include_str!("mod.rs"),
            include_str!("../preview/column.rs"),
            "  leading spaces,\ttabs\r\n\r\nand  trailing   \n\n\n",
            "naïve café, 東京タワー, Ελληνικά, emoji 😀👍🏽, <|endoftext|>, \u{0}\u{feff}",
            "0.07871,1.095,0.9053,8.589,153.4,0.006399 -12345678901234567890 1e-7",
            "don't WE'LL they'Re I'M x'D HTTPServer snake_case camelCase",
        ]
        .map(String::from)
        .to_vec();
        texts.push((0u32..3000).filter_map(char::from_u32).collect());
        for text in &texts {
            assert_eq!(
                tokens.count(text),
                reference.encode_ordinary(text).len(),
                "{text:?}"
            );
        }
        // A second counter reads the vocabulary the first one kept, and counts alike.
        let again = TokenCounter::cached_in(dir.path());
        for text in &texts {
            assert_eq!(again.count(text), tokens.count(text));
        }
        assert!(dir.path().join(vocabulary::FILE_NAME).is_file());
    }

    #[test]
    fn fits_agrees_with_count() {
        let tokens = TokenCounter::new();
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(20);
        let n = tokens.count(&text);
        assert!(tokens.fits(&text, n));
        assert!(!tokens.fits(&text, n - 1));
        assert!(
            tokens.fits("abc", 3),
            "three bytes are at most three tokens"
        );
    }

    #[test]
    fn line_prefix_is_the_longest_fitting_one() {
        let tokens = TokenCounter::new();
        let text: String = (0..200)
            .map(|i| format!("row {i}: value {}\n", i * 7))
            .collect();
        for max in [0, 3, 50, 333, 5_000] {
            let prefix = tokens.line_prefix(&text, max);
            assert!(text.starts_with(prefix));
            assert!(tokens.count(prefix) <= max, "{max}");
            if prefix.len() < text.len() {
                // One more line would not fit.
                let next = text[prefix.len() + 1..]
                    .find('\n')
                    .map_or(text.len(), |i| prefix.len() + 1 + i);
                let longer = if prefix.is_empty() {
                    &text[..text.find('\n').expect("a line")]
                } else {
                    &text[..next]
                };
                assert!(tokens.count(longer) > max, "{max}: {longer:?}");
            }
        }
        assert_eq!(tokens.line_prefix(&text, 5_000), text);
    }

    #[test]
    fn prefix_cuts_anywhere_but_inside_a_character() {
        let tokens = TokenCounter::new();
        let text = "αβγ😀 ".repeat(300);
        for max in [0, 1, 7, 100] {
            let prefix = tokens.prefix(&text, max);
            assert!(text.starts_with(prefix));
            assert!(tokens.count(prefix) <= max, "{max}");
            let next = text[prefix.len()..].chars().next().expect("more text");
            let longer = &text[..prefix.len() + next.len_utf8()];
            assert!(tokens.count(longer) > max, "{max}: {longer:?}");
        }
    }

    #[test]
    fn middle_cut_fits_and_keeps_both_ends() {
        let tokens = TokenCounter::new();
        let text: String = (0..500).map(|i| format!("line {i} of the log\n")).collect();
        for max in [40, 100, 700] {
            let cut = tokens.truncate_middle(&text, max);
            assert!(tokens.count(&cut) <= max, "{max}: {}", tokens.count(&cut));
            assert!(cut.starts_with("line 0 of the log"), "{max}");
            assert!(cut.ends_with("line 499 of the log\n"), "{max}");
            assert!(cut.contains("characters omitted"), "{max}");
        }
        assert_eq!(tokens.truncate_middle("short", 10), "short");
    }
}
