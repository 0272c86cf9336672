//! A task on the wire: [`descriptor_of`] turns a loaded task into the `TaskDescriptor` a
//! client sends with its bundles, and [`task_from_bundle`] checks a received descriptor and
//! builds the task the coordinator stores, its data named only by bundle digests.

use aide_core::Task;
use aide_core::bundle::Manifest;
use aide_core::task::{Answers, BundleRef, MetricSpec, SubmissionSpec, TaskData, TaskLayout};

use crate::v1;

/// The most text a descriptor field may carry (a competition page is well under this).
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// The descriptor of a loaded task; its file references are relative to the bundles.
pub fn descriptor_of(task: &Task) -> v1::TaskDescriptor {
    v1::TaskDescriptor {
        name: task.name.clone(),
        goal: task.goal.clone(),
        eval: task.eval.clone().unwrap_or_default(),
        description: task.description.clone().unwrap_or_default(),
        metric_name: task.metric.name.clone().unwrap_or_default(),
        direction: task
            .metric
            .direction
            .map_or(v1::MetricDirection::Unspecified, Into::into)
            .into(),
        submission_file: task
            .submission
            .as_ref()
            .map(|s| s.file_name.clone())
            .unwrap_or_default(),
        sample_submission: task
            .submission
            .as_ref()
            .and_then(|s| s.sample.as_ref())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        answers_file: task
            .answers
            .as_ref()
            .map(|a| a.file.clone())
            .unwrap_or_default(),
        layout: layout_name(task.layout).to_owned(),
    }
}

/// A stored bundle and its manifest, as the coordinator found them.
#[derive(Debug, Clone, Copy)]
pub struct StoredBundle<'a> {
    pub digest: aide_core::bundle::Sha256Digest,
    pub manifest: &'a Manifest,
}

impl StoredBundle<'_> {
    fn reference(&self) -> BundleRef {
        BundleRef {
            digest: self.digest,
            files: self.manifest.files.len() as u64,
            bytes: self.manifest.total_bytes(),
        }
    }

    fn holds(&self, path: &str) -> bool {
        self.manifest.files.iter().any(|f| f.path == path)
    }
}

/// The task a received descriptor describes over stored bundles. Every refusal names the
/// descriptor's field.
pub fn task_from_bundle(
    descriptor: v1::TaskDescriptor,
    input: StoredBundle<'_>,
    private: Option<StoredBundle<'_>>,
) -> Result<Task, String> {
    for (field, text) in [
        ("name", &descriptor.name),
        ("goal", &descriptor.goal),
        ("eval", &descriptor.eval),
        ("description", &descriptor.description),
    ] {
        if text.len() > MAX_TEXT_BYTES {
            return Err(format!("descriptor.{field}: over {MAX_TEXT_BYTES} bytes"));
        }
    }
    if input.manifest.files.is_empty() {
        return Err("input: the task's data bundle has no files".into());
    }
    let goal = match (descriptor.goal.trim(), descriptor.description.trim()) {
        ("", "") => return Err("descriptor.goal: required (or a description)".into()),
        ("", _) => "Solve the task described below.".to_owned(),
        (goal, _) => goal.to_owned(),
    };
    let direction = v1::MetricDirection::try_from(descriptor.direction)
        .map_err(|_| "descriptor.direction: unknown value".to_owned())?
        .to_domain();
    Ok(Task {
        name: non_empty(&descriptor.name).unwrap_or_else(|| "task".into()),
        goal,
        eval: non_empty(&descriptor.eval),
        description: non_empty(&descriptor.description),
        input: TaskData::Bundle(input.reference()),
        metric: MetricSpec {
            name: non_empty(&descriptor.metric_name),
            direction,
        },
        submission: submission(&descriptor, &input)?,
        answers: answers(&descriptor, private)?,
        layout: layout_of(&descriptor.layout)?,
    })
}

fn submission(
    descriptor: &v1::TaskDescriptor,
    input: &StoredBundle<'_>,
) -> Result<Option<SubmissionSpec>, String> {
    let file = descriptor.submission_file.trim();
    if file.is_empty() {
        return Ok(None);
    }
    if file.contains(['/', '\\', '\0']) || file == "." || file == ".." {
        return Err("descriptor.submission_file: must be a plain file name".into());
    }
    let sample = match descriptor.sample_submission.trim() {
        "" => None,
        sample if input.holds(sample) => Some(sample.into()),
        sample => {
            return Err(format!(
                "descriptor.sample_submission: {sample:?} is not a file of the input bundle"
            ));
        }
    };
    Ok(Some(SubmissionSpec {
        file_name: file.to_owned(),
        sample,
    }))
}

fn answers(
    descriptor: &v1::TaskDescriptor,
    private: Option<StoredBundle<'_>>,
) -> Result<Option<Answers>, String> {
    let file = descriptor.answers_file.trim();
    match (file, private) {
        ("", None) => Ok(None),
        ("", Some(_)) => Err("descriptor.answers_file: required with a private bundle".into()),
        (_, None) => Err("private_digest: required with an answers file".into()),
        (file, Some(private)) if private.holds(file) => Ok(Some(Answers {
            data: TaskData::Bundle(private.reference()),
            file: file.to_owned(),
        })),
        (file, Some(_)) => Err(format!(
            "descriptor.answers_file: {file:?} is not a file of the private bundle"
        )),
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn layout_name(layout: TaskLayout) -> &'static str {
    match layout {
        TaskLayout::Reference => "reference",
        TaskLayout::Manifest => "manifest",
        TaskLayout::MleBench => "mlebench",
    }
}

fn layout_of(name: &str) -> Result<TaskLayout, String> {
    match name.trim() {
        "reference" | "" => Ok(TaskLayout::Reference),
        "manifest" => Ok(TaskLayout::Manifest),
        "mlebench" => Ok(TaskLayout::MleBench),
        other => Err(format!("descriptor.layout: unknown layout {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use aide_core::bundle::{BundleFile, Limits, Sha256Digest};

    use super::*;

    fn manifest(paths: &[&str]) -> Manifest {
        let files = paths
            .iter()
            .map(|p| BundleFile {
                path: (*p).into(),
                size: 1,
                sha256: Sha256Digest([1; 32]),
                executable: false,
            })
            .collect();
        Manifest::from_files(files, &Limits::default()).unwrap()
    }

    fn local_task() -> Task {
        Task {
            name: "house".into(),
            goal: "Predict SalePrice.".into(),
            eval: Some("RMSE".into()),
            description: None,
            input: TaskData::local("/home/me/house/data"),
            metric: MetricSpec {
                name: Some("rmse".into()),
                direction: Some(aide_core::Direction::Minimize),
            },
            submission: Some(SubmissionSpec {
                file_name: "submission.csv".into(),
                sample: Some("sample_submission.csv".into()),
            }),
            answers: Some(Answers::local_file("/home/me/house/answers.csv".into())),
            layout: TaskLayout::Manifest,
        }
    }

    fn stored(m: &Manifest) -> StoredBundle<'_> {
        StoredBundle {
            digest: m.digest(),
            manifest: m,
        }
    }

    #[test]
    fn a_task_crosses_the_wire_with_only_bundle_references() {
        let input = manifest(&["train.csv", "test.csv", "sample_submission.csv"]);
        let private = manifest(&["answers.csv"]);
        let task = task_from_bundle(
            descriptor_of(&local_task()),
            stored(&input),
            Some(stored(&private)),
        )
        .unwrap();
        assert_eq!(task.input.bundle().unwrap().digest, input.digest());
        assert_eq!(task.input.bundle().unwrap().files, 3);
        let answers = task.answers.unwrap();
        assert_eq!(answers.file, "answers.csv");
        assert_eq!(answers.data.bundle().unwrap().digest, private.digest());
        assert_eq!(task.metric.direction, Some(aide_core::Direction::Minimize));
        assert_eq!(task.layout, TaskLayout::Manifest);
    }

    #[test]
    fn a_descriptor_naming_files_the_bundles_lack_is_refused_by_field() {
        let input = manifest(&["train.csv"]);
        let private = manifest(&["answers.csv"]);
        let no_sample = task_from_bundle(descriptor_of(&local_task()), stored(&input), None);
        assert!(
            no_sample
                .unwrap_err()
                .starts_with("descriptor.sample_submission")
        );
        let mut desc = descriptor_of(&local_task());
        desc.sample_submission.clear();
        let no_private = task_from_bundle(desc.clone(), stored(&input), None);
        assert!(no_private.unwrap_err().starts_with("private_digest"));
        desc.answers_file = "../../etc/passwd".into();
        let wrong = task_from_bundle(desc.clone(), stored(&input), Some(stored(&private)));
        assert!(wrong.unwrap_err().starts_with("descriptor.answers_file"));
        desc.submission_file = "../x.csv".into();
        let escape = task_from_bundle(desc, stored(&input), Some(stored(&private)));
        assert!(
            escape
                .unwrap_err()
                .starts_with("descriptor.submission_file")
        );
    }
}
