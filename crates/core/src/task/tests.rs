//! Task loading across the three layouts, and the errors a user sees.

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, text).expect("write");
}

fn shared_house_prices() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/house_prices")
}

fn err_text(result: Result<Task>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn reference_layout_with_goal_and_eval() {
    let task = Task::from_reference(&ReferenceTask {
        data_dir: Some(shared_house_prices()),
        goal: Some("Predict the sales price for each house".into()),
        eval: Some("RMSE between log predicted and log observed price".into()),
        desc_file: None,
    })
    .expect("load");
    assert_eq!(task.layout, TaskLayout::Reference);
    assert_eq!(task.name, "house_prices");
    assert!(task.eval.as_deref().is_some_and(|e| e.contains("RMSE")));
    let sub = task.submission.expect("test.csv means test data");
    assert_eq!(sub.file_name, "submission.csv");
    assert_eq!(sub.sample, Some(PathBuf::from("sample_submission.csv")));
}

#[test]
fn reference_layout_errors_name_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing_goal = ReferenceTask {
        data_dir: Some(shared_house_prices()),
        ..Default::default()
    };
    assert!(err_text(Task::from_reference(&missing_goal)).contains("goal or a desc_file"));
    assert!(
        err_text(Task::from_reference(&ReferenceTask::default())).contains("data_dir is required")
    );
    let nowhere = ReferenceTask {
        data_dir: Some(dir.path().join("nope")),
        goal: Some("g".into()),
        ..Default::default()
    };
    assert!(err_text(Task::from_reference(&nowhere)).contains("does not exist"));
    let empty = ReferenceTask {
        data_dir: Some(dir.path().into()),
        goal: Some("g".into()),
        ..Default::default()
    };
    assert!(err_text(Task::from_reference(&empty)).contains("is empty"));
}

#[test]
fn reference_layout_with_description_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("data/series.csv"), "t,y\n1,2\n");
    write(&dir.path().join("desc.md"), "# Forecast\nPredict y.\n");
    let task = Task::from_reference(&ReferenceTask {
        data_dir: Some(dir.path().join("data")),
        desc_file: Some(dir.path().join("desc.md")),
        ..Default::default()
    })
    .expect("load");
    assert!(
        task.description
            .as_deref()
            .is_some_and(|d| d.contains("Predict y"))
    );
    assert_eq!(
        task.submission, None,
        "no test file, no submission required"
    );
}

#[test]
fn manifest_layout_full() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("data/train.csv"), "a,b\n1,2\n");
    write(&dir.path().join("data/test.csv"), "a\n1\n");
    write(&dir.path().join("data/sample_submission.csv"), "id,b\n");
    write(&dir.path().join("answers.csv"), "id,b\n0,2\n");
    write(
        &dir.path().join("task.toml"),
        r#"
name = "demo"
goal = "Predict b."
eval = "RMSE"
answers = "answers.csv"
[metric]
name = "rmse"
[submission]
sample = "sample_submission.csv"
"#,
    );
    let task = Task::load(dir.path()).expect("load");
    assert_eq!(task.layout, TaskLayout::Manifest);
    assert_eq!(task.name, "demo");
    assert_eq!(task.metric.resolved_direction(), Some(Direction::Minimize));
    assert_eq!(
        task.answers,
        Some(Answers::local_file(dir.path().join("answers.csv")))
    );
    assert!(task.has_test_data());
    // The manifest file itself is accepted too.
    assert_eq!(
        Task::load(&dir.path().join("task.toml")).expect("load file"),
        task
    );
}

#[test]
fn manifest_errors_name_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("data/train.csv"), "a\n1\n");
    let manifest = dir.path().join("task.toml");

    write(&manifest, "goal = \"x\"\ngaol = \"typo\"\n");
    assert!(err_text(Task::load(dir.path())).contains("gaol"));

    write(&manifest, "eval = \"x\"\n");
    assert!(err_text(Task::load(dir.path())).contains("`goal` is required"));

    write(&manifest, "goal = \"x\"\n[metric]\ndirection = \"up\"\n");
    assert!(err_text(Task::load(dir.path())).contains("metric.direction `up`"));

    write(&manifest, "goal = \"x\"\ndata_dir = \"elsewhere\"\n");
    assert!(err_text(Task::load(dir.path())).contains("elsewhere does not exist"));

    write(&manifest, "goal = \"x\"\nanswers = \"gone.csv\"\n");
    assert!(err_text(Task::load(dir.path())).contains("gone.csv does not exist"));

    write(
        &manifest,
        "goal = \"x\"\n[submission]\nsample = \"missing.csv\"\n",
    );
    assert!(err_text(Task::load(dir.path())).contains("missing.csv is not a file"));

    write(&manifest, "goal = [1, 2\n");
    assert!(err_text(Task::load(dir.path())).contains("task.toml"));
}

#[test]
fn manifest_can_declare_no_test_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("data/test_series.csv"), "a\n1\n");
    write(
        &dir.path().join("task.toml"),
        "goal = \"x\"\n[submission]\nrequired = false\n",
    );
    assert!(!Task::load(dir.path()).expect("load").has_test_data());
}

#[test]
fn mlebench_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let comp = dir.path().join("spaceship-titanic");
    write(
        &comp.join("description.md"),
        "# Spaceship Titanic\nPredict Transported.\n",
    );
    write(&comp.join("prepared/public/train.csv"), "a\n1\n");
    write(&comp.join("prepared/public/test.csv"), "a\n1\n");
    write(
        &comp.join("prepared/public/sample_submission.csv"),
        "id,t\n",
    );
    write(&comp.join("prepared/private/test.csv"), "id,t\n1,True\n");
    let task = Task::load(&comp).expect("load");
    assert_eq!(task.layout, TaskLayout::MleBench);
    assert_eq!(task.name, "spaceship-titanic");
    assert_eq!(task.input, TaskData::local(comp.join("prepared/public")));
    let answers = task.answers.clone().expect("answers");
    assert_eq!(answers.data, TaskData::local(comp.join("prepared/private")));
    assert_eq!(answers.file, "test.csv");
    assert!(task.has_test_data());
}

/// The layout `mlebench prepare` writes: `description.md` inside `prepared/public/`, the
/// answers (`answers.csv` for many competitions) in `prepared/private/`.
#[test]
fn mlebench_prepared_layout_with_the_description_in_the_public_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let comp = dir.path().join("spaceship-titanic");
    let public = comp.join("prepared/public");
    write(
        &public.join("description.md"),
        "# Spaceship Titanic\nPredict Transported.\n",
    );
    write(&public.join("train.csv"), "a\n1\n");
    write(&public.join("test.csv"), "a\n1\n");
    write(&public.join("sample_submission.csv"), "id,t\n");
    write(&comp.join("prepared/private/answers.csv"), "id,t\n1,True\n");
    let task = Task::load(&comp).expect("load");
    assert_eq!(task.layout, TaskLayout::MleBench);
    assert!(
        task.description
            .as_deref()
            .is_some_and(|d| d.contains("Predict Transported")),
        "{:?}",
        task.description
    );
    assert_eq!(task.input, TaskData::local(&public));
    assert_eq!(task.answers.expect("answers").file, "answers.csv");
}

#[test]
fn mlebench_errors_name_the_missing_part() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("description.md"), "# x\n");
    assert!(err_text(Task::load(dir.path())).contains("missing prepared/public/"));
    let other = tempfile::tempdir().expect("tempdir");
    write(&other.path().join("prepared/public/train.csv"), "a\n");
    assert!(err_text(Task::load(other.path())).contains("missing description.md"));
}

#[test]
fn unknown_layouts_explain_the_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = err_text(Task::load(dir.path()));
    assert!(
        text.contains("task.toml") && text.contains("description.md"),
        "{text}"
    );
    assert!(err_text(Task::load(&dir.path().join("missing"))).contains("no such file"));
    write(&dir.path().join("notes.txt"), "x");
    assert!(err_text(Task::load(&dir.path().join("notes.txt"))).contains("task.toml"));
}

#[test]
fn shipped_examples_load_with_answers_and_a_fixed_direction() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (name, direction) in [
        ("diabetes", Direction::Minimize),
        ("breast-cancer", Direction::Maximize),
    ] {
        let task = Task::load(&examples.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(task.name, name);
        assert_eq!(task.metric.resolved_direction(), Some(direction), "{name}");
        let answers = task
            .answers
            .as_ref()
            .and_then(Answers::local_answers_file)
            .unwrap_or_else(|| panic!("{name} has answers"));
        assert!(answers.is_file(), "{name}: {}", answers.display());
        let input = task.input.local_path().expect("local input");
        assert!(!answers.starts_with(input), "answers stay outside the data");
        assert!(task.has_test_data());
    }
}

#[test]
fn a_task_under_a_root_reads_nothing_outside_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write(&outside.path().join("secret.md"), "the server's secrets\n");
    write(&outside.path().join("data/train.csv"), "a\n1\n");
    let task = root.path().join("t");
    write(&task.join("data/train.csv"), "a\n1\n");
    for (field, value) in [
        ("description_file", outside.path().join("secret.md")),
        (
            "description_file",
            PathBuf::from("../../../proc/self/environ"),
        ),
        ("data_dir", outside.path().join("data")),
    ] {
        write(
            &task.join("task.toml"),
            &format!(
                "goal = \"x\"\n{field} = {:?}\n",
                value.display().to_string()
            ),
        );
        let text = err_text(Task::load_within(&task, root.path()));
        assert!(
            text.contains("outside the task root") || text.contains("No such file"),
            "{field}={}: {text}",
            value.display()
        );
        assert!(Task::load(&task).is_ok() || field == "description_file");
    }
    write(&task.join("task.toml"), "goal = \"x\"\n");
    assert!(Task::load_within(&task, root.path()).is_ok());
    std::os::unix::fs::symlink(outside.path(), root.path().join("link")).expect("symlink");
    let text = err_text(Task::load_within(&root.path().join("link"), root.path()));
    assert!(text.contains("outside the task root"), "{text}");
}

#[test]
fn text_files_must_be_regular_and_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("data/train.csv"), "a\n1\n");
    let fifo = dir.path().join("desc.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    write(
        &dir.path().join("task.toml"),
        "description_file = \"desc.fifo\"\n",
    );
    let text = err_text(Task::load(dir.path()));
    assert!(
        text.contains("desc.fifo") && text.contains("not a regular file"),
        "{text}"
    );
}

#[test]
fn tasks_stored_before_bundles_still_decode() {
    let old = r#"{"name":"h","goal":"g","eval":null,"description":null,
        "data_dir":"/data/h","metric":{"name":"rmse","direction":null},
        "submission":null,"answers":"/data/answers.csv","layout":"manifest"}"#;
    let task: Task = serde_json::from_str(old).expect("decodes");
    assert_eq!(task.input, TaskData::local("/data/h"));
    assert_eq!(
        task.answers,
        Some(Answers::local_file("/data/answers.csv".into()))
    );
    let again: Task = serde_json::from_str(&serde_json::to_string(&task).unwrap()).unwrap();
    assert_eq!(again, task);
}
