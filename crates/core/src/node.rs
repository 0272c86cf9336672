//! Nodes of the solution tree: identity, lifecycle stage, the action that created them,
//! and the §4 rules that decide whether a reviewed node is buggy.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::metric::{MetricCheck, MetricValue};

/// A node's identity, unique across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub Uuid);

impl NodeId {
    /// A fresh, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for NodeId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A run's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub Uuid);

impl RunId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for RunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the policy asked for when the node was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Draft,
    Improve,
    Debug,
    /// A combination of two parents (the node's parent and its partner).
    Merge,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Improve => "improve",
            Self::Debug => "debug",
            Self::Merge => "merge",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "draft" => Some(Self::Draft),
            "improve" => Some(Self::Improve),
            "debug" => Some(Self::Debug),
            "merge" => Some(Self::Merge),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The node lifecycle; each step is one persisted transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStage {
    /// Created by the policy; no code yet.
    Pending,
    /// The author answered: plan and code are known.
    Generated,
    /// The code ran: output, exit and timing are known.
    Executed,
    /// The review is in: buggy or not, metric, summary. Terminal.
    Reviewed,
}

impl NodeStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Generated => "generated",
            Self::Executed => "executed",
            Self::Reviewed => "reviewed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "generated" => Some(Self::Generated),
            "executed" => Some(Self::Executed),
            "reviewed" => Some(Self::Reviewed),
            _ => None,
        }
    }
}

/// The debug depth of a new node: 0 unless its parent is buggy, then the parent's + 1.
pub fn child_debug_depth(parent: Option<(bool, u32)>) -> u32 {
    match parent {
        Some((true, parent_depth)) => parent_depth + 1,
        _ => 0,
    }
}

/// The facts of an execution that the buggy rules look at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecutionFacts {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// The Python exception type, when the traceback named one.
    pub exc_type: Option<String>,
    /// Whether the submission file exists after the run.
    pub wrote_submission: bool,
}

/// Why a node counts as buggy. A node may have several reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum BugReason {
    /// The author's reply held no code.
    NoCode,
    TimedOut,
    Exception(String),
    NonZeroExit(i32),
    /// The review judged the run a failure.
    ReviewFlagged,
    /// No valid metric was obtained; the detail says why.
    NoMetric(String),
    /// The task has test data and the script wrote no submission file.
    NoSubmission,
}

impl fmt::Display for BugReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCode => f.write_str("the reply contained no code"),
            Self::TimedOut => f.write_str("the execution timed out"),
            Self::Exception(t) => write!(f, "the script raised {t}"),
            Self::NonZeroExit(c) => write!(f, "the script exited with code {c}"),
            Self::ReviewFlagged => f.write_str("the review found a bug"),
            Self::NoMetric(why) => write!(f, "no valid metric: {why}"),
            Self::NoSubmission => f.write_str("no submission file was written"),
        }
    }
}

/// The final judgement of a reviewed node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub metric: Option<MetricValue>,
    pub bug_reasons: Vec<BugReason>,
}

impl Verdict {
    pub fn is_buggy(&self) -> bool {
        !self.bug_reasons.is_empty()
    }

    /// Applies every buggy rule of §4 to one executed and reviewed node.
    pub fn judge(
        facts: &ExecutionFacts,
        review_says_bug: bool,
        metric: &MetricCheck,
        requires_submission: bool,
    ) -> Self {
        let mut reasons = Vec::new();
        if facts.timed_out {
            reasons.push(BugReason::TimedOut);
        }
        if let Some(exc) = &facts.exc_type {
            reasons.push(BugReason::Exception(exc.clone()));
        }
        match facts.exit_code {
            Some(0) => {}
            Some(code) if !facts.timed_out => reasons.push(BugReason::NonZeroExit(code)),
            Some(_) => {}
            None if !facts.timed_out => reasons.push(BugReason::NonZeroExit(-1)),
            None => {}
        }
        if review_says_bug {
            reasons.push(BugReason::ReviewFlagged);
        }
        if let MetricCheck::Missing { reason } = metric {
            reasons.push(BugReason::NoMetric(reason.clone()));
        }
        if requires_submission && !facts.wrote_submission {
            reasons.push(BugReason::NoSubmission);
        }
        // A buggy node keeps no metric, so it can never be chosen as best.
        let metric = if reasons.is_empty() {
            metric.value()
        } else {
            None
        };
        Self {
            metric,
            bug_reasons: reasons,
        }
    }

    /// The verdict of a node whose reply had no code: it never ran.
    pub fn no_code() -> Self {
        Self {
            metric: None,
            bug_reasons: vec![BugReason::NoCode],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{MetricSource, cross_check};

    fn ok_facts() -> ExecutionFacts {
        ExecutionFacts {
            exit_code: Some(0),
            timed_out: false,
            exc_type: None,
            wrote_submission: true,
        }
    }

    fn good_metric() -> MetricCheck {
        MetricCheck::Accepted {
            value: MetricValue::new(0.1).expect("finite"),
            source: MetricSource::MetricLine,
        }
    }

    #[test]
    fn a_clean_run_with_a_metric_is_good() {
        let v = Verdict::judge(&ok_facts(), false, &good_metric(), true);
        assert!(!v.is_buggy());
        assert_eq!(v.metric.map(MetricValue::get), Some(0.1));
    }

    #[test]
    fn each_rule_alone_makes_a_node_buggy() {
        let cases: Vec<(ExecutionFacts, bool, MetricCheck, bool, BugReason)> = vec![
            (
                ExecutionFacts {
                    timed_out: true,
                    exit_code: None,
                    ..ok_facts()
                },
                false,
                good_metric(),
                true,
                BugReason::TimedOut,
            ),
            (
                ExecutionFacts {
                    exc_type: Some("KeyError".into()),
                    exit_code: Some(1),
                    ..ok_facts()
                },
                false,
                good_metric(),
                true,
                BugReason::Exception("KeyError".into()),
            ),
            (
                ExecutionFacts {
                    exit_code: Some(3),
                    ..ok_facts()
                },
                false,
                good_metric(),
                true,
                BugReason::NonZeroExit(3),
            ),
            (
                ok_facts(),
                true,
                good_metric(),
                true,
                BugReason::ReviewFlagged,
            ),
            (
                ok_facts(),
                false,
                cross_check("nothing", None),
                true,
                BugReason::NoMetric(
                    "no metric line in the output and none reported by the review".into(),
                ),
            ),
            (
                ExecutionFacts {
                    wrote_submission: false,
                    ..ok_facts()
                },
                false,
                good_metric(),
                true,
                BugReason::NoSubmission,
            ),
        ];
        for (facts, review_bug, metric, needs_sub, expected) in cases {
            let v = Verdict::judge(&facts, review_bug, &metric, needs_sub);
            assert!(v.is_buggy(), "{expected:?}");
            assert!(
                v.bug_reasons.contains(&expected),
                "{:?} lacks {expected:?}",
                v.bug_reasons
            );
            assert_eq!(v.metric, None, "a buggy node keeps no metric");
        }
    }

    #[test]
    fn no_submission_is_fine_without_test_data() {
        let facts = ExecutionFacts {
            wrote_submission: false,
            ..ok_facts()
        };
        assert!(!Verdict::judge(&facts, false, &good_metric(), false).is_buggy());
    }

    #[test]
    fn debug_depth_rule() {
        assert_eq!(child_debug_depth(None), 0);
        assert_eq!(child_debug_depth(Some((false, 2))), 0);
        assert_eq!(child_debug_depth(Some((true, 0))), 1);
        assert_eq!(child_debug_depth(Some((true, 3))), 4);
    }

    #[test]
    fn stage_and_action_names_round_trip() {
        for s in [
            NodeStage::Pending,
            NodeStage::Generated,
            NodeStage::Executed,
            NodeStage::Reviewed,
        ] {
            assert_eq!(NodeStage::parse(s.as_str()), Some(s));
        }
        for a in [Action::Draft, Action::Improve, Action::Debug, Action::Merge] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
    }
}
