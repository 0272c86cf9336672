//! The `o200k_base` vocabulary in the form counting needs: the rank of every token's bytes
//! and the pattern that splits text into pieces, each of which is merged byte pair by byte
//! pair into tokens (`tiktoken_rs::byte_pair_split`).
//!
//! `tiktoken-rs` builds far more than counting needs (a decoder, a sorted token list, a
//! pattern per thread): about 0.15 s in a release build, which would be most of `aide run`'s
//! start-up. So its vocabulary is taken from it once and kept in a file of our own (the
//! tokens' bytes in rank order), which later processes read in a fraction of that time.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use fancy_regex::Regex;
use rustc_hash::FxHashMap;
use tiktoken_rs::{O200K_BASE_PAT_STR, Rank};

/// What a vocabulary file starts with.
const MAGIC: &[u8] = b"aide o200k_base ranks v1\n";
/// The ordinary tokens of `o200k_base` (ranks 0 to 199,997).
const ORDINARY_TOKENS: usize = 199_998;
/// The file name of the kept vocabulary in a cache directory.
pub(super) const FILE_NAME: &str = "o200k_base.ranks";

/// Token ranks by their bytes, and the pattern that splits text into pieces.
pub(super) struct Vocabulary {
    ranks: FxHashMap<Vec<u8>, Rank>,
    pieces: Regex,
}

impl Vocabulary {
    /// The vocabulary, read from `cache` when it holds a valid copy; otherwise taken from
    /// `tiktoken-rs` and, with a cache directory, kept there for the next process.
    pub(super) fn load(cache: Option<&Path>) -> Self {
        let path = cache.map(|dir| dir.join(FILE_NAME));
        if let Some(tokens) = path.as_deref().and_then(read) {
            return Self::from_tokens(tokens);
        }
        let tokens = from_tiktoken();
        if let Some(path) = &path {
            write(path, &tokens);
        }
        Self::from_tokens(tokens)
    }

    fn from_tokens(tokens: Vec<Vec<u8>>) -> Self {
        let mut ranks = FxHashMap::with_capacity_and_hasher(tokens.len(), Default::default());
        for (rank, bytes) in tokens.into_iter().enumerate() {
            ranks.insert(bytes, rank as Rank);
        }
        // The pattern is a constant of the crate; failing to compile it is a defect of the
        // build, not a condition a caller could handle.
        let pieces = Regex::new(O200K_BASE_PAT_STR).expect("the o200k_base pattern compiles");
        Self { ranks, pieces }
    }

    /// The tokens of `text`, special-token markers counted as ordinary text.
    pub(super) fn count(&self, text: &str) -> usize {
        self.pieces
            .find_iter(text)
            // The pattern has no construct that can exhaust the backtracking limit on a
            // piece; a piece it gave up on would be counted as none.
            .filter_map(Result::ok)
            .map(|piece| self.count_piece(piece.as_str().as_bytes()))
            .sum()
    }

    fn count_piece(&self, piece: &[u8]) -> usize {
        if piece.len() == 1 || self.ranks.contains_key(piece) {
            1
        } else {
            tiktoken_rs::byte_pair_split(piece, &self.ranks).len()
        }
    }
}

/// Every ordinary token's bytes, in rank order, from `tiktoken-rs`'s embedded vocabulary.
fn from_tiktoken() -> Vec<Vec<u8>> {
    // The vocabulary is compiled into the binary; failing to read it is a defect of the
    // build, not a condition a caller could handle.
    let bpe = tiktoken_rs::o200k_base().expect("the embedded o200k_base vocabulary loads");
    (0..ORDINARY_TOKENS as Rank)
        .map(|rank| {
            bpe.decode_bytes(&[rank])
                .expect("o200k_base's ordinary ranks are contiguous")
        })
        .collect()
}

/// The tokens kept at `path`, when the file is whole and of this format.
fn read(path: &Path) -> Option<Vec<Vec<u8>>> {
    let data = fs::read(path).ok()?;
    let rest = data.strip_prefix(MAGIC)?;
    let (count, mut rest) = rest.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*count) as usize != ORDINARY_TOKENS {
        return None;
    }
    let mut tokens = Vec::with_capacity(ORDINARY_TOKENS);
    while let Some((len, after)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_le_bytes(*len));
        if len == 0 || after.len() < len {
            return None;
        }
        tokens.push(after[..len].to_vec());
        rest = &after[len..];
    }
    (rest.is_empty() && tokens.len() == ORDINARY_TOKENS).then_some(tokens)
}

/// Keeps `tokens` at `path` (written aside, then renamed into place). Best effort, and
/// silent: a cache that cannot be written only costs the next process the slow load.
fn write(path: &Path, tokens: &[Vec<u8>]) {
    let mut data = Vec::with_capacity(MAGIC.len() + 4 + tokens.len() * 9);
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&(tokens.len() as u32).to_le_bytes());
    for token in tokens {
        data.extend_from_slice(&(token.len() as u16).to_le_bytes());
        data.extend_from_slice(token);
    }
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    let written = path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::File::create(&partial))
        .and_then(|mut file| file.write_all(&data))
        .and_then(|()| fs::rename(&partial, path));
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_vocabulary_reads_back_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        let tokens = from_tiktoken();
        write(&path, &tokens);
        assert_eq!(read(&path).as_deref(), Some(&tokens[..]));

        let whole = fs::read(&path).expect("read");
        fs::write(&path, &whole[..whole.len() - 1]).expect("truncate");
        assert_eq!(read(&path), None, "a cut file");
        let mut other = whole.clone();
        other[0] ^= 1;
        fs::write(&path, other).expect("write");
        assert_eq!(read(&path), None, "another format");

        // Loading through a damaged cache takes the vocabulary from tiktoken-rs and
        // replaces the file.
        let vocabulary = Vocabulary::load(Some(dir.path()));
        assert_eq!(vocabulary.count("hello world"), 2);
        assert_eq!(fs::read(&path).expect("read"), whole);
    }
}
