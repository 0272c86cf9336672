//! A line-level guess at whether text is Python source or prose, for replies (or bare
//! blocks) that do not say which language they hold. No interpreter is involved: the
//! guess looks for unmistakable Python statements and counts prose sentences.

/// What one line looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    Blank,
    /// `import`, `from … import`, `def`, `class`, `print(`, an assignment, a shebang.
    Strong,
    /// Other code-looking lines: indented lines, keywords, calls, comments, decorators,
    /// lines inside a triple-quoted string.
    Code,
    /// A sentence or a markdown list item.
    Prose,
    /// Short lines that are neither (`Solution`, `Plan:`).
    Neutral,
}

const KEYWORDS: &[&str] = &[
    "for", "while", "if", "elif", "else", "try", "except", "finally", "with", "return", "raise",
    "yield", "pass", "break", "continue", "assert", "lambda", "global", "del", "async", "await",
    "match", "case", "nonlocal",
];

/// Classifies every line, tracking triple-quoted strings so docstrings are not prose.
pub(crate) fn classify(lines: &[&str]) -> Vec<LineKind> {
    let mut in_string = false;
    lines
        .iter()
        .map(|line| {
            let quotes = line.matches("\"\"\"").count() + line.matches("'''").count();
            let kind = if in_string {
                LineKind::Code
            } else {
                classify_line(line)
            };
            if quotes % 2 == 1 {
                in_string = !in_string;
            }
            kind
        })
        .collect()
}

fn classify_line(line: &str) -> LineKind {
    let t = line.trim();
    if t.is_empty() {
        return LineKind::Blank;
    }
    if is_strong(t) {
        return LineKind::Strong;
    }
    if line.starts_with([' ', '\t']) || t.starts_with(['#', '@', ')', ']', '}']) {
        return LineKind::Code;
    }
    let first = t
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if KEYWORDS.contains(&first) && t.len() > first.len() {
        let next = t[first.len()..].chars().next().unwrap_or(' ');
        if matches!(next, ' ' | ':' | '(') {
            return LineKind::Code;
        }
    }
    let bullet = t.starts_with("- ") || t.starts_with("* ") || is_numbered_item(t);
    if bullet || (t.starts_with(char::is_alphabetic) && is_sentence(t) && !looks_like_call(t)) {
        return LineKind::Prose;
    }
    if looks_like_call(t) {
        return LineKind::Code;
    }
    LineKind::Neutral
}

/// At least three words made of letters, and such words make up most of the line.
fn is_sentence(t: &str) -> bool {
    let words: Vec<&str> = t.split_whitespace().collect();
    let wordy = words
        .iter()
        .filter(|w| {
            let w = w.trim_matches(|c: char| ".,;:!?'\"()".contains(c));
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        })
        .count();
    wordy >= 3 && wordy * 3 >= words.len() * 2
}

/// `1. text` or `2) text`.
fn is_numbered_item(t: &str) -> bool {
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "))
}

/// `name(…)` or `obj.method(…)` with nothing but an identifier path before the parenthesis.
fn looks_like_call(t: &str) -> bool {
    let Some(open) = t.find('(') else {
        return false;
    };
    let head = &t[..open];
    !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
        && t.trim_end_matches([';', ' ']).ends_with(')')
}

fn is_strong(t: &str) -> bool {
    if t.starts_with("#!") || t.starts_with("print(") || t.starts_with("if __name__") {
        return true;
    }
    if let Some(rest) = t.strip_prefix("import ") {
        return is_dotted_names(rest);
    }
    if let Some(rest) = t.strip_prefix("from ") {
        return rest
            .split_once(" import ")
            .is_some_and(|(m, _)| is_dotted(m.trim()));
    }
    for kw in ["def ", "async def ", "class "] {
        if let Some(rest) = t.strip_prefix(kw) {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            return !name.is_empty() && t.ends_with(':');
        }
    }
    is_assignment(t)
}

fn is_dotted(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.'))
}

/// `numpy as np, os` and the like.
fn is_dotted_names(s: &str) -> bool {
    s.split(',').all(|part| {
        let mut words = part.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some(m), None, ..) => is_dotted(m),
            (Some(m), Some("as"), Some(alias), None) => is_dotted(m) && is_dotted(alias),
            _ => false,
        }
    })
}

/// `x = …`, `a, b = …`, `df["c"] = …`, `n += 1`, `x: int = 3`; not `a == b`, not prose
/// such as `The result = good`.
fn is_assignment(t: &str) -> bool {
    let Some(eq) = t.find('=') else {
        return false;
    };
    if t[eq + 1..].starts_with('=') || t[eq + 1..].trim().is_empty() {
        return false;
    }
    let before = &t[..eq];
    let shift = before.ends_with("<<") || before.ends_with(">>");
    if !shift && before.ends_with(['!', '<', '>', ':']) {
        return false;
    }
    let lhs = before
        .trim_end_matches(['+', '-', '*', '/', '%', '&', '|', '^', '@', '<', '>'])
        .trim();
    if lhs.is_empty() {
        return false;
    }
    let first = lhs.chars().next().unwrap_or(' ');
    if !(first.is_alphabetic() || first == '_' || first == '(') {
        return false;
    }
    // Annotated assignment: `x: int = 3`.
    let target = lhs.split_once(':').map_or(lhs, |(name, _)| name.trim());
    // Spaces are allowed only next to commas and inside subscripts.
    let mut depth = 0i32;
    let chars: Vec<char> = target.chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ' ' if depth == 0 => {
                let prev = chars[..k].iter().rev().find(|c| **c != ' ');
                let next = chars[k + 1..].iter().find(|c| **c != ' ');
                if prev != Some(&',') && next != Some(&',') {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// True when `text` holds at least one unmistakable Python statement and prose makes up at
/// most `max_prose` of its non-blank lines.
pub(crate) fn looks_like_python(text: &str, max_prose: f64) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let kinds = classify(&lines);
    let strong = kinds.iter().filter(|k| **k == LineKind::Strong).count();
    let prose = kinds.iter().filter(|k| **k == LineKind::Prose).count();
    let non_blank = kinds.iter().filter(|k| **k != LineKind::Blank).count();
    strong > 0 && (prose as f64) <= max_prose * non_blank as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(line: &str) -> LineKind {
        classify(&[line])[0]
    }

    #[test]
    fn strong_statements() {
        for line in [
            "import numpy as np, os",
            "from sklearn.model_selection import KFold",
            "def main():",
            "class Model(nn.Module):",
            "print('hi')",
            "X_train, X_val = split(X)",
            "df[\"price\"] = df[\"price\"].fillna(0)",
            "n += 1",
            "lr: float = 0.1",
        ] {
            assert_eq!(kind(line), LineKind::Strong, "{line}");
        }
    }

    #[test]
    fn prose_and_lookalikes() {
        for line in [
            "The result = good enough for now.",
            "I will train a gradient boosting model.",
            "- use five folds",
            "2. Train the model",
            "import the data and clean it",
            "from the data we learn a lot",
        ] {
            assert_ne!(kind(line), LineKind::Strong, "{line}");
        }
        assert_eq!(kind("I will train a model."), LineKind::Prose);
        assert_eq!(kind("if x == 1:"), LineKind::Code);
        assert_eq!(kind("model.fit(X, y)"), LineKind::Code);
        assert_eq!(kind("a == b"), LineKind::Neutral);
    }

    #[test]
    fn docstrings_are_not_prose() {
        let text = "\"\"\"\nThis script trains a model on the data.\n\"\"\"\nimport os";
        assert!(looks_like_python(text, 0.0));
    }
}
