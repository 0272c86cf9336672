//! Per-column statistics of a table: value classification, type inference, missing share,
//! numeric and date ranges, distinct-value counts, and their one-line rendering.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::shorten;

/// Cells pandas reads as missing by default (compared after trimming spaces).
const MISSING: &[&str] = &[
    "", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "#N/A", "#NA",
    "<NA>", "#N/A N/A", "1.#IND", "-1.#IND", "1.#QNAN", "-1.#QNAN",
];
/// Distinct values counted per column; beyond it only the count of cells grows.
const MAX_DISTINCT: usize = 5000;
/// Bytes of a value kept as its counting key.
const MAX_KEY_BYTES: usize = 200;
/// Characters of a value shown in the preview.
const SHOWN_VALUE_CHARS: usize = 40;
/// Top values listed for a high-cardinality column.
const TOP_VALUES: usize = 5;

/// The inferred type of a column: the narrowest one all its non-missing cells fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum ColumnType {
    Int,
    Float,
    Bool,
    Date,
    String,
    Empty,
}

impl ColumnType {
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool => "bool",
            Self::Date => "date",
            Self::String => "string",
            Self::Empty => "empty",
        }
    }
}

/// What one cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Missing,
    Int,
    Float,
    Bool,
    Date,
    Other,
}

/// Statistics of one column, accumulated cell by cell.
#[derive(Debug, Clone)]
pub(super) struct ColumnStats {
    pub name: String,
    pub cells: u64,
    pub missing: u64,
    ints: u64,
    floats: u64,
    bools: u64,
    dates: u64,
    min: f64,
    max: f64,
    sum: f64,
    date_min: Option<String>,
    date_max: Option<String>,
    text_chars: u64,
    counts: HashMap<Box<str>, u64>,
    /// More than [`MAX_DISTINCT`] distinct values were seen.
    overflow: bool,
}

impl ColumnStats {
    pub(super) fn new(name: String) -> Self {
        Self {
            name,
            cells: 0,
            missing: 0,
            ints: 0,
            floats: 0,
            bools: 0,
            dates: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            date_min: None,
            date_max: None,
            text_chars: 0,
            counts: HashMap::new(),
            overflow: false,
        }
    }

    /// Records one cell; `None` is a cell absent from a short (ragged) row.
    pub(super) fn add(&mut self, raw: Option<&str>) {
        self.cells += 1;
        let value = raw.unwrap_or("").trim();
        let cell = classify(value);
        match cell {
            Cell::Missing => {
                self.missing += 1;
                return;
            }
            Cell::Int | Cell::Float => {
                if cell == Cell::Int {
                    self.ints += 1;
                } else {
                    self.floats += 1;
                }
                if let Ok(x) = value.parse::<f64>() {
                    self.min = self.min.min(x);
                    self.max = self.max.max(x);
                    self.sum += x;
                }
            }
            Cell::Bool => self.bools += 1,
            Cell::Date => {
                self.dates += 1;
                if self.date_min.as_deref().is_none_or(|m| value < m) {
                    self.date_min = Some(value.to_string());
                }
                if self.date_max.as_deref().is_none_or(|m| value > m) {
                    self.date_max = Some(value.to_string());
                }
            }
            Cell::Other => {}
        }
        self.text_chars += value.chars().count() as u64;
        let key = super::prefix_bytes(value, MAX_KEY_BYTES);
        if let Some(n) = self.counts.get_mut(key) {
            *n += 1;
        } else if self.counts.len() < MAX_DISTINCT {
            self.counts.insert(key.into(), 1);
        } else {
            self.overflow = true;
        }
    }

    fn present(&self) -> u64 {
        self.cells - self.missing
    }

    pub(super) fn column_type(&self) -> ColumnType {
        let present = self.present();
        if present == 0 {
            ColumnType::Empty
        } else if self.ints == present {
            ColumnType::Int
        } else if self.ints + self.floats == present {
            ColumnType::Float
        } else if self.bools == present {
            ColumnType::Bool
        } else if self.dates == present {
            ColumnType::Date
        } else {
            ColumnType::String
        }
    }

    /// "12 missing (0.8%)", or `None` when nothing is missing.
    pub(super) fn missing_text(&self) -> Option<String> {
        (self.missing > 0).then(|| {
            format!(
                "{} missing ({})",
                self.missing,
                percent(self.missing, self.cells)
            )
        })
    }

    /// The number of distinct values, ">5000" past the counting limit.
    pub(super) fn distinct_text(&self) -> String {
        if self.overflow {
            format!(">{MAX_DISTINCT}")
        } else {
            self.counts.len().to_string()
        }
    }

    /// Whether this column, read elsewhere as `reference`, has another type there, or has
    /// missing values where `reference` has none.
    pub(super) fn differs_from(&self, reference: &ColumnStats) -> bool {
        self.column_type() != reference.column_type()
            || (self.missing > 0 && reference.missing == 0)
    }

    /// The column as one markdown list line with type, missing share and distribution.
    pub(super) fn render(&self, max_listed: usize) -> String {
        let ty = self.column_type();
        let mut out = format!("- {}: {}", display_name(&self.name), ty.label());
        if let Some(missing) = self.missing_text() {
            let _ = write!(out, ", {missing}");
        }
        let distinct = self.counts.len();
        let all_distinct = !self.overflow && distinct as u64 == self.present() && distinct > 1;
        let few = !self.overflow && distinct <= max_listed;
        let unique = if self.overflow {
            format!("over {MAX_DISTINCT} unique")
        } else if all_distinct {
            "all distinct".to_string()
        } else {
            format!("{distinct} unique")
        };
        match ty {
            ColumnType::Empty => out.push_str(", no values"),
            ColumnType::Int | ColumnType::Float if few => {
                let _ = write!(out, ", values: {}", self.listed(true, distinct));
            }
            ColumnType::Int | ColumnType::Float => {
                let mean = self.sum / self.present() as f64;
                let (min, max) = (fmt_num(self.min), fmt_num(self.max));
                let _ = write!(
                    out,
                    ", range [{min}, {max}], mean {}, {unique}",
                    fmt_sig(mean, 4)
                );
            }
            ColumnType::Date => {
                let min = self.date_min.as_deref().unwrap_or_default();
                let max = self.date_max.as_deref().unwrap_or_default();
                let _ = write!(out, ", range [{min}, {max}], {unique}");
            }
            ColumnType::Bool | ColumnType::String => {
                let numeric = self.ints + self.floats;
                if ty == ColumnType::String && numeric * 2 >= self.present() {
                    let _ = write!(out, " ({} numeric)", percent(numeric, self.present()));
                }
                if few {
                    let _ = write!(out, ", {distinct} values: {}", self.listed(false, distinct));
                } else if all_distinct {
                    let _ = write!(out, ", all distinct, e.g. {}", self.listed(false, 3));
                } else {
                    let top = self.listed(false, TOP_VALUES);
                    let _ = write!(out, ", {unique}, top: {top}");
                }
                let mean_len = self.text_chars / self.present().max(1);
                if mean_len >= 30 {
                    let _ = write!(out, ", mean length {mean_len} chars");
                }
            }
        }
        out
    }

    /// Up to `n` values with their counts: numerically sorted, or by count then value.
    fn listed(&self, numeric: bool, n: usize) -> String {
        let mut values: Vec<(&str, u64)> = self.counts.iter().map(|(k, &v)| (&**k, v)).collect();
        if numeric {
            let key = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
            values.sort_by(|a, b| key(a.0).total_cmp(&key(b.0)).then(a.0.cmp(b.0)));
        } else {
            values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        }
        let all_once = values.iter().all(|&(_, c)| c == 1);
        values
            .iter()
            .take(n)
            .map(|&(v, c)| {
                if all_once {
                    display_value(v)
                } else {
                    format!("{} ({c})", display_value(v))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn classify(value: &str) -> Cell {
    if MISSING.contains(&value) {
        return Cell::Missing;
    }
    let bytes = value.as_bytes();
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return if value.parse::<i64>().is_ok() {
            Cell::Int
        } else {
            Cell::Float
        };
    }
    if digits > 0
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
        && value.parse::<f64>().is_ok()
    {
        return Cell::Float;
    }
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        return Cell::Bool;
    }
    if is_iso_date(bytes) {
        return Cell::Date;
    }
    Cell::Other
}

/// `YYYY-MM-DD` or `YYYY/MM/DD`, optionally followed by `T` or a space and a time.
fn is_iso_date(b: &[u8]) -> bool {
    if b.len() < 10 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = std::str::from_utf8(&b[r]).ok()?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let sep = b[4];
    if !(sep == b'-' || sep == b'/') || b[7] != sep {
        return false;
    }
    let (Some(_), Some(month), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    match b.get(10) {
        None => true,
        Some(b'T' | b' ') => {
            let time = &b[11..];
            time.len() >= 5
                && time[..2].iter().all(u8::is_ascii_digit)
                && time[2] == b':'
                && time[3..5].iter().all(u8::is_ascii_digit)
        }
        Some(_) => false,
    }
}

/// `part` of `whole` as a percentage with one decimal ("<0.1%" for tiny non-zero shares).
pub(super) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_string();
    }
    let p = part as f64 * 100.0 / whole as f64;
    if part > 0 && p < 0.05 {
        "<0.1%".to_string()
    } else if part < whole && p > 99.95 {
        ">99.9%".to_string()
    } else {
        format!("{p:.1}%")
    }
}

/// A number with about six significant digits and no trailing zeros.
pub(super) fn fmt_num(x: f64) -> String {
    fmt_sig(x, 6)
}

/// A number with about `sig` significant digits (at least one decimal when not integral).
fn fmt_sig(x: f64, sig: i32) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let abs = x.abs();
    if x.fract() == 0.0 && abs < 1e15 {
        return format!("{x:.0}");
    }
    if !(1e-4..1e15).contains(&abs) {
        return format!("{x:.3e}");
    }
    let int_digits = abs.log10().floor() as i32 + 1;
    let decimals = (sig - int_digits).clamp(1, 8) as usize;
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A cell value for display: shortened, quoted when it could be misread in a list.
pub(super) fn display_value(v: &str) -> String {
    let short = shorten(v, SHOWN_VALUE_CHARS);
    let needs_quotes = short.is_empty()
        || short.contains([',', '(', ')', '"', '\n', '\r', '\t'])
        || short.starts_with(' ')
        || short.ends_with(' ');
    if needs_quotes {
        format!("{short:?}")
    } else {
        short
    }
}

/// A column name for display: `(unnamed)` when blank.
pub(super) fn display_name(name: &str) -> String {
    if name.trim().is_empty() {
        "(unnamed)".to_string()
    } else {
        shorten(name, 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_cells() {
        assert_eq!(classify(""), Cell::Missing);
        assert_eq!(classify("NA"), Cell::Missing);
        assert_eq!(classify("-12"), Cell::Int);
        assert_eq!(classify("99999999999999999999"), Cell::Float);
        assert_eq!(classify("1.5e3"), Cell::Float);
        assert_eq!(classify("inf"), Cell::Other);
        assert_eq!(classify("TRUE"), Cell::Bool);
        assert_eq!(classify("2024-04-02"), Cell::Date);
        assert_eq!(classify("2024/04/02 10:30:00"), Cell::Date);
        assert_eq!(classify("2024-13-02"), Cell::Other);
        assert_eq!(classify("e"), Cell::Other);
    }

    #[test]
    fn formats_numbers_and_percentages() {
        assert_eq!(fmt_num(755000.0), "755000");
        assert_eq!(fmt_num(465.864014), "465.864");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(0.000123456), "0.00012346");
        assert_eq!(fmt_sig(56.8973, 4), "56.9");
        assert_eq!(fmt_num(-0.00001234), "-1.234e-5");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(1, 10_000), "<0.1%");
        assert_eq!(percent(9_999, 10_000), ">99.9%");
    }

    #[test]
    fn renders_a_low_cardinality_string_column() {
        let mut c = ColumnStats::new("Zone".into());
        for v in ["RL", "RL", "C (all)", "", "RM"] {
            c.add(Some(v));
        }
        c.add(None);
        let line = c.render(10);
        assert_eq!(
            line,
            r#"- Zone: string, 2 missing (33.3%), 3 values: RL (2), "C (all)" (1), RM (1)"#
        );
    }
}
