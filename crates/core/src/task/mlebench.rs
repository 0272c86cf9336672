//! MLE-bench competition directories: `description.md` plus `prepared/public/` (the data the
//! agent sees) and, for grading outside the sandbox, `prepared/private/`.

use std::path::Path;

use super::{
    Answers, MetricSpec, Task, TaskData, TaskLayout, Within, check_data_dir, infer_submission,
    is_regular_file, name_of, read_text,
};
use crate::error::{Error, Result};

const DESCRIPTION: &str = "description.md";

/// True when `dir` has either marker of a competition directory.
pub(super) fn looks_like(dir: &Path) -> bool {
    dir.join(DESCRIPTION).is_file() || dir.join("prepared").join("public").is_dir()
}

pub(super) fn load(dir: &Path, within: &Within) -> Result<Task> {
    let description_path = dir.join(DESCRIPTION);
    if !description_path.is_file() {
        return Err(Error::task(
            dir,
            "MLE-bench competition is missing description.md",
        ));
    }
    let data_dir = dir.join("prepared").join("public");
    if !data_dir.is_dir() {
        return Err(Error::task(
            dir,
            "MLE-bench competition is missing prepared/public/",
        ));
    }
    within.check(&data_dir)?;
    check_data_dir(dir, &data_dir)?;
    let description = read_text(&description_path, within)?;
    if description.trim().is_empty() {
        return Err(Error::task(dir, "description.md is empty"));
    }
    let private = dir.join("prepared").join("private");
    let answers = ["answers.csv", "test.csv", "gold_submission.csv"]
        .iter()
        .find(|f| is_regular_file(&private.join(f)) && within.check(&private.join(f)).is_ok())
        .map(|f| Answers {
            data: TaskData::local(&private),
            file: (*f).to_owned(),
        });
    Ok(Task {
        name: name_of(dir),
        goal: "Solve the competition described below and write a submission for its test set."
            .into(),
        eval: None,
        description: Some(description),
        submission: infer_submission(&data_dir)?,
        input: TaskData::local(data_dir),
        metric: MetricSpec::default(),
        answers,
        layout: TaskLayout::MleBench,
    })
}
