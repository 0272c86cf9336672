//! Preview behaviour on fixtures made in temporary directories.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::*;

pub(super) fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, bytes).expect("write");
}

pub(super) fn preview(dir: &Path) -> String {
    preview_dir(dir, &PreviewOptions::default()).expect("preview")
}

pub(super) fn unlimited() -> PreviewOptions {
    PreviewOptions {
        max_tokens: usize::MAX,
        ..PreviewOptions::default()
    }
}

/// The lines of `text` from the one starting with `start` up to the next blank line.
pub(super) fn section<'a>(text: &'a str, start: &str) -> &'a str {
    let begin = text
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in:\n{text}"));
    let rest = &text[begin..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

#[test]
fn tree_is_sorted_nested_sized_and_skips_hidden_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "b.txt", "b");
    write(dir.path(), "a.bin", vec![0u8; 2500]);
    write(dir.path(), ".secret", "hidden");
    write(dir.path(), ".git/config", "hidden");
    write(dir.path(), "sub/inner/deep.txt", "x".repeat(1_234_567));
    let out = preview(dir.path());
    let tree = section(&out, "## Files");
    let name = dir
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let expected = format!(
        "## Files\n{name}/  (3 files, 1.2 MB)\n  a.bin  (2.5 kB)\n  b.txt  (1 B)\n  \
         sub/  (1 file, 1.2 MB)\n    inner/  (1 file, 1.2 MB)\n      deep.txt  (1.2 MB)"
    );
    assert_eq!(tree, expected);
    assert!(!out.contains("secret") && !out.contains(".git"), "{out}");
    assert_eq!(out, preview(dir.path()), "deterministic");
}

#[test]
fn per_directory_limit_elides_entries_and_their_descriptions() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..45 {
        write(
            dir.path(),
            &format!("notes/n{i:02}.txt"),
            format!("note {i}"),
        );
    }
    for i in 0..5 {
        write(
            dir.path(),
            &format!("notes/img{i}.png"),
            [0x89, b'P', b'N', b'G', 0, 0],
        );
    }
    let options = PreviewOptions {
        max_entries_per_dir: 10,
        ..unlimited()
    };
    let out = preview_dir(dir.path(), &options).expect("preview");
    assert!(out.contains("notes/  (50 files, "), "{out}");
    assert!(out.contains("  img0.png  (6 B)"), "{out}");
    assert!(
        out.contains("    ... and 40 more files (40 .txt, "),
        "{out}"
    );
    assert!(out.contains("### notes/n04.txt"), "{out}");
    assert!(
        !out.contains("n05.txt"),
        "elided files are neither listed nor described:\n{out}"
    );
    assert!(
        !out.contains("### notes/img0.png"),
        "binary files get no section:\n{out}"
    );
}

#[test]
fn described_files_are_capped_in_tree_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..6 {
        write(dir.path(), &format!("f{i}.txt"), format!("file {i}"));
    }
    let options = PreviewOptions {
        max_described_files: 4,
        ..unlimited()
    };
    let out = preview_dir(dir.path(), &options).expect("preview");
    assert!(
        out.contains("### f3.txt") && !out.contains("### f4.txt"),
        "{out}"
    );
    assert!(
        out.ends_with("(2 more listed files not described.)"),
        "{out}"
    );
    assert!(
        out.contains("  f5.txt  (6 B)"),
        "still listed in the tree:\n{out}"
    );
}

#[test]
fn deep_trees_stop_expanding_and_many_directories_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "l1/l2/l3/l4/l5/l6/leaf.txt", "leaf");
    for i in 0..30 {
        write(dir.path(), &format!("many/d{i:02}/f.txt"), "f");
    }
    let out = preview_dir(dir.path(), &unlimited()).expect("preview");
    assert!(
        out.contains("\n          l5/  (1 file, 4 B) [not expanded]\n"),
        "{out}"
    );
    assert!(!out.contains("l6/"), "{out}");
    assert!(!out.contains("leaf.txt"), "{out}");
    assert!(
        out.contains("    ... and 10 more directories (holding 10 files)"),
        "{out}"
    );
}

#[test]
fn scan_limit_marks_totals_as_lower_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..20 {
        write(dir.path(), &format!("f{i:02}.bin"), [0u8]);
    }
    let options = PreviewOptions {
        max_scanned_entries: 5,
        ..unlimited()
    };
    let out = preview_dir(dir.path(), &options).expect("preview");
    assert!(out.contains("(at least 5 files, 5 B)"), "{out}");
}

#[test]
fn csv_columns_get_types_missing_shares_ranges_and_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("id,price,flag,when,city,name,empty,mixed\n");
    for i in 0..40 {
        let price = if i % 10 == 0 {
            "NA".to_string()
        } else {
            format!("{}.5", i * 3)
        };
        let city = ["Paris", "Lyon", "Nice"][i % 3];
        let flag = if i % 4 == 0 { "True" } else { "False" };
        let mixed = if i == 7 {
            "n/a-ish".to_string()
        } else {
            i.to_string()
        };
        let _ = writeln!(
            csv,
            "{i},{price},{flag},2024-01-{:02},{city},user{},,{mixed}",
            i % 28 + 1,
            i % 25
        );
    }
    write(dir.path(), "data.csv", csv);
    let out = preview(dir.path());
    let s = section(&out, "### data.csv");
    let lines = [
        "40 rows x 8 columns.",
        "- id: int, range [0, 39], mean 19.5, all distinct",
        "- price: float, 4 missing (10.0%), range [3.5, 117.5], mean 60.5, all distinct",
        "- flag: bool, 2 values: False (30), True (10)",
        "- when: date, range [2024-01-01, 2024-01-28], 28 unique",
        "- city: string, 3 values: Paris (14), Lyon (13), Nice (13)",
        "- name: string, 25 unique, top: user0 (2), user1 (2), user10 (2), user11 (2), user12 (2)",
        "- empty: empty, 40 missing (100.0%), no values",
        "- mixed: string (97.5% numeric), all distinct, e.g. 0, 1, 10",
    ];
    for line in lines {
        assert!(s.lines().any(|l| l == line), "missing {line:?} in:\n{s}");
    }
}

#[test]
fn ragged_rows_are_reported_and_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "ragged.csv",
        "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n",
    );
    let out = preview(dir.path());
    let s = section(&out, "### ragged.csv");
    assert!(s.contains("4 rows x 3 columns."), "{s}");
    assert!(
        s.contains(
            "Ragged: 2 rows have a field count other than the header's 3 (first: line 3 with 2)"
        ),
        "{s}"
    );
    assert!(s.contains("- c: int, 1 missing (25.0%)"), "{s}");
}

#[test]
fn empty_blank_header_only_and_binary_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "empty.csv", "");
    write(dir.path(), "blank.csv", "\n\n");
    write(dir.path(), "header.csv", "x,,z\n");
    write(dir.path(), "fake.csv", [1u8, 0, 2, 0, 3, 255]);
    write(dir.path(), "empty.json", "");
    let out = preview(dir.path());
    assert!(
        section(&out, "### empty.csv").contains("Empty file."),
        "{out}"
    );
    assert!(
        section(&out, "### empty.json").contains("Empty file."),
        "{out}"
    );
    assert!(
        section(&out, "### blank.csv").contains("No header and no rows"),
        "{out}"
    );
    assert!(
        section(&out, "### header.csv").contains("Header only, columns: x, (unnamed), z"),
        "{out}"
    );
    assert!(
        section(&out, "### fake.csv").contains("Could not read as a table: binary content"),
        "{out}"
    );
}

#[test]
fn tsv_semicolons_bom_and_invalid_utf8_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "t.tsv", "k\tv\na\t1\nb\t2\n");
    write(dir.path(), "semi.csv", "\u{feff}k;v\nx;1,5\ny;2,5\n");
    write(dir.path(), "latin1.csv", b"name,n\nJos\xe9,1\nZo\xeb,2\n");
    let out = preview(dir.path());
    let tsv = section(&out, "### t.tsv");
    assert!(tsv.contains("2 rows x 2 columns (tab-separated)."), "{tsv}");
    assert!(tsv.contains("- v: int, values: 1, 2"), "{tsv}");
    let semi = section(&out, "### semi.csv");
    assert!(
        semi.contains("(';'-separated)") && semi.contains("\n- k: string"),
        "{semi}"
    );
    let latin = section(&out, "### latin1.csv");
    assert!(
        latin.contains("not valid UTF-8") && latin.contains("Jos\u{fffd}"),
        "{latin}"
    );
}

#[test]
fn row_caps_profile_the_first_rows_and_estimate_beyond_the_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("x,y\n");
    for i in 0..1000 {
        let _ = writeln!(csv, "{i},{}", i % 7);
    }
    write(dir.path(), "big.csv", csv);
    let run = |options: PreviewOptions| {
        let out = preview_dir(dir.path(), &options).expect("preview");
        section(&out, "### big.csv").to_string()
    };

    let s = run(PreviewOptions {
        max_csv_rows: 100,
        ..PreviewOptions::default()
    });
    assert!(
        s.contains("1000 rows x 2 columns; statistics below cover the first 100 rows only."),
        "{s}"
    );
    assert!(s.contains("- x: int, range [0, 99]"), "{s}");

    let s = run(PreviewOptions {
        max_csv_cells: 50,
        ..PreviewOptions::default()
    });
    assert!(
        s.contains("1000 rows x 2 columns; statistics below cover the first 25 rows only."),
        "{s}"
    );

    let s = run(PreviewOptions {
        max_csv_rows: 100,
        max_counted_rows: 200,
        ..PreviewOptions::default()
    });
    let about: u64 = s
        .split("About ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{s}"));
    assert!((800..=1300).contains(&about), "{s}");
    assert!(s.contains("(estimated from file size; 200 counted) x 2 columns; statistics below cover the first 100 rows only."), "{s}");

    let s = run(PreviewOptions::default());
    assert!(s.contains("1000 rows x 2 columns.\nColumns:"), "{s}");
}

#[test]
fn dangling_symlinks_and_linked_directories_are_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "real/a.txt", "a");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("loop")).expect("link");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), dir.path().join("gone.csv"))
            .expect("link");
        let out = preview(dir.path());
        assert!(out.contains("  loop/  (symlink, not followed)"), "{out}");
        assert!(
            out.contains("  gone.csv  (unreadable)") && !out.contains("### gone.csv"),
            "{out}"
        );
    }
}

#[test]
fn missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err =
        preview_dir(&dir.path().join("absent"), &PreviewOptions::default()).expect_err("error");
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn helpers_size_truncate_and_prefix() {
    assert_eq!(human_size(0), "0 B");
    assert_eq!(human_size(999), "999 B");
    assert_eq!(human_size(451_405), "451.4 kB");
    assert_eq!(human_size(999_960), "1.0 MB");
    assert_eq!(human_size(3_200_000_000), "3.2 GB");
    assert_eq!(prefix_chars("aé🙂b", 3), "aé🙂");
    assert_eq!(prefix_bytes("aé🙂b", 4), "aé");
    assert_eq!(shorten("abcdef", 4), "abc…");
    let tokens = TokenCounter::new();
    assert_eq!(truncate_with_marker("short", 10, &tokens), "short");
    let lines = "line\n".repeat(100);
    let cut = truncate_with_marker(&lines, 40, &tokens);
    assert!(
        cut.starts_with("line\nline") && tokens.count(&cut) <= 40,
        "{cut}"
    );
    assert!(
        cut.ends_with(&format!("line{TRUNCATED}")),
        "cut at a line break: {cut:?}"
    );
    // One long line is cut inside it.
    let line = "word ".repeat(100);
    let cut = truncate_with_marker(&line, 40, &tokens);
    assert!(
        cut.starts_with("word word") && cut.ends_with(TRUNCATED),
        "{cut}"
    );
    assert!(tokens.count(&cut) <= 40, "{}", tokens.count(&cut));
}

#[test]
fn a_test_table_with_the_training_columns_but_the_target_is_described_by_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "train.csv",
        "id,size,colour,price\n1,10,red,100\n2,20,blue,200\n3,30,red,300\n",
    );
    // `size` has a missing value only here; `colour` is numeric only here.
    write(dir.path(), "test.csv", "id,size,colour\n4,,1\n5,50,2\n");
    let out = preview_dir(dir.path(), &unlimited()).expect("preview");
    let test = section(&out, "### test.csv");
    assert_eq!(
        test,
        "### test.csv\n2 rows x 3 columns.\nColumns: those of train.csv without price.\n\
         Unlike there (another type, or missing values):\n\
         - size: int, 1 missing (50.0%), values: 50\n\
         - colour: int, values: 1, 2"
    );
    assert!(
        section(&out, "### train.csv").contains("- price: int"),
        "{out}"
    );

    // A column of its own makes a table worth profiling whole.
    write(dir.path(), "test.csv", "id,size,colour,extra\n4,40,red,x\n");
    let out = preview_dir(dir.path(), &unlimited()).expect("preview");
    assert!(
        section(&out, "### test.csv").contains("- extra: string"),
        "{out}"
    );
}
