//! Preview behaviour on the shared datasets (house prices, bitcoin price), read in place.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::tests::{section, unlimited};
use super::*;

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name)
}

/// One scenario on the real house_prices data, asserted step by step: long because every
/// budget decision of the preview is checked against the same rendering.
#[test]
fn house_prices_fits_the_budget_with_compact_tables() {
    let started = Instant::now();
    let out = preview_dir(&shared("house_prices"), &PreviewOptions::default()).expect("preview");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let tokens = TokenCounter::new().count(&out);
    assert!(tokens <= DEFAULT_MAX_TOKENS, "{tokens} tokens:\n{out}");
    assert!(
        !out.contains("preview truncated"),
        "compaction suffices:\n{out}"
    );

    let tree = section(&out, "## Files");
    for line in [
        "house_prices/  (4 files, 957.4 kB)",
        "  data_description.txt  (13.4 kB)",
        "  sample_submission.csv  (31.9 kB)",
        "  test.csv  (451.4 kB)",
        "  train.csv  (460.7 kB)",
    ] {
        assert!(
            tree.lines().any(|l| l == line),
            "missing {line:?} in:\n{tree}"
        );
    }

    let train = section(&out, "### train.csv");
    assert!(train.contains("1460 rows x 81 columns."), "{train}");
    assert!(
        train.contains("Column names by type (per-column statistics omitted for space):"),
        "{train}"
    );
    assert!(
        train.contains("- int (38): Id, MSSubClass, LotFrontage,"),
        "{train}"
    );
    assert!(
        train.contains(
            "- string (43; unique values in parentheses): MSZoning (5), Street (2), Alley (2),"
        ),
        "{train}"
    );
    assert!(
        train.contains("Missing values: LotFrontage 17.7%, Alley 93.8%,"),
        "{train}"
    );
    assert!(
        train.contains("Only in this file, not in test.csv: SalePrice."),
        "{train}"
    );
    assert!(
        train.contains("- SalePrice: int, range [34900, 755000], mean 180921.2, 663 unique"),
        "{train}"
    );

    let test = section(&out, "### test.csv");
    assert!(test.contains("1459 rows x 80 columns."), "{test}");
    // The same columns as train.csv's but the target: not profiled twice, only what differs.
    assert!(
        test.contains("Columns: those of train.csv without SalePrice.\nUnlike there"),
        "{test}"
    );
    assert!(
        test.contains("MSZoning") && !test.contains("LotArea"),
        "{test}"
    );

    let sample = section(&out, "### sample_submission.csv");
    assert!(
        sample.contains("1459 rows x 2 columns.\nColumns:"),
        "small tables stay full:\n{sample}"
    );
    assert!(
        sample.contains("- Id: int, range [1461, 2919], mean 2190, all distinct"),
        "{sample}"
    );

    let description = section(&out, "### data_description.txt");
    assert!(
        description.contains("Text, 13.4 kB, 523 lines; first 12 lines:"),
        "{description}"
    );
    assert!(
        description.contains("MSSubClass: Identifies the type of dwelling"),
        "{description}"
    );

    let again = preview_dir(&shared("house_prices"), &PreviewOptions::default()).expect("preview");
    assert_eq!(out, again, "deterministic");
}

#[test]
fn house_prices_full_profile_has_per_column_statistics() {
    let out = preview_dir(&shared("house_prices"), &unlimited()).expect("preview");
    assert!(
        TokenCounter::new().count(&out) > DEFAULT_MAX_TOKENS,
        "the default budget forces compaction"
    );
    let train = section(&out, "### train.csv");
    assert_eq!(
        train.lines().filter(|l| l.starts_with("- ")).count(),
        81,
        "{train}"
    );
    for line in [
        "- Id: int, range [1, 1460], mean 730.5, all distinct",
        "- MSZoning: string, 5 values: RL (1151), RM (218), FV (65), RH (16), \"C (all)\" (10)",
        "- LotFrontage: int, 259 missing (17.7%), range [21, 313], mean 70.05, 110 unique",
        "- Alley: string, 1369 missing (93.8%), 2 values: Grvl (50), Pave (41)",
        "- CentralAir: string, 2 values: Y (1365), N (95)",
        "- YrSold: int, values: 2006 (314), 2007 (329), 2008 (304), 2009 (338), 2010 (175)",
        "- SalePrice: int, range [34900, 755000], mean 180921.2, 663 unique",
    ] {
        assert!(
            train.lines().any(|l| l == line),
            "missing {line:?} in:\n{train}"
        );
    }
    let neighborhood = train
        .lines()
        .find(|l| l.starts_with("- Neighborhood:"))
        .expect("line");
    assert!(
        neighborhood.contains("25 unique, top: NAmes (225), CollgCr (150)"),
        "{neighborhood}"
    );
}

#[test]
fn house_prices_tight_budget_truncates_at_a_line() {
    let options = PreviewOptions {
        max_tokens: 400,
        ..PreviewOptions::default()
    };
    let out = preview_dir(&shared("house_prices"), &options).expect("preview");
    let tokens = options.tokens.count(&out);
    assert!(tokens <= 400, "{tokens}");
    assert!(out.starts_with("## Files\nhouse_prices/"), "{out}");
    assert!(out.ends_with(TRUNCATED), "{out}");
}

#[test]
fn bitcoin_price_is_shown_in_full_with_a_date_column() {
    let out = preview_dir(&shared("bitcoin_price"), &PreviewOptions::default()).expect("preview");
    let tokens = TokenCounter::new().count(&out);
    assert!(tokens <= DEFAULT_MAX_TOKENS, "{tokens}");
    assert!(
        out.contains("bitcoin_price/  (1 file, 42.0 kB)\n  BTC-USD.csv  (42.0 kB)"),
        "{out}"
    );
    let btc = section(&out, "### BTC-USD.csv");
    // The file holds 500 weekly data rows after its header line.
    assert!(btc.contains("500 rows x 7 columns.\nColumns:"), "{btc}");
    for line in [
        "- Date: date, range [2014-09-15, 2024-04-02], all distinct",
        "- Open: float, range [211.471, 71333.5], mean 15714.3, all distinct",
        "- Adj Close: float, range [210.339, 71333.6], mean 15846.1, all distinct",
    ] {
        assert!(
            btc.lines().any(|l| l == line),
            "missing {line:?} in:\n{btc}"
        );
    }
    let volume = btc
        .lines()
        .find(|l| l.starts_with("- Volume:"))
        .expect("volume");
    assert!(
        volume.starts_with("- Volume: int, range [80679570, 766679775805]"),
        "{volume}"
    );
    assert_eq!(
        out,
        preview_dir(&shared("bitcoin_price"), &unlimited()).expect("preview")
    );
}

/// Every file under `dir` as `(relative path, size)`, as a bundle's manifest lists it.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let bundle =
        crate::bundle::Manifest::of_dir(dir, &crate::bundle::Limits::default()).expect("manifest");
    bundle.files.into_iter().map(|f| (f.path, f.size)).collect()
}

/// Copies of the first `max` bytes of each asked file, as a stored bundle's source gives them,
/// counting the bytes handed out.
struct Prefixes<'a> {
    dir: &'a Path,
    copies: tempfile::TempDir,
    max: u64,
    given: std::cell::Cell<u64>,
}

impl HeadSource for Prefixes<'_> {
    fn head(&self, rel_path: &str, wanted: u64) -> std::io::Result<Head> {
        let bytes = std::fs::read(self.dir.join(rel_path))?;
        let keep = (wanted.min(self.max) as usize).min(bytes.len());
        let path = self.copies.path().join(rel_path.replace('/', "_"));
        std::fs::write(&path, &bytes[..keep])?;
        self.given.set(self.given.get() + keep as u64);
        Ok(Head {
            path,
            complete: keep == bytes.len(),
        })
    }
}

/// A listing read through whole copies renders exactly what the walk of the directory does.
#[test]
fn a_listing_previews_like_the_directory_it_lists() {
    for name in ["house_prices", "bitcoin_price"] {
        let dir = shared(name);
        let options = PreviewOptions::default();
        let walked = preview_dir(&dir, &options).expect("preview");
        let listed = preview_listing(name, &listing(&dir), &InPlace(&dir), &options);
        assert_eq!(listed, walked, "{name}");
    }
}

/// From heads only, the tree keeps the real sizes, tables say their row counts are
/// estimated, and only the heads' bytes were read.
#[test]
fn a_listing_read_through_heads_estimates_what_it_did_not_read() {
    let dir = shared("house_prices");
    let heads = Prefixes {
        dir: &dir,
        copies: tempfile::tempdir().expect("temporary directory"),
        max: 20_000,
        given: std::cell::Cell::new(0),
    };
    let options = PreviewOptions::default();
    let out = preview_listing("house_prices", &listing(&dir), &heads, &options);
    let walked = preview_dir(&dir, &options).expect("preview");
    assert_eq!(
        section(&out, "## Files"),
        section(&walked, "## Files"),
        "the tree shows the real sizes"
    );
    assert!(
        out.contains("estimated from file size"),
        "a table read from a head is estimated:\n{out}"
    );
    assert!(
        heads.given.get() <= 4 * 20_000,
        "only heads were read: {} bytes",
        heads.given.get()
    );
}
