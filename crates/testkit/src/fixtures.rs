//! Stored things the suites and benches build alike: a sample task (house prices, RMSE), a
//! sweep of copies of it, a token of a role, and a claimed run of the diabetes example.

use aide_core::access::{ProjectName, Role, Token};
use aide_core::sweep::SweepDefinition;
use aide_core::sweep::definition::{SweepArm, SweepBudget, SweepTask};
use aide_core::task::{MetricSpec, SubmissionSpec, TaskData, TaskLayout};
use aide_core::{Direction, RunSettings, Task};
use aide_store::{AccessStore, Lease, NewRun, NewSweep, NewToken, RunStore};

/// A house-prices task named `name` (RMSE, minimized, a submission file), its data at a
/// path nothing reads.
pub fn sample_task(name: &str) -> Task {
    Task {
        name: name.to_owned(),
        goal: "Predict the sale price of each house.".to_owned(),
        eval: Some("RMSE between log prices".to_owned()),
        description: Some("# House prices\nA tabular regression task.".to_owned()),
        input: TaskData::local("/data/house-prices"),
        metric: MetricSpec {
            name: Some("rmse".to_owned()),
            direction: Some(Direction::Minimize),
        },
        submission: Some(SubmissionSpec {
            file_name: "submission.csv".to_owned(),
            sample: None,
        }),
        answers: None,
        layout: TaskLayout::Manifest,
    }
}

/// A sweep `name` in the default project of `tasks` sample tasks, one arm and `seeds`
/// seeds, within `budget`.
pub fn sample_sweep(name: &str, tasks: usize, seeds: u64, budget: SweepBudget) -> NewSweep {
    NewSweep {
        project: ProjectName::default_project(),
        name: name.to_owned(),
        definition: SweepDefinition {
            tasks: (0..tasks)
                .map(|i| SweepTask {
                    name: format!("task-{i}"),
                    task: sample_task(&format!("task-{i}")),
                    leaderboard: Some(vec![0.1, 0.2, 0.3]),
                    grader: None,
                })
                .collect(),
            arms: vec![SweepArm {
                name: "default".into(),
                settings: RunSettings::default(),
            }],
            seeds: (0..seeds).collect(),
        },
        budget,
    }
}

/// A token of `role` in `project`, stored; its secret.
pub async fn mint<S: AccessStore>(store: &S, project: &str, role: Role) -> Token {
    let token = Token::generate().expect("token");
    let new = NewToken {
        project: project.parse().expect("project name"),
        role,
        hash: token.hash(),
        label: format!("test {role}"),
        expires_at: None,
    };
    store.create_token(&new).await.expect("store the token");
    token
}

/// A run of the diabetes example named `name` in the default project with `settings`,
/// claimed by `owner` for ten minutes; its lease.
pub async fn claimed_diabetes_run<S: RunStore>(
    store: &S,
    name: &str,
    settings: RunSettings,
    owner: &str,
) -> Lease {
    let task = Task::load(&crate::example_dir("diabetes")).expect("the diabetes example");
    store
        .create_run(NewRun {
            project: ProjectName::default_project(),
            name: name.to_owned(),
            task,
            settings,
            direction: Some(Direction::Minimize),
            seed: 0,
            fork_of: None,
        })
        .await
        .expect("create the run");
    store
        .claim_run(owner, std::time::Duration::from_secs(600))
        .await
        .expect("claim")
        .expect("the created run is claimable")
}
