//! CSV/TSV files: a streaming profile of every column (up to a row cap) and its rendering,
//! full (one line per column) or compact (column names grouped by type).

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;

use super::column::{ColumnStats, ColumnType, display_name, percent};
use super::{Described, PreviewOptions, Section, read_head};

/// Names listed per type group in the compact rendering.
const COMPACT_NAMES_PER_TYPE: usize = 150;
/// Columns with missing values listed in the compact rendering.
const COMPACT_MISSING_LISTED: usize = 50;
/// Columns set apart as "only in this file" (likely targets), at most.
const MAX_ONLY_HERE: usize = 5;

/// What reading one delimited file found.
#[derive(Debug, Clone)]
pub(super) struct TableProfile {
    pub rel_path: String,
    pub delimiter: u8,
    pub columns: Vec<ColumnStats>,
    /// Data rows counted (the header excluded).
    pub rows: u64,
    /// Data rows whose cells went into the column statistics (the first ones).
    pub profiled: u64,
    /// Estimated total data rows when counting stopped before the end of the file.
    pub estimated_rows: Option<u64>,
    /// Rows whose field count differs from the header's, and the first such row.
    pub ragged: u64,
    pub first_ragged: Option<(u64, usize)>,
    pub not_utf8: bool,
    /// Why reading stopped early or never started.
    pub error: Option<String>,
}

/// Profiles `path`: column statistics over the first `options.max_csv_rows` data rows (fewer
/// for wide tables, see `max_csv_cells`), rows counted up to `options.max_counted_rows`.
/// Never fails: problems end up in [`TableProfile::error`].
///
/// Long because it is one streaming pass over the file (rows sampled, counted and profiled
/// as they are read); split up, the pass's shared state would travel through every piece.
pub(super) fn profile(
    described: &Described<'_>,
    delimiter: u8,
    options: &PreviewOptions,
) -> TableProfile {
    let path = described.path;
    let mut p = TableProfile {
        rel_path: described.rel_path.to_string(),
        delimiter,
        columns: Vec::new(),
        rows: 0,
        profiled: 0,
        estimated_rows: None,
        ragged: 0,
        first_ragged: None,
        not_utf8: false,
        error: None,
    };
    let head = match read_head(path, 64 * 1024) {
        Ok(head) => head,
        Err(e) => {
            p.error = Some(format!("unreadable: {}", e.kind()));
            return p;
        }
    };
    if head.contains(&0) {
        p.error = Some("binary content, not a delimited text table".to_string());
        return p;
    }
    p.delimiter = sniff_delimiter(&head, delimiter);
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => {
            p.error = Some(format!("unreadable: {}", e.kind()));
            return p;
        }
    };
    let size = described.size;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(p.delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 16, file));
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => return p,
        Err(e) => {
            p.error = Some(format!("stopped at line {}: {e}", line_of(&e)));
            return p;
        }
    }
    p.columns = record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let name = lossy(field, &mut p.not_utf8);
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                &name
            };
            ColumnStats::new(name.trim().to_string())
        })
        .collect();
    let width = p.columns.len().max(1) as u64;
    let profile_rows =
        (options.max_csv_rows as u64).min((options.max_csv_cells as u64 / width).max(1));
    let count_rows = (options.max_counted_rows as u64).max(profile_rows);
    loop {
        if p.rows >= count_rows {
            let read = reader.position().byte();
            // Peek whether anything is left before calling the count an estimate.
            match reader.read_byte_record(&mut record) {
                Ok(true) => {
                    let estimate = (p.rows as f64 * size as f64 / read.max(1) as f64).round();
                    p.estimated_rows = Some((estimate as u64).max(p.rows + 1));
                }
                Ok(false) => {}
                Err(e) => p.error = Some(format!("stopped at line {}: {e}", line_of(&e))),
            }
            break;
        }
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => {
                // A head ends before the file does: the rest is estimated from the size.
                let read = reader.position().byte();
                if !described.complete && read < size {
                    let estimate = (p.rows as f64 * size as f64 / read.max(1) as f64).round();
                    p.estimated_rows = Some((estimate as u64).max(p.rows + 1));
                }
                break;
            }
            Err(e) => {
                p.error = Some(format!("stopped at line {}: {e}", line_of(&e)));
                break;
            }
        }
        p.rows += 1;
        if record.len() != p.columns.len() {
            p.ragged += 1;
            if p.first_ragged.is_none() {
                let line = record.position().map_or(p.rows + 1, |pos| pos.line());
                p.first_ragged = Some((line, record.len()));
            }
        }
        if p.rows <= profile_rows {
            p.profiled = p.rows;
            for (i, column) in p.columns.iter_mut().enumerate() {
                match record.get(i) {
                    Some(field) => column.add(Some(&lossy(field, &mut p.not_utf8))),
                    None => column.add(None),
                }
            }
        }
    }
    p
}

fn line_of(e: &csv::Error) -> u64 {
    e.position().map_or(0, |pos| pos.line())
}

fn lossy<'a>(field: &'a [u8], not_utf8: &mut bool) -> std::borrow::Cow<'a, str> {
    match std::str::from_utf8(field) {
        Ok(s) => s.into(),
        Err(_) => {
            *not_utf8 = true;
            String::from_utf8_lossy(field)
        }
    }
}

/// The delimiter of the first line: the given one unless it is absent there and `;` or a
/// tab is present.
fn sniff_delimiter(head: &[u8], given: u8) -> u8 {
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    if first.contains(&given) {
        return given;
    }
    [b'\t', b';', b'|', b',']
        .into_iter()
        .find(|d| first.contains(d))
        .unwrap_or(given)
}

impl TableProfile {
    fn column(&self, name: &str) -> Option<&ColumnStats> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns of this table absent from the most similar other table (sharing at least half
    /// of that table's columns): with train.csv and test.csv, the target. At most a few.
    fn only_here(&self, tables: &[&TableProfile]) -> Option<(String, Vec<usize>)> {
        let mut best: Option<(usize, &str, Vec<usize>)> = None;
        for other in tables {
            if other.rel_path == self.rel_path || other.columns.len() < 2 {
                continue;
            }
            let shared = self
                .columns
                .iter()
                .filter(|c| other.column(&c.name).is_some())
                .count();
            let extra: Vec<usize> = (0..self.columns.len())
                .filter(|&i| other.column(&self.columns[i].name).is_none())
                .collect();
            if shared * 2 < other.columns.len() || extra.is_empty() || extra.len() > MAX_ONLY_HERE {
                continue;
            }
            if best.as_ref().is_none_or(|(s, _, _)| shared > *s) {
                best = Some((shared, &other.rel_path, extra));
            }
        }
        best.map(|(_, path, extra)| (path.to_string(), extra))
    }

    /// The table whose columns are this one's and a few more (with test.csv, train.csv and
    /// its target), and those extra columns: this table is then described by reference to
    /// it, so the same columns are not profiled twice.
    fn narrower_copy_of<'t>(
        &self,
        tables: &[&'t TableProfile],
    ) -> Option<(&'t TableProfile, Vec<&'t str>)> {
        tables.iter().copied().find_map(|other| {
            let usable = other.rel_path != self.rel_path && other.rows > 0 && other.error.is_none();
            if !usable || !self.columns.iter().all(|c| other.column(&c.name).is_some()) {
                return None;
            }
            let extra: Vec<&str> = other
                .columns
                .iter()
                .filter(|c| self.column(&c.name).is_none())
                .map(|c| c.name.as_str())
                .collect();
            (!extra.is_empty() && extra.len() <= MAX_ONLY_HERE).then_some((other, extra))
        })
    }

    /// This table described as `wider`'s columns without `extra`, with the columns whose
    /// type differs from `wider`'s or that have missing values where `wider`'s have none.
    fn render_by_reference(
        &self,
        summary: String,
        wider: &TableProfile,
        extra: &[&str],
        options: &PreviewOptions,
    ) -> Section {
        let extra: Vec<String> = extra.iter().map(|n| display_name(n)).collect();
        let mut text = format!(
            "{summary}\nColumns: those of {} without {}.",
            wider.rel_path,
            extra.join(", ")
        );
        let differing: Vec<&ColumnStats> = self
            .columns
            .iter()
            .filter(|c| wider.column(&c.name).is_some_and(|w| c.differs_from(w)))
            .collect();
        if differing.is_empty() {
            return Section::new(text.clone(), text);
        }
        let mut full = text.clone();
        full.push_str("\nUnlike there (another type, or missing values):");
        for column in &differing {
            let _ = write!(full, "\n{}", column.render(options.max_listed_values));
        }
        let names: Vec<String> = differing
            .iter()
            .map(|c| format!("{} ({})", display_name(&c.name), c.column_type().label()))
            .collect();
        let _ = write!(
            text,
            "\nUnlike there (another type, or missing values): {}.",
            list(&names, COMPACT_MISSING_LISTED)
        );
        Section::new(full, text)
    }

    /// The header lines shared by both renderings.
    fn summary(&self) -> String {
        let mut out = format!("### {}\n", self.rel_path);
        if let Some(error) = &self.error
            && self.columns.is_empty()
        {
            let _ = write!(out, "Could not read as a table: {error}.");
            return out;
        }
        if self.columns.is_empty() {
            out.push_str("No header and no rows (blank file).");
            return out;
        }
        let sep = match self.delimiter {
            b',' => String::new(),
            b'\t' => " (tab-separated)".to_string(),
            d => format!(" ({:?}-separated)", d as char),
        };
        let cols = self.columns.len();
        let partial = if self.profiled < self.rows || self.estimated_rows.is_some() {
            format!(
                "; statistics below cover the first {} rows only",
                self.profiled
            )
        } else {
            String::new()
        };
        match self.estimated_rows {
            Some(total) => {
                let _ = write!(
                    out,
                    "About {total} rows (estimated from file size; {} counted) x {cols} \
                     columns{sep}{partial}.",
                    self.rows
                );
            }
            None => {
                let _ = write!(out, "{} rows x {cols} columns{sep}{partial}.", self.rows);
            }
        }
        if let Some((line, fields)) = self.first_ragged {
            let _ = write!(
                out,
                "\nRagged: {} rows have a field count other than the header's {cols} (first: \
                 line {line} with {fields}); missing fields count as missing, extra ones are ignored.",
                self.ragged
            );
        }
        if self.not_utf8 {
            out.push_str("\nSome bytes are not valid UTF-8 (shown as \u{fffd}).");
        }
        if let Some(error) = &self.error {
            let _ = write!(out, "\nReading stopped early: {error}.");
        }
        out
    }

    /// Both renderings; `tables` are every table of the preview.
    ///
    /// Long because the full and the compact rendering are written side by side in one pass
    /// over the columns, so they cannot drift apart.
    pub(super) fn render(&self, tables: &[&TableProfile], options: &PreviewOptions) -> Section {
        let summary = self.summary();
        if self.columns.is_empty() {
            return Section::new(summary.clone(), summary);
        }
        if self.rows == 0 {
            let names: Vec<String> = self.columns.iter().map(|c| display_name(&c.name)).collect();
            let text = format!("{summary}\nHeader only, columns: {}", names.join(", "));
            return Section::new(text.clone(), text);
        }
        if let Some((wider, extra)) = self.narrower_copy_of(tables) {
            return self.render_by_reference(summary, wider, &extra, options);
        }
        let only_here = self.only_here(tables);
        let only_line = only_here.as_ref().map(|(other, idx)| {
            let names: Vec<String> = idx
                .iter()
                .map(|&i| display_name(&self.columns[i].name))
                .collect();
            format!("Only in this file, not in {other}: {}.", names.join(", "))
        });

        let mut full = summary.clone();
        if let Some(line) = &only_line {
            let _ = write!(full, "\n{line}");
        }
        full.push_str("\nColumns:");
        for column in &self.columns {
            let _ = write!(full, "\n{}", column.render(options.max_listed_values));
        }

        let mut compact = summary;
        compact.push_str("\nColumn names by type (per-column statistics omitted for space):");
        for ty in [
            ColumnType::Int,
            ColumnType::Float,
            ColumnType::Bool,
            ColumnType::Date,
            ColumnType::String,
            ColumnType::Empty,
        ] {
            let columns: Vec<&ColumnStats> = self
                .columns
                .iter()
                .filter(|c| c.column_type() == ty)
                .collect();
            if columns.is_empty() {
                continue;
            }
            let categorical = matches!(ty, ColumnType::String | ColumnType::Bool);
            let names: Vec<String> = if categorical {
                columns
                    .iter()
                    .map(|c| format!("{} ({})", display_name(&c.name), c.distinct_text()))
                    .collect()
            } else {
                collapse_runs(
                    &columns
                        .iter()
                        .map(|c| display_name(&c.name))
                        .collect::<Vec<_>>(),
                )
            };
            let note = if categorical {
                "; unique values in parentheses"
            } else {
                ""
            };
            let _ = write!(
                compact,
                "\n- {} ({}{note}): {}",
                ty.label(),
                columns.len(),
                list(&names, COMPACT_NAMES_PER_TYPE)
            );
        }
        let missing: Vec<String> = self
            .columns
            .iter()
            .filter(|c| c.missing > 0)
            .map(|c| format!("{} {}", display_name(&c.name), percent(c.missing, c.cells)))
            .collect();
        if missing.is_empty() {
            compact.push_str("\nNo missing values.");
        } else {
            let _ = write!(
                compact,
                "\nMissing values: {}.",
                list(&missing, COMPACT_MISSING_LISTED)
            );
        }
        if let (Some(line), Some((_, idx))) = (&only_line, &only_here) {
            let _ = write!(compact, "\n{line}");
            for &i in idx {
                let _ = write!(
                    compact,
                    "\n{}",
                    self.columns[i].render(options.max_listed_values)
                );
            }
        }
        Section::new(full, compact)
    }
}

/// Names with runs of consecutive numbered names folded: `pixel0 … pixel783 (784)`.
fn collapse_runs(names: &[String]) -> Vec<String> {
    fn split(name: &str) -> Option<(&str, u64)> {
        let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let digits = &name[stem.len()..];
        let leading_zero = digits.len() > 1 && digits.starts_with('0');
        if digits.is_empty() || leading_zero {
            return None;
        }
        digits.parse().ok().map(|n| (stem, n))
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        if let Some((stem, first)) = split(&names[i]) {
            while j < names.len() && split(&names[j]) == Some((stem, first + (j - i) as u64)) {
                j += 1;
            }
        }
        if j - i >= 3 {
            out.push(format!("{} … {} ({})", names[i], names[j - 1], j - i));
        } else {
            out.extend(names[i..j].iter().cloned());
        }
        i = j;
    }
    out
}

/// At most `n` items joined by ", ", then "... and K more".
fn list(items: &[String], n: usize) -> String {
    let mut out = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        let _ = write!(out, ", ... and {} more", items.len() - n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_column_runs_are_folded() {
        let names: Vec<String> = [
            "label", "px0", "px1", "px2", "px3", "a1", "a2", "x", "y07", "y08", "y09",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            collapse_runs(&names),
            [
                "label",
                "px0 … px3 (4)",
                "a1",
                "a2",
                "x",
                "y07",
                "y08",
                "y09"
            ]
        );
    }
}
