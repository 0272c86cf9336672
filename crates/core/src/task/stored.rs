//! Reading a task as older versions stored it: before bundles, a task named its input as
//! `data_dir` (a host path) and its answers as one host path. Both still decode, as local data.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Answers, MetricSpec, SubmissionSpec, Task, TaskData, TaskLayout};

/// Every shape of a stored task this version reads.
#[derive(Deserialize)]
pub(super) struct StoredTask {
    name: String,
    goal: String,
    eval: Option<String>,
    description: Option<String>,
    #[serde(default)]
    input: Option<TaskData>,
    /// Before bundles.
    #[serde(default)]
    data_dir: Option<PathBuf>,
    metric: MetricSpec,
    submission: Option<SubmissionSpec>,
    #[serde(default)]
    answers: Option<StoredAnswers>,
    layout: TaskLayout,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StoredAnswers {
    Current(Answers),
    /// Before bundles: the answers file's host path.
    Path(PathBuf),
}

impl TryFrom<StoredTask> for Task {
    type Error = String;

    fn try_from(stored: StoredTask) -> Result<Self, String> {
        let input = match (stored.input, stored.data_dir) {
            (Some(input), _) => input,
            (None, Some(path)) => TaskData::Local { path },
            (None, None) => return Err("a task needs `input` (or `data_dir`)".into()),
        };
        Ok(Task {
            name: stored.name,
            goal: stored.goal,
            eval: stored.eval,
            description: stored.description,
            input,
            metric: stored.metric,
            submission: stored.submission,
            answers: stored.answers.map(|a| match a {
                StoredAnswers::Current(answers) => answers,
                StoredAnswers::Path(path) => Answers::local_file(path),
            }),
            layout: stored.layout,
        })
    }
}
