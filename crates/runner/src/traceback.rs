//! Finding the Python exception that ended a script in its output: type, message, the line
//! within solution.py, and the traceback text.

/// An exception parsed from a traceback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedException {
    /// Exception type as printed, e.g. "KeyError" or "pandas.errors.ParserError".
    pub kind: String,
    /// Message after the colon; may be empty.
    pub message: String,
    /// Line of the innermost frame in the solution script; 0 when none was found.
    pub line: u32,
    /// The traceback text, from "Traceback" to the exception line.
    pub traceback: String,
}

const HEADER: &str = "Traceback (most recent call last):";

/// Parses the last traceback in `output`; `script` is the solution's file name.
pub fn parse(output: &str, script: &str) -> Option<ParsedException> {
    let start = output.rfind(HEADER)?;
    let text = &output[start..];
    let mut line = 0;
    let mut end = text.len();
    let mut exception = None;
    let mut offset = 0;
    for raw in text.split_inclusive('\n') {
        let l = raw.trim_end_matches(['\n', '\r']);
        let at = offset;
        offset += raw.len();
        if at == 0 {
            continue; // the header
        }
        if let Some(frame) = l.trim_start().strip_prefix("File \"") {
            if let Some((file, rest)) = frame.split_once('"')
                && is_script(file, script)
                && let Some(n) = rest
                    .strip_prefix(", line ")
                    .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok())
            {
                line = n;
            }
            continue;
        }
        if l.starts_with(' ') || l.starts_with('\t') || l.is_empty() {
            continue; // source lines, carets, notes
        }
        let (kind, message) = match l.split_once(':') {
            Some((k, m)) => (k, m.trim_start()),
            None => (l, ""),
        };
        if is_type_name(kind) {
            exception = Some((kind.to_string(), message.to_string()));
            end = offset;
            break;
        }
    }
    let (kind, message) = exception?;
    Some(ParsedException {
        kind,
        message,
        line,
        traceback: text[..end].trim_end().to_string(),
    })
}

fn is_script(file: &str, script: &str) -> bool {
    file == script || file.ends_with(&format!("/{script}"))
}

fn is_type_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_311_traceback_with_carets() {
        let out = "loading\nTraceback (most recent call last):\n  File \"/sandbox/solution.py\", line 7, in <module>\n    main()\n  File \"/sandbox/solution.py\", line 4, in main\n    x = d['k']\n        ~^^^^^\n  File \"/usr/lib/python3.11/x.py\", line 99, in get\nKeyError: 'k'\n";
        let e = parse(out, "solution.py").unwrap();
        assert_eq!(e.kind, "KeyError");
        assert_eq!(e.message, "'k'");
        assert_eq!(e.line, 4);
        assert!(e.traceback.starts_with(HEADER) && e.traceback.ends_with("KeyError: 'k'"));
    }

    #[test]
    fn chained_exceptions_use_the_last_and_bare_types_parse() {
        let out = "Traceback (most recent call last):\n  File \"solution.py\", line 2, in <module>\nValueError: a\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"solution.py\", line 9, in <module>\nmodule.CustomError\n";
        let e = parse(out, "solution.py").unwrap();
        assert_eq!(
            (e.kind.as_str(), e.message.as_str(), e.line),
            ("module.CustomError", "", 9)
        );
    }

    #[test]
    fn no_traceback_no_exception() {
        assert_eq!(parse("all good\n", "solution.py"), None);
    }
}
