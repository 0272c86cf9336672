//! The reference implementation's task style: `data_dir` plus `goal` and optional `eval`,
//! or `data_dir` plus `desc_file`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{
    Task, TaskData, TaskLayout, Within, check_data_dir, infer_submission, name_of, read_text,
};
use crate::error::{Error, Result};
use crate::task::MetricSpec;

/// The arguments the reference implementation takes for a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferenceTask {
    pub data_dir: Option<PathBuf>,
    pub goal: Option<String>,
    pub eval: Option<String>,
    pub desc_file: Option<PathBuf>,
}

pub(super) fn load(args: &ReferenceTask) -> Result<Task> {
    let Some(data_dir) = args.data_dir.clone() else {
        return Err(Error::task("", "data_dir is required"));
    };
    check_data_dir(&data_dir, &data_dir)?;
    let description = match &args.desc_file {
        Some(file) => {
            let text = read_text(file, &Within::Anywhere)?;
            if text.trim().is_empty() {
                return Err(Error::task(file, "the description file is empty"));
            }
            Some(text)
        }
        None => None,
    };
    let goal = match (args.goal.as_deref().map(str::trim), &description) {
        (Some(goal), _) if !goal.is_empty() => goal.to_owned(),
        (_, Some(_)) => "Solve the task described below.".to_owned(),
        _ => return Err(Error::task(&data_dir, "a goal or a desc_file is required")),
    };
    let eval = args
        .eval
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    Ok(Task {
        name: name_of(&data_dir),
        metric: MetricSpec {
            name: None,
            direction: None,
        },
        submission: infer_submission(&data_dir)?,
        goal,
        eval,
        description,
        input: TaskData::local(data_dir),
        answers: None,
        layout: TaskLayout::Reference,
    })
}
