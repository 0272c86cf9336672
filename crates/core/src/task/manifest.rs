//! Task directories described by a `task.toml` manifest.
//!
//! ```toml
//! name = "house-prices"            # optional; defaults to the directory name
//! goal = "Predict SalePrice."      # required unless description_file is given
//! eval = "RMSE of log price."      # optional
//! description_file = "README.md"   # optional, relative to the task directory
//! data_dir = "data"                # optional (default "data"), relative to the task directory
//! answers = "answers.csv"          # optional held-back answers, relative to the task directory
//!
//! [metric]
//! name = "rmse"                    # optional
//! direction = "minimize"           # optional; else inferred from the name, else the first review
//!
//! [submission]                     # optional; inferred from the data when absent
//! file = "submission.csv"
//! sample = "sample_submission.csv" # relative to data_dir
//! required = true                  # false declares that the task has no test data
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    Answers, DEFAULT_SUBMISSION_FILE, MetricSpec, SubmissionSpec, Task, TaskData, TaskLayout,
    Within, check_data_dir, infer_submission, is_regular_file, name_of, read_text,
};
use crate::error::{Error, Result};
use crate::metric::Direction;

pub(super) const FILE_NAME: &str = "task.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: Option<String>,
    goal: Option<String>,
    eval: Option<String>,
    description_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    answers: Option<PathBuf>,
    #[serde(default)]
    metric: MetricSection,
    submission: Option<SubmissionSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricSection {
    name: Option<String>,
    direction: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionSection {
    file: Option<String>,
    sample: Option<PathBuf>,
    #[serde(default = "yes")]
    required: bool,
}

fn yes() -> bool {
    true
}

/// The task a `task.toml` describes, every path resolved against its folder.
///
/// Long because it checks the manifest's fields in the order the file lists them, each with
/// its own named error; the sequence reads as the file's specification.
pub(super) fn load(manifest_path: &Path, within: &Within) -> Result<Task> {
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let text = read_text(manifest_path, within)?;
    let manifest: Manifest = crate::toml_text::parse(&text, FILE_NAME).map_err(|e| {
        let at = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        Error::task(manifest_path, format!("{at}{}", e.message))
    })?;

    let data_dir = dir.join(manifest.data_dir.as_deref().unwrap_or(Path::new("data")));
    within.check(&data_dir)?;
    check_data_dir(manifest_path, &data_dir)?;

    let description = match &manifest.description_file {
        Some(file) => Some(read_text(&dir.join(file), within)?),
        None => None,
    };
    let goal = match (manifest.goal.as_deref().map(str::trim), &description) {
        (Some(goal), _) if !goal.is_empty() => goal.to_owned(),
        (_, Some(_)) => "Solve the task described below.".to_owned(),
        _ => {
            return Err(Error::task(
                manifest_path,
                "`goal` is required (or `description_file`)",
            ));
        }
    };

    let direction = match manifest.metric.direction.as_deref() {
        Some(text) => Some(Direction::parse(text).ok_or_else(|| {
            Error::task(
                manifest_path,
                format!("metric.direction `{text}` is not one of minimize, maximize"),
            )
        })?),
        None => None,
    };

    let submission = match manifest.submission {
        Some(section) if !section.required => None,
        Some(section) => {
            if let Some(sample) = &section.sample
                && !data_dir.join(sample).is_file()
            {
                return Err(Error::task(
                    manifest_path,
                    format!(
                        "submission.sample {} is not a file in the data directory",
                        sample.display()
                    ),
                ));
            }
            let file_name = section
                .file
                .unwrap_or_else(|| DEFAULT_SUBMISSION_FILE.into());
            if file_name.contains(['/', '\\']) || file_name.trim().is_empty() {
                return Err(Error::task(
                    manifest_path,
                    "submission.file must be a plain file name",
                ));
            }
            Some(SubmissionSpec {
                file_name,
                sample: section.sample,
            })
        }
        None => infer_submission(&data_dir)?,
    };

    let answers = manifest.answers.map(|a| dir.join(a));
    if let Some(answers) = &answers {
        within.check(answers)?;
    }
    if let Some(answers) = &answers
        && !is_regular_file(answers)
    {
        return Err(Error::task(
            manifest_path,
            format!("answers file {} does not exist", answers.display()),
        ));
    }

    Ok(Task {
        name: manifest
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| name_of(dir)),
        goal,
        eval: manifest.eval.filter(|e| !e.trim().is_empty()),
        description,
        input: TaskData::local(data_dir),
        metric: MetricSpec {
            name: manifest.metric.name,
            direction,
        },
        submission,
        answers: answers.map(Answers::local_file),
        layout: TaskLayout::Manifest,
    })
}
