//! Preview behaviour on JSON, text and over-budget fixtures made in temporary directories.

use std::fmt::Write as _;
use std::path::Path;

use super::tests::{preview, section, unlimited, write};
use super::*;

#[test]
fn json_structure_is_nested_with_array_shapes_and_optional_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut items = Vec::new();
    for i in 0..120 {
        let mut item = serde_json::json!({"id": i, "tags": ["a", "b"], "score": 0.5});
        if i % 2 == 0 {
            item["extra"] = serde_json::json!({"deep": {"deeper": [1, 2, 3]}});
        }
        items.push(item);
    }
    let doc = serde_json::json!({"name": "demo", "version": 2, "items": items, "none": null});
    write(
        dir.path(),
        "doc.json",
        serde_json::to_string(&doc).expect("json"),
    );
    let out = preview(dir.path());
    let s = section(&out, "### doc.json");
    let expected = [
        "JSON: object",
        "  \"name\": string, e.g. \"demo\"",
        "  \"version\": int, e.g. 2",
        "  \"items\": array[120] of object",
        "    \"id\": int, e.g. 0",
        "    \"tags\": array[2] of string",
        "    \"extra\": object (in 60 of 120)",
        "      \"deep\": object",
        "        \"deeper\": array[3] of int",
        "  \"none\": null",
    ];
    for line in expected {
        assert!(s.lines().any(|l| l == line), "missing {line:?} in:\n{s}");
    }
    assert!(
        !s.contains("demo\", \"version"),
        "content is not dumped:\n{s}"
    );
}

#[test]
fn json_maps_invalid_json_and_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let map: serde_json::Map<String, serde_json::Value> = (0..50)
        .map(|i| {
            (
                format!("id{i}"),
                serde_json::json!({"label": i % 3, "text": "hello"}),
            )
        })
        .collect();
    write(
        dir.path(),
        "map.json",
        serde_json::to_string(&map).expect("json"),
    );
    write(dir.path(), "broken.json", "{\"a\": 1,\n");
    write(
        dir.path(),
        "rows.jsonl",
        "{\"a\": 1}\n{\"a\": 2, \"b\": \"x\"}\nnot json\n\n",
    );
    let out = preview(dir.path());
    let m = section(&out, "### map.json");
    assert!(m.contains("JSON: object (map, 50 keys)"), "{m}");
    assert!(
        m.contains("<key, e.g. \"id0\", \"id1\", \"id10\">: object"),
        "{m}"
    );
    assert!(m.contains("\"label\": int"), "{m}");
    let b = section(&out, "### broken.json");
    assert!(
        b.contains("Not valid JSON (") && b.contains("{\"a\": 1,"),
        "{b}"
    );
    let l = section(&out, "### rows.jsonl");
    assert!(
        l.contains("JSON Lines: 3 records, 1 invalid lines; each record: object"),
        "{l}"
    );
    assert!(l.contains("\"b\": string, e.g. \"x\" (in 1 of 2)"), "{l}");
}

#[test]
fn short_text_in_full_long_text_as_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "README.md", "# Task\nPredict y from x.\n");
    let long: String = (0..500)
        .map(|i| format!("line {i} with some words\n"))
        .collect();
    write(dir.path(), "long.txt", long);
    write(dir.path(), "weird.txt", b"caf\xe9 au lait\n");
    write(dir.path(), "model.pkl", [0x80u8, 4, 0x95, 0, 0, 1]);
    let out = preview(dir.path());
    assert!(
        out.contains("### README.md\nText, 25 B, in full:\n```\n# Task\nPredict y from x.\n```"),
        "{out}"
    );
    let l = section(&out, "### long.txt");
    assert!(
        l.contains("Text, 12.4 kB, 500 lines; first 12 lines:"),
        "{l}"
    );
    assert!(
        l.contains("line 11 with some words\n```") && !l.contains("line 12 "),
        "{l}"
    );
    assert!(
        section(&out, "### weird.txt").contains("caf\u{fffd} au lait"),
        "{out}"
    );
    assert!(
        !out.contains("### model.pkl") && out.contains("model.pkl  (6 B)"),
        "{out}"
    );
}

fn wide_tables(dir: &Path) {
    for name in ["train.csv", "test.csv"] {
        let cols: Vec<String> = (0..150).map(|c| format!("feature_{c}")).collect();
        let mut csv = cols.join(",");
        if name == "train.csv" {
            csv.push_str(",target");
        }
        csv.push('\n');
        for r in 0..50 {
            let row: Vec<String> = (0..150).map(|c| format!("{}", (r * c) % 17)).collect();
            csv.push_str(&row.join(","));
            if name == "train.csv" {
                let _ = write!(csv, ",{}", r * 2);
            }
            csv.push('\n');
        }
        write(dir, name, csv);
    }
}

#[test]
fn compact_fallback_groups_columns_by_type_and_keeps_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    wide_tables(dir.path());
    let full = preview_dir(dir.path(), &unlimited()).expect("preview");
    let tokens = TokenCounter::new();
    assert!(
        tokens.count(&full) > DEFAULT_MAX_TOKENS && full.contains("- feature_3: int"),
        "{full}"
    );
    let out = preview(dir.path());
    assert!(
        tokens.count(&out) <= DEFAULT_MAX_TOKENS,
        "{}",
        tokens.count(&out)
    );
    let train = section(&out, "### train.csv");
    assert!(train.contains("50 rows x 151 columns."), "{train}");
    assert!(
        train.contains("Column names by type (per-column statistics omitted for space):"),
        "{train}"
    );
    assert!(
        train.contains("- int (151): feature_0 … feature_149 (150), target\n"),
        "{train}"
    );
    assert!(train.contains("No missing values."), "{train}");
    assert!(
        train.contains("Only in this file, not in test.csv: target.\n- target: int, range [0, 98]"),
        "{train}"
    );
}

#[test]
fn budget_is_never_exceeded_and_utf8_is_never_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    wide_tables(dir.path());
    write(dir.path(), "ünïcödé.txt", "日本語のテキスト🙂\n".repeat(80));
    write(dir.path(), "zz.csv", "名前,値\n東京,1\n大阪,2\n");
    let full = preview_dir(dir.path(), &unlimited()).expect("preview");
    let tokens = TokenCounter::new();
    let marker = tokens.count(TRUNCATED);
    for max_tokens in (0..120)
        .step_by(3)
        .chain([marker, marker + 1, 400, 1000, 1999])
    {
        let options = PreviewOptions {
            max_tokens,
            tokens: tokens.clone(),
            ..PreviewOptions::default()
        };
        let out = preview_dir(dir.path(), &options).expect("preview");
        assert!(tokens.count(&out) <= max_tokens, "{max_tokens}: {out}");
        if (30..400).contains(&max_tokens) {
            assert!(out.ends_with(TRUNCATED), "{max_tokens}: {out:?}");
            assert!(out.starts_with("## Files\n"), "{max_tokens}: {out:?}");
        }
    }
    assert!(
        full.contains("- 名前: string, 2 values: 大阪, 東京"),
        "{full}"
    );
}
