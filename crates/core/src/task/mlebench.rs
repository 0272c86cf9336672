//! MLE-bench competition directories: `prepared/public/` (the data the agent sees) with
//! `description.md` inside it, as `mlebench prepare` writes it, or beside `prepared/` (the
//! layout of mle-bench's own `competitions/<id>/` folders); and, for grading outside the
//! sandbox, `prepared/private/`.

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
    let data_dir = dir.join("prepared").join("public");
    if !data_dir.is_dir() {
        return Err(Error::task(
            dir,
            "MLE-bench competition is missing prepared/public/",
        ));
    }
    // `mlebench prepare` writes the description into the public data; mle-bench's
    // competition folders keep it beside `prepared/`.
    let Some(description_path) = [data_dir.join(DESCRIPTION), dir.join(DESCRIPTION)]
        .into_iter()
        .find(|p| p.is_file())
    else {
        return Err(Error::task(
            dir,
            "MLE-bench competition is missing description.md (looked in prepared/public/ \
             and beside prepared/)",
        ));
    };
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
