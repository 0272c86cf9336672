use std::path::Path;

use super::*;

fn spec(text: &str) -> Result<Spec, SpecError> {
    Spec::parse(text, "sweep.toml", Path::new("/specs"))
}

fn error(text: &str) -> String {
    spec(text).expect_err("an invalid spec").to_string()
}

#[test]
fn cells_are_every_task_seed_and_arm_with_the_arms_settings() {
    let s = spec(
        r#"
seeds = 2
[settings]
steps = 7
code = { model = "gpt-4o" }
[[tasks]]
path = "tasks/diabetes"
[[tasks]]
path = "/abs/house"
name = "house-prices"
[[arms]]
name = "gpt"
[[arms]]
name = "sonnet"
settings = { code = { model = "claude-sonnet-4-5" }, steps = 9 }
[budget]
cost_usd = 12.5
cells_at_once = 4
"#,
    )
    .expect("a valid spec");
    assert_eq!(s.cell_count(), 8);
    let cells = s.cells();
    assert_eq!(cells[0].task.path(), Path::new("/specs/tasks/diabetes"));
    assert_eq!(cells[0].task.name(), "diabetes");
    assert_eq!((cells[0].seed, cells[0].arm.as_str()), (0, "gpt"));
    assert_eq!(cells[0].settings.steps, 7);
    assert_eq!(cells[1].settings.code.model, "claude-sonnet-4-5");
    assert_eq!(cells[1].settings.steps, 9);
    // The arm keeps the sweep's other settings (temperature) and takes the cell's seed.
    assert_eq!(
        cells[1].settings.code.temperature,
        RunSettings::default().code.temperature
    );
    assert_eq!(cells[3].seed, 1);
    assert_eq!(cells[3].settings.seed, 1);
    assert_eq!(cells[7].task.name(), "house-prices");
    assert_eq!(s.budget.cells_at_once, Some(4));
}

#[test]
fn mlebench_competitions_come_from_a_split_a_list_or_a_file() {
    let lite = spec("seeds = [3, 5]\n[mlebench]\ndata_dir = \"mle\"\ncompetitions = \"lite\"\n")
        .expect("lite");
    assert_eq!(lite.tasks.len(), 22);
    assert_eq!(lite.arms[0].name, "default");
    assert_eq!(
        lite.tasks[0].path(),
        Path::new("/specs/mle/aerial-cactus-identification")
    );
    let listed =
        spec("seeds = 1\n[mlebench]\ndata_dir = \"/d\"\ncompetitions = [\"spaceship-titanic\"]\n")
            .expect("list");
    assert_eq!(listed.tasks[0].name(), "spaceship-titanic");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ids.txt"),
        "# mine\nleaf-classification\n\nrandom-acts-of-pizza\n",
    )
    .expect("write");
    let from_file = Spec::parse(
        "seeds = 1\n[mlebench]\ndata_dir = \"d\"\ncompetitions = { file = \"ids.txt\" }\n",
        "sweep.toml",
        dir.path(),
    )
    .expect("file");
    assert_eq!(from_file.tasks.len(), 2);
}

#[test]
fn bad_specs_say_what_and_where() {
    let typo = error("seeds = 1\n[[tasks]]\npath = \"a\"\n[setings]\nsteps = 1\n");
    assert!(
        typo.contains("line 4") && typo.contains("setings"),
        "{typo}"
    );
    let arm = error(
        "seeds = 1\n[[tasks]]\npath = \"a\"\n[[arms]]\nname = \"x\"\nsettings = { stepz = 3 }\n",
    );
    assert!(arm.contains("arm \"x\"") && arm.contains("stepz"), "{arm}");
    assert!(error("seeds = 0\n[[tasks]]\npath = \"a\"\n").contains("at least 1"));
    assert!(error("seeds = [1, 1]\n[[tasks]]\npath = \"a\"\n").contains("twice"));
    assert!(error("seeds = 1\n").contains("no task"));
    assert!(
        error("seeds = 1\n[[tasks]]\npath = \"a/x\"\n[[tasks]]\npath = \"b/x\"\n")
            .contains("two tasks")
    );
    let split = error("seeds = 1\n[mlebench]\ndata_dir = \"d\"\ncompetitions = \"huge\"\n");
    assert!(split.contains("huge") && split.contains("lite"), "{split}");
    let id = error("seeds = 1\n[mlebench]\ndata_dir = \"d\"\ncompetitions = [\"../etc\"]\n");
    assert!(id.contains("not an id"), "{id}");
    assert!(
        error("seeds = 1\n[[tasks]]\npath = \"a\"\n[budget]\ncost_usd = -1\n").contains("cost_usd")
    );
    let twice = error(
        "seeds = 1\n[[tasks]]\npath = \"a\"\n[[arms]]\nname = \"a\"\n[[arms]]\nname = \"a\"\n",
    );
    assert!(twice.contains("name of its own"), "{twice}");
    let huge = error("seeds = 100000\n[[tasks]]\npath = \"a\"\n[[tasks]]\npath = \"b\"\n");
    assert!(huge.contains("more than"), "{huge}");
}
