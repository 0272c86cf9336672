//! The Python exception that ended a script ([`ExceptionInfo`]): its message, the line in
//! the solution and the traceback text the runner found, and the traceback's frames
//! ([`StackFrame`]) in the shape of the reference implementation's `exc_stack`.

use serde::{Deserialize, Serialize};

/// The exception details of a failed execution, as stored with the node. The exception's
/// type is kept beside it (`exc_type`), as the reference keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionInfo {
    /// The message after the type, e.g. `'SalePrice'` for a `KeyError`; may be empty.
    #[serde(default)]
    pub message: String,
    /// Line of the innermost frame in the solution script; 0 when none was found.
    #[serde(default)]
    pub line: u32,
    /// The traceback text, from "Traceback" to the exception line; empty when there was
    /// none (a timeout, a kill).
    #[serde(default)]
    pub traceback: String,
}

/// One frame of a traceback: the reference's `(filename, lineno, name, line)` tuple.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    pub file: String,
    pub line: u32,
    /// The function, `<module>` at the top level.
    pub function: String,
    /// The source line, when the traceback printed it.
    pub code: Option<String>,
}

impl ExceptionInfo {
    /// The frames of [`traceback`](Self::traceback), outermost first.
    pub fn stack(&self) -> Vec<StackFrame> {
        let mut frames: Vec<StackFrame> = Vec::new();
        for raw in self.traceback.lines() {
            let text = raw.trim();
            if let Some(frame) = parse_frame_header(text) {
                frames.push(frame);
            } else if let Some(last) = frames.last_mut()
                && last.code.is_none()
                && raw.starts_with("    ")
                && !is_marker_line(text)
            {
                last.code = Some(text.to_owned());
            }
        }
        frames
    }
}

/// `File "<file>", line <n>, in <function>`.
fn parse_frame_header(text: &str) -> Option<StackFrame> {
    let rest = text.strip_prefix("File \"")?;
    let (file, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(", line ")?;
    let (line, function) = match rest.split_once(", in ") {
        Some((line, function)) => (line, function),
        None => (rest, ""),
    };
    Some(StackFrame {
        file: file.to_owned(),
        line: line.trim().parse().ok()?,
        function: function.to_owned(),
        code: None,
    })
}

/// The `^^^^` and `~~~~` lines Python 3.11 prints under a frame's code.
fn is_marker_line(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| matches!(c, '^' | '~' | ' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/sandbox/solution.py\", line 12, in <module>\n    y = train[\"SalePrice\"]\n        ~~~~~^^^^^^^^^^^^^\n  File \"/usr/lib/python3/pandas/frame.py\", line 3761, in __getitem__\n    indexer = self.columns.get_loc(key)\nKeyError: 'SalePrice'\n";

    #[test]
    fn frames_come_outermost_first_with_their_code_and_no_marker_lines() {
        let info = ExceptionInfo {
            message: "'SalePrice'".into(),
            line: 12,
            traceback: TRACEBACK.into(),
        };
        let stack = info.stack();
        assert_eq!(stack.len(), 2);
        assert_eq!(stack[0].file, "/sandbox/solution.py");
        assert_eq!(stack[0].line, 12);
        assert_eq!(stack[0].function, "<module>");
        assert_eq!(stack[0].code.as_deref(), Some("y = train[\"SalePrice\"]"));
        assert_eq!(stack[1].function, "__getitem__");
        assert_eq!(
            stack[1].code.as_deref(),
            Some("indexer = self.columns.get_loc(key)")
        );
    }

    #[test]
    fn no_traceback_gives_no_frames_and_old_rows_decode() {
        assert!(ExceptionInfo::default().stack().is_empty());
        let old: ExceptionInfo =
            serde_json::from_str(r#"{"message":"boom","line":3,"traceback":""}"#).unwrap();
        assert_eq!(old.line, 3);
        let sparse: ExceptionInfo = serde_json::from_str(r#"{"message":"x"}"#).unwrap();
        assert_eq!(sparse.line, 0);
    }
}
