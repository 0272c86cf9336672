//! JSON and JSON Lines files: their structure (keys, value types, nesting, array lengths and
//! element shapes, map-like objects folded), never their full content.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader};

use serde_json::Value;

use super::column::fmt_num;
use super::{Described, PreviewOptions, Section, human_size, shorten, text};

/// Array elements merged into the element shape; the rest are only counted.
const MAX_ELEMENTS: usize = 1000;
/// Keys tracked per object shape.
const MAX_KEYS: usize = 500;
/// Nesting levels analysed.
const MAX_DEPTH: usize = 12;
/// Objects with more keys than this, all holding the same kind of value, are shown as maps.
const MAP_MIN_KEYS: usize = 20;
/// JSON Lines records analysed.
const MAX_RECORDS: usize = 1000;

/// The merged shape of every value seen at one place in the document.
#[derive(Debug, Clone, Default)]
struct Shape {
    seen: u64,
    nulls: u64,
    bools: u64,
    ints: u64,
    floats: u64,
    strings: u64,
    example: Option<String>,
    array: Option<Box<ArrayShape>>,
    object: Option<Box<ObjectShape>>,
}

#[derive(Debug, Clone, Default)]
struct ArrayShape {
    count: u64,
    min_len: usize,
    max_len: usize,
    /// Elements were left out of `elem` (more than [`MAX_ELEMENTS`]).
    sampled: bool,
    elem: Shape,
}

#[derive(Debug, Clone, Default)]
struct ObjectShape {
    count: u64,
    keys: Vec<String>,
    fields: HashMap<String, Shape>,
    /// Key occurrences beyond [`MAX_KEYS`] distinct keys.
    untracked: u64,
    max_keys: usize,
}

impl Shape {
    fn add(&mut self, value: &Value, depth: usize) {
        self.seen += 1;
        match value {
            Value::Null => self.nulls += 1,
            Value::Bool(_) => self.bools += 1,
            Value::Number(n) => {
                if n.is_f64() {
                    self.floats += 1;
                } else {
                    self.ints += 1;
                }
                if self.example.is_none() {
                    self.example = Some(n.as_f64().map_or_else(|| n.to_string(), fmt_num));
                }
            }
            Value::String(s) => {
                self.strings += 1;
                if self.example.is_none() {
                    self.example = Some(format!("{:?}", shorten(s, 40)));
                }
            }
            Value::Array(items) => {
                let a = self.array.get_or_insert_with(|| {
                    Box::new(ArrayShape {
                        min_len: usize::MAX,
                        ..ArrayShape::default()
                    })
                });
                a.count += 1;
                a.min_len = a.min_len.min(items.len());
                a.max_len = a.max_len.max(items.len());
                if depth < MAX_DEPTH {
                    for item in items.iter().take(MAX_ELEMENTS) {
                        a.elem.add(item, depth + 1);
                    }
                }
                a.sampled |= items.len() > MAX_ELEMENTS;
            }
            Value::Object(map) => {
                let o = self.object.get_or_insert_with(Box::default);
                o.count += 1;
                o.max_keys = o.max_keys.max(map.len());
                if depth >= MAX_DEPTH {
                    return;
                }
                // In key order whatever order the parser kept (serde_json's
                // `preserve_order`, which another crate of a build may turn on).
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (key, v) in entries {
                    if let Some(field) = o.fields.get_mut(key) {
                        field.add(v, depth + 1);
                    } else if o.keys.len() < MAX_KEYS {
                        let mut field = Shape::default();
                        field.add(v, depth + 1);
                        o.keys.push(key.clone());
                        o.fields.insert(key.clone(), field);
                    } else {
                        o.untracked += 1;
                    }
                }
            }
        }
    }

    fn merge(&mut self, other: &Shape) {
        self.seen += other.seen;
        self.nulls += other.nulls;
        self.bools += other.bools;
        self.ints += other.ints;
        self.floats += other.floats;
        self.strings += other.strings;
        if self.example.is_none() {
            self.example.clone_from(&other.example);
        }
        if let Some(oa) = &other.array {
            let a = self.array.get_or_insert_with(|| {
                Box::new(ArrayShape {
                    min_len: usize::MAX,
                    ..ArrayShape::default()
                })
            });
            a.count += oa.count;
            a.min_len = a.min_len.min(oa.min_len);
            a.max_len = a.max_len.max(oa.max_len);
            a.sampled |= oa.sampled;
            a.elem.merge(&oa.elem);
        }
        if let Some(oo) = &other.object {
            let o = self.object.get_or_insert_with(Box::default);
            o.count += oo.count;
            o.max_keys = o.max_keys.max(oo.max_keys);
            o.untracked += oo.untracked;
            for key in &oo.keys {
                let field = &oo.fields[key];
                if let Some(mine) = o.fields.get_mut(key) {
                    mine.merge(field);
                } else if o.keys.len() < MAX_KEYS {
                    o.keys.push(key.clone());
                    o.fields.insert(key.clone(), field.clone());
                } else {
                    o.untracked += field.seen;
                }
            }
        }
    }

    /// The kinds of value seen here, without examples: "int | null", "array[3] of string".
    fn kinds(&self) -> String {
        let mut parts = Vec::new();
        for (n, name) in [
            (self.strings, "string"),
            (self.ints, "int"),
            (self.floats, "float"),
            (self.bools, "bool"),
        ] {
            if n > 0 {
                parts.push(name.to_string());
            }
        }
        if let Some(o) = &self.object {
            if o.keys.len() > MAP_MIN_KEYS && o.map_like() {
                parts.push(format!("object (map, {} keys)", o.max_keys));
            } else {
                parts.push("object".to_string());
            }
        }
        if let Some(a) = &self.array {
            let len = if a.min_len == a.max_len {
                a.max_len.to_string()
            } else {
                format!("{}-{}", a.min_len, a.max_len)
            };
            let elem = if a.elem.seen == 0 {
                "nothing".to_string()
            } else {
                a.elem.kinds()
            };
            parts.push(format!("array[{len}] of {elem}"));
        }
        if self.nulls > 0 {
            parts.push("null".to_string());
        }
        parts.join(" | ")
    }

    /// [`Shape::kinds`] plus an example when the value is a single scalar kind.
    fn inline(&self) -> String {
        let kinds = self.kinds();
        let scalar_only = self.array.is_none() && self.object.is_none();
        match &self.example {
            Some(example) if scalar_only => format!("{kinds}, e.g. {example}"),
            _ => kinds,
        }
    }

    /// The lines below this value: object fields, the element shape of arrays.
    fn nested(&self, indent: usize, depth: usize, limits: Limits, out: &mut String) {
        if let Some(o) = &self.object {
            o.render(indent, depth, limits, out);
        }
        if let Some(a) = &self.array {
            if a.sampled && a.elem.object.is_some() {
                let pad = "  ".repeat(indent);
                let _ = writeln!(
                    out,
                    "{pad}(element shape from the first {MAX_ELEMENTS} elements)"
                );
            }
            a.elem.nested(indent, depth, limits, out);
        }
    }
}

impl ObjectShape {
    /// Every key holds the same kind of value: a map from ids to records, say.
    fn map_like(&self) -> bool {
        let mut kinds = self.fields.values().map(Shape::kinds);
        match kinds.next() {
            Some(first) => kinds.all(|k| k == first),
            None => false,
        }
    }

    fn render(&self, indent: usize, depth: usize, limits: Limits, out: &mut String) {
        let pad = "  ".repeat(indent);
        if depth >= limits.depth {
            if !self.keys.is_empty() {
                let _ = writeln!(out, "{pad}... ({} keys, not expanded)", self.keys.len());
            }
            return;
        }
        if self.keys.len() > MAP_MIN_KEYS && self.map_like() {
            let mut merged = Shape::default();
            for field in self.fields.values() {
                merged.merge(field);
            }
            let examples: Vec<String> =
                self.keys.iter().take(3).map(|k| format!("{k:?}")).collect();
            let _ = writeln!(
                out,
                "{pad}<key, e.g. {}>: {}",
                examples.join(", "),
                merged.inline()
            );
            merged.nested(indent + 1, depth + 1, limits, out);
            return;
        }
        for key in self.keys.iter().take(limits.keys) {
            let field = &self.fields[key];
            let optional = if field.seen < self.count {
                format!(" (in {} of {})", field.seen, self.count)
            } else {
                String::new()
            };
            let _ = writeln!(out, "{pad}{key:?}: {}{optional}", field.inline());
            field.nested(indent + 1, depth + 1, limits, out);
        }
        let more = self.keys.len().saturating_sub(limits.keys) as u64 + self.untracked.min(1);
        if more > 0 {
            let total = self.max_keys.max(self.keys.len());
            let _ = writeln!(out, "{pad}... ({total} keys in all)");
        }
    }
}

/// How much of a shape is written out.
#[derive(Debug, Clone, Copy)]
struct Limits {
    depth: usize,
    keys: usize,
}

const FULL: Limits = Limits { depth: 6, keys: 40 };
const COMPACT: Limits = Limits { depth: 2, keys: 12 };

/// Describes a JSON (`lines == false`) or JSON Lines file.
pub(super) fn describe(file: &Described<'_>, lines: bool, options: &PreviewOptions) -> Section {
    let title = format!("### {}\n", file.rel_path);
    if lines {
        return describe_lines(file, &title, options);
    }
    if file.size > options.max_json_bytes || !file.complete {
        let note = format!("JSON, {}: too large to analyse", human_size(file.size));
        return text::head_section(file, &title, &note, options);
    }
    let parsed = std::fs::read(file.path)
        .map_err(|e| format!("unreadable: {}", e.kind()))
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string()));
    match parsed {
        Ok(value) => {
            let mut shape = Shape::default();
            shape.add(&value, 0);
            let render = |limits: Limits| {
                let mut out = format!("{title}JSON: {}\n", shape.inline());
                shape.nested(1, 0, limits, &mut out);
                out.trim_end().to_string()
            };
            Section::new(render(FULL), render(COMPACT))
        }
        Err(error) if error.starts_with("unreadable") => {
            let text = format!("{title}{error}");
            Section::new(text.clone(), text)
        }
        Err(error) => {
            let note = format!("Not valid JSON ({error})");
            text::head_section(file, &title, &note, options)
        }
    }
}

fn describe_lines(described: &Described<'_>, title: &str, options: &PreviewOptions) -> Section {
    let file = match File::open(described.path) {
        Ok(file) => file,
        Err(e) => {
            let text = format!("{title}unreadable: {}", e.kind());
            return Section::new(text.clone(), text);
        }
    };
    let mut shape = Shape::default();
    let (mut records, mut invalid) = (0u64, 0u64);
    let mut line = Vec::new();
    let mut reader = BufReader::new(file);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                invalid += 1;
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        records += 1;
        if records as usize <= MAX_RECORDS {
            match serde_json::from_slice::<Value>(&line) {
                Ok(value) => shape.add(&value, 1),
                Err(_) => invalid += 1,
            }
        }
    }
    if shape.seen == 0 {
        let note = format!("JSON Lines, {records} lines, none parsed as JSON");
        return text::head_section(described, title, &note, options);
    }
    let analysed = records.min(MAX_RECORDS as u64);
    // From a head only, the records read are a lower bound.
    let at_least = if described.complete { "" } else { "at least " };
    let render = |limits: Limits| {
        let mut out = format!("{title}JSON Lines: {at_least}{records} records");
        if analysed < records {
            let _ = write!(out, " (shape from the first {analysed})");
        }
        if invalid > 0 {
            let _ = write!(out, ", {invalid} invalid lines");
        }
        let _ = writeln!(out, "; each record: {}", shape.inline());
        shape.nested(1, 0, limits, &mut out);
        out.trim_end().to_string()
    };
    Section::new(render(FULL), render(COMPACT))
}
