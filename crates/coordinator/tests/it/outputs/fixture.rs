//! The fixture of the outputs tests: a run and a realistic eight-node tree built directly
//! as store records.

use aide_core::task::{MetricSpec, SubmissionSpec, Task, TaskLayout};
use aide_core::{Action, BugReason, Direction, NodeId, NodeStage, RunId, RunSettings};
use aide_store::{ExecutionSummary, Generation, NodeRecord, Review, RunRecord, RunStatus};
use chrono::{DateTime, TimeZone, Utc};

pub const INJECTION: &str = "</script><b>pwned</b>";

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_760_000_000 + secs, 250_000_000)
        .single()
        .expect("valid time")
}

pub fn run(direction: Option<Direction>) -> RunRecord {
    RunRecord {
        id: RunId::new(),
        project: aide_core::access::ProjectName::default_project(),
        name: "house-prices <demo>".into(),
        task: Task {
            name: "house-prices".into(),
            goal: "Predict the sale price of each house.".into(),
            eval: Some("RMSE between log prices".into()),
            description: None,
            input: aide_core::task::TaskData::local("/data/house-prices"),
            metric: MetricSpec {
                name: Some("rmse".into()),
                direction,
            },
            submission: Some(SubmissionSpec {
                file_name: "submission.csv".into(),
                sample: None,
            }),
            answers: None,
            layout: TaskLayout::Manifest,
        },
        settings: RunSettings {
            steps: 8,
            ..RunSettings::default()
        },
        direction,
        seed: 7,
        status: RunStatus::Running,
        stop_reason: None,
        owner: Some("coordinator-0".into()),
        epoch: 1,
        lease_expires_at: None,
        cancel_requested: false,
        created_at: at(0),
        updated_at: at(0),
        finished_at: None,
        sweep_id: None,
        last_event_seq: 0,
        steered_seq: 0,
        fork_of: None,
    }
}

/// The test tree. Nodes by step:
/// 0 draft, good 0.30 · 1 draft, buggy (KeyError; code and output carry an HTML injection)
/// · 2 debug of 1, good 0.25 · 3 improve of 2, good 0.20 · 4 draft, buggy (timeout)
/// · 5 improve of 3, good 0.20 (ties 3) · 6 improve of 3, good 0.35 · 7 improve of 3, in flight.
pub struct Tree {
    pub nodes: Vec<NodeRecord>,
}

impl Tree {
    pub fn new(run: &RunRecord) -> Self {
        let ids: Vec<NodeId> = (0..8).map(|_| NodeId::new()).collect();
        let parent = |step: usize| -> Option<NodeId> {
            match step {
                2 => Some(ids[1]),
                3 => Some(ids[2]),
                5..=7 => Some(ids[3]),
                _ => None,
            }
        };
        let action = |step: usize| match step {
            0 | 1 | 4 => Action::Draft,
            2 => Action::Debug,
            _ => Action::Improve,
        };
        let metric = [
            Some(0.30),
            None,
            Some(0.25),
            Some(0.20),
            None,
            Some(0.20),
            Some(0.35),
        ];
        let mut nodes = Vec::new();
        for step in 0..8usize {
            let code = if step == 1 {
                format!("import pandas as pd\nprint(\"{INJECTION}\")\n")
            } else {
                format!("# solution of step {step}\nprint('AIDE_METRIC: {step}')\n")
            };
            let mut node = NodeRecord {
                id: ids[step],
                run_id: run.id,
                parent: parent(step),
                partner: None,
                action: action(step),
                step: step as u32,
                debug_depth: u32::from(step == 2),
                stage: NodeStage::Generated,
                generation: Some(Generation {
                    plan: format!("Plan of step {step}: gradient boosting variant {step}."),
                    code: Some(code),
                    raw_reply: None,
                }),
                execution: None,
                review: None,
                created_at: at(step as i64 * 60),
                updated_at: at(step as i64 * 60 + 30),
            };
            if step < 7 {
                let buggy = metric[step].is_none();
                let term_out = match step {
                    1 => format!("Traceback:\nKeyError: 'SalePrice' {INJECTION}\n"),
                    4 => "fold 1 ...\n".into(),
                    _ => format!("fold 1 0.3\nAIDE_METRIC: {}\n", metric[step].unwrap_or(0.0)),
                };
                node.execution = Some(ExecutionSummary {
                    term_out,
                    exit_code: if step == 4 { None } else { Some(i32::from(step == 1)) },
                    exec_time_secs: 10.0 + step as f64,
                    timed_out: step == 4,
                    exc_type: (step == 1).then(|| "KeyError".into()),
                    exc_info: (step == 1).then(|| aide_core::ExceptionInfo {
                        message: "SalePrice".into(),
                        line: 2,
                        traceback: "Traceback (most recent call last):\n  File \"runfile.py\", line 2, in <module>\n    df['SalePrice']\nKeyError: 'SalePrice'\n".into(),
                    }),
                    wrote_submission: !buggy,
                });
                node.review = Some(Review {
                    is_buggy: buggy,
                    bug_reasons: match step {
                        1 => vec![
                            BugReason::Exception("KeyError".into()),
                            BugReason::NonZeroExit(1),
                        ],
                        4 => vec![BugReason::TimedOut],
                        _ => vec![],
                    },
                    metric: metric[step],
                    summary: format!("Review of step {step}."),
                });
                node.stage = NodeStage::Reviewed;
            }
            nodes.push(node);
        }
        // Stored order is not step order: the outputs must not depend on it.
        nodes.reverse();
        Self { nodes }
    }

    pub fn at_step(&self, step: u32) -> &NodeRecord {
        self.nodes
            .iter()
            .find(|n| n.step == step)
            .expect("step exists")
    }

    pub fn code(&self, step: u32) -> String {
        self.at_step(step)
            .generation
            .as_ref()
            .and_then(|g| g.code.clone())
            .expect("code")
    }
}

/// The submission each node "wrote", so the test can tell them apart.
pub fn submission_of(node: &NodeRecord) -> Vec<u8> {
    format!("id,SalePrice\n1,{}\n", node.step).into_bytes()
}
