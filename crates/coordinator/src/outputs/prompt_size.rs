//! The "Prompt size" part of `report.md`: prompt tokens and characters per step, by what
//! each model call was for (draft, improve, debug, review, report), from the ledger.
//!
//! Tokens are the ones the engine counted in each prompt before sending it
//! ([`aide_core::tokens::ENCODING`]), so runs with different providers compare; the
//! provider's own count is shown beside them where it gave one (the offline baseline
//! author gives none).

use std::collections::HashMap;
use std::fmt::Write as _;

use aide_core::tokens::ENCODING;
use aide_core::{LlmPurpose, NodeId};
use aide_store::{LlmCallRecord, NodeRecord};

/// What a call was for, in report order.
const PURPOSES: [&str; 7] = [
    "draft", "improve", "debug", "merge", "code", "review", "report",
];

/// The calls of one purpose, summed.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    calls: u64,
    /// Calls whose prompt the engine measured.
    measured: u64,
    tokens: u64,
    chars: u64,
    /// Calls whose provider reported prompt tokens, and those tokens.
    reported_calls: u64,
    reported: u64,
}

impl Sums {
    fn add(&mut self, call: &LlmCallRecord) {
        self.calls += 1;
        if let Some(size) = call.prompt {
            self.measured += 1;
            self.tokens += size.tokens;
            self.chars += size.chars;
        }
        if call.usage.prompt_tokens > 0 {
            self.reported_calls += 1;
            self.reported += call.usage.prompt_tokens;
        }
    }

    fn merge(&mut self, other: &Sums) {
        self.calls += other.calls;
        self.measured += other.measured;
        self.tokens += other.tokens;
        self.chars += other.chars;
        self.reported_calls += other.reported_calls;
        self.reported += other.reported;
    }
}

/// Writes the section; nothing when the run made no call.
pub(super) fn prompt_size(w: &mut String, calls: &[LlmCallRecord], nodes: &[&NodeRecord]) {
    if calls.is_empty() {
        return;
    }
    let actions: HashMap<NodeId, &'static str> =
        nodes.iter().map(|n| (n.id, n.action.as_str())).collect();
    let mut sums: HashMap<&str, Sums> = HashMap::new();
    for call in calls {
        sums.entry(purpose(call, &actions)).or_default().add(call);
    }
    let steps = nodes.len().max(1) as u64;
    let _ = writeln!(w, "\n## Prompt size\n");
    let _ = writeln!(
        w,
        "Prompt tokens counted by the engine with the `{ENCODING}` encoding in every prompt \
         it sent; per step is the total over the run's {} steps. The provider's own count \
         is shown where it reported one.\n",
        nodes.len()
    );
    let _ = writeln!(
        w,
        "| purpose | calls | tokens per call | characters per call | tokens per step | provider-reported tokens per call |"
    );
    let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|");
    let mut all = Sums::default();
    for name in PURPOSES {
        if let Some(s) = sums.get(name) {
            row(w, name, s, steps);
            all.merge(s);
        }
    }
    row(w, "**all**", &all, steps);
    if all.measured < all.calls {
        let _ = writeln!(
            w,
            "\n{} of {} calls were recorded before prompts were measured; they are left out \
             of the token and character figures.",
            all.calls - all.measured,
            all.calls
        );
    }
}

fn purpose(call: &LlmCallRecord, actions: &HashMap<NodeId, &'static str>) -> &'static str {
    match call.purpose {
        LlmPurpose::Code => call
            .node_id
            .and_then(|id| actions.get(&id).copied())
            .unwrap_or("code"),
        LlmPurpose::Feedback => "review",
        LlmPurpose::Report => "report",
    }
}

fn row(w: &mut String, name: &str, s: &Sums, steps: u64) {
    let per = |total: u64, n: u64| match n {
        0 => "—".to_string(),
        n => thousands(total.div_ceil(n)),
    };
    let _ = writeln!(
        w,
        "| {name} | {} | {} | {} | {} | {} |",
        s.calls,
        per(s.tokens, s.measured),
        per(s.chars, s.measured),
        per(s.tokens, if s.measured > 0 { steps } else { 0 }),
        per(s.reported, s.reported_calls),
    );
}

/// `12345` as `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12_807), "12,807");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
