//! The scale harness of issue 14: ONE coordinator engine (the real run loop, a real store)
//! drives many runs at once with an instant author and an instant executor, so everything
//! measured is orchestration. Shared by the `scale` benchmark (1, 50 and 500 runs on
//! Postgres) and the `scale` suite (a tiny version that checks the numbers are produced and
//! the trees complete).
//!
//! Every run is claimed before the clock starts; what it measures, over the window from the
//! start of the drives to the last one's end:
//! - nodes per second: every node of every run, over the window;
//! - orchestration time per node: in each run (one worker), the time from one node's code
//!   request to the next one's (the last node: to its drive's end); the author and the
//!   executor answer at once, so all of it is the engine and the store;
//! - store calls per node: every call through the engine's store, counted by a
//!   [`Counted`] wrapper by method;
//! - SQL statements per node: every statement the store's pool sent (`BEGIN` and `COMMIT`
//!   included), counted from sqlx's statement log by a [`StatementCounter`] layer.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aide_coordinator::api::EventNotifier;
use aide_coordinator::engine::{
    Answer, Author, AuthorReply, AuthorRequest, CallKind, Engine, EngineConfig, Executed, Executor,
    PortError, RunEnd, ScriptRun,
};
use aide_core::access::ProjectName;
use aide_core::task::{MetricSpec, SubmissionSpec, TaskData, TaskLayout};
use aide_core::{Direction, ExceptionInfo, NodeStage, RunId, RunSettings, Task};
use aide_store::prelude::*;
use aide_store::{AnyStore, CallUsage, Counted, NewRun};
use serde_json::json;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// The size of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Runs driven at once by the one engine.
    pub runs: u32,
    /// Nodes of each run.
    pub steps: u32,
    /// Whether the engine writes each run's outputs (as `aide run` and a coordinator with
    /// `--output-dir` do).
    pub outputs: bool,
}

/// What one measurement found.
#[derive(Debug, Clone)]
pub struct ScaleReport {
    pub scale: Scale,
    pub nodes: u64,
    pub wall: Duration,
    /// Orchestration time of every node, sorted.
    pub per_node: Vec<Duration>,
    pub store_calls: BTreeMap<&'static str, u64>,
    pub statements: u64,
    /// Runs whose drive did not end as completed.
    pub not_completed: Vec<(RunId, RunEnd)>,
    /// Postgres transactions over the window, when counted ([`transactions`]).
    pub transactions: Option<u64>,
}

impl ScaleReport {
    pub fn nodes_per_sec(&self) -> f64 {
        self.nodes as f64 / self.wall.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The `p` quantile (0..=1) of the orchestration time per node.
    pub fn per_node(&self, p: f64) -> Duration {
        if self.per_node.is_empty() {
            return Duration::ZERO;
        }
        let last = self.per_node.len() - 1;
        self.per_node[((last as f64) * p).round() as usize]
    }

    pub fn store_calls_per_node(&self) -> f64 {
        self.store_calls.values().sum::<u64>() as f64 / self.nodes.max(1) as f64
    }

    pub fn statements_per_node(&self) -> f64 {
        self.statements as f64 / self.nodes.max(1) as f64
    }

    pub fn transactions_per_node(&self) -> Option<f64> {
        self.transactions
            .map(|t| t as f64 / self.nodes.max(1) as f64)
    }

    /// One line of the results table.
    pub fn line(&self) -> String {
        format!(
            "{:>5} runs x {:>3} steps | {:>8.1} nodes/s | orchestration per node p50 {:>8.2} ms \
             p99 {:>8.2} ms | store calls/node {:>5.2} | SQL statements/node {:>5.2} | \
             transactions/node {}",
            self.scale.runs,
            self.scale.steps,
            self.nodes_per_sec(),
            ms(self.per_node(0.5)),
            ms(self.per_node(0.99)),
            self.store_calls_per_node(),
            self.statements_per_node(),
            self.transactions_per_node()
                .map_or_else(|| "-".to_owned(), |t| format!("{t:>5.2}")),
        )
    }

    /// The store calls per node, by method.
    pub fn calls_by_method(&self) -> String {
        let nodes = self.nodes.max(1) as f64;
        self.store_calls
            .iter()
            .map(|(method, n)| format!("{method} {:.2}", *n as f64 / nodes))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Transactions committed or rolled back so far in the database `name` of the server at
/// `admin_url` (read from another database, so the reading is not counted), as
/// `pg_stat_database` says once nobody is connected to it: a session flushes its
/// statistics as it exits, so close the pools first.
pub async fn transactions(admin_url: &str, name: &str) -> u64 {
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("connect");
    let read = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).bind(name.to_owned());
    for _ in 0..100 {
        let sessions = read("SELECT numbackends::int8 FROM pg_stat_database WHERE datname = $1")
            .fetch_one(&mut connection)
            .await
            .expect("sessions");
        if sessions == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The statistics of a session land a moment after it is gone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n =
        read("SELECT (xact_commit + xact_rollback)::int8 FROM pg_stat_database WHERE datname = $1")
            .fetch_one(&mut connection)
            .await
            .expect("statistics");
    let _ = <sqlx::PgConnection as sqlx::Connection>::close(connection).await;
    u64::try_from(n).unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Counts the SQL statements sqlx sends (its `sqlx::query` log events, one per statement).
/// Install it with a filter that lets `sqlx::query` through at `DEBUG`.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(pub Arc<AtomicU64>);

impl<S: Subscriber> Layer<S> for StatementCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl StatementCounter {
    /// The layer with the filter it needs (only sqlx's statement log reaches it).
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let only_statements = tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::query", tracing::Level::DEBUG);
        self.clone().with_filter(only_statements)
    }

    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// When each run's code requests arrived.
#[derive(Debug, Default)]
struct Clock {
    code_calls: Mutex<HashMap<RunId, Vec<Instant>>>,
}

impl Clock {
    fn code_call(&self, run: RunId) {
        let mut calls = self
            .code_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        calls.entry(run).or_default().push(Instant::now());
    }

    /// Every node's time from its code request to the next one's (or to `ends[run]`).
    fn per_node(&self, ends: &HashMap<RunId, Instant>) -> Vec<Duration> {
        let calls = self
            .code_calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all = Vec::new();
        for (run, times) in calls.iter() {
            let mut times = times.clone();
            times.sort();
            times.extend(ends.get(run));
            all.extend(times.windows(2).map(|w| w[1] - w[0]));
        }
        all.sort();
        all
    }
}

/// Answers at once: drafts and improvements print a metric (every fifth step raises),
/// reviews read the metric line back.
#[derive(Debug, Default)]
pub struct InstantAuthor {
    clock: Clock,
}

impl Author for InstantAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        let hints = request.hints;
        let answer = match hints.call {
            CallKind::Review => {
                let metric = hints
                    .last_output
                    .lines()
                    .find_map(|l| l.strip_prefix("AIDE_METRIC: "))
                    .and_then(|m| m.trim().parse::<f64>().ok());
                Answer::FunctionArguments(
                    json!({"is_bug": metric.is_none(), "summary": "instant", "metric": metric,
                           "lower_is_better": true})
                    .to_string(),
                )
            }
            CallKind::Report => Answer::Text("An instant report.".into()),
            _ => {
                self.clock.code_call(request.run_id);
                let code = match hints.step % 5 {
                    3 => "raise ValueError('instant failure')".to_owned(),
                    // Better, worse and equal metrics in turn: the best changes now and then.
                    n => format!(
                        "print('AIDE_METRIC: {}')",
                        1.0 / f64::from(n + hints.step % 7 + 1)
                    ),
                };
                Answer::Text(format!("Plan {}.\n```python\n{code}\n```\n", hints.step))
            }
        };
        Ok(AuthorReply {
            answer: Some(answer),
            usage: CallUsage {
                provider: "instant".into(),
                model: "instant".into(),
                prompt_tokens: 100,
                completion_tokens: 50,
                ..CallUsage::default()
            },
        })
    }
}

/// "Runs" what [`InstantAuthor`] writes at once: a raise fails, a print prints its metric
/// and writes the submission.
#[derive(Debug, Default)]
pub struct InstantExecutor;

impl Executor for InstantExecutor {
    async fn execute(&self, script: ScriptRun) -> Result<Executed, PortError> {
        let ran = if script.code.starts_with("raise") {
            let exception = ExceptionInfo {
                message: "instant failure".into(),
                ..ExceptionInfo::default()
            };
            Executed {
                exit_code: Some(1),
                output: "Traceback ...\nValueError: instant failure\n".into(),
                exception: Some(("ValueError".into(), exception)),
                ..Executed::default()
            }
        } else {
            let printed = script
                .code
                .trim_start_matches("print('")
                .trim_end_matches("')");
            Executed {
                exit_code: Some(0),
                output: format!("{printed}\n"),
                files: vec![("submission.csv".into(), b"id,y\n1,0.5\n".to_vec())],
                ..Executed::default()
            }
        };
        Ok(Executed {
            runner_id: Some("instant".into()),
            wall_time: Duration::from_millis(1),
            ..ran
        })
    }
}

/// A tabular task in `dir` (written there) with test data, so nodes write a submission.
pub fn scale_task(dir: &Path) -> Task {
    std::fs::write(dir.join("train.csv"), "id,x,y\n1,0.1,2\n2,0.2,3\n3,0.3,5\n").expect("train");
    std::fs::write(dir.join("test.csv"), "id,x\n4,0.4\n").expect("test");
    Task {
        name: "scale".into(),
        goal: "Predict y.".into(),
        eval: Some("RMSE".into()),
        description: None,
        input: TaskData::local(dir),
        metric: MetricSpec {
            name: Some("rmse".into()),
            direction: Some(Direction::Minimize),
        },
        submission: Some(SubmissionSpec {
            file_name: "submission.csv".into(),
            sample: None,
        }),
        answers: None,
        layout: TaskLayout::Manifest,
    }
}

/// Creates `scale.runs` queued runs of `task`.
pub async fn seed(store: &AnyStore, task: &Task, scale: Scale) {
    for i in 0..scale.runs {
        let settings = RunSettings {
            steps: scale.steps,
            workers: 1,
            seed: u64::from(i),
            ..RunSettings::default()
        };
        store
            .create_run(NewRun {
                project: ProjectName::default_project(),
                name: format!("scale-{i}"),
                task: task.clone(),
                settings,
                direction: Some(Direction::Minimize),
                seed: u64::from(i),
                fork_of: None,
            })
            .await
            .expect("create a run");
    }
}

/// Claims every queued run of `store` and drives them all at once on one engine, then
/// checks the stored trees. `statements` counts the SQL statements of the store's pool.
pub async fn measure(
    store: AnyStore,
    scale: Scale,
    statements: &StatementCounter,
    outputs: Option<&Path>,
) -> ScaleReport {
    let counted = Arc::new(Counted::new(store.clone()));
    let author = Arc::new(InstantAuthor::default());
    let notifier = EventNotifier::new();
    let config = EngineConfig {
        lease_ttl: Duration::from_secs(60),
        output_dir: outputs.map(Path::to_path_buf),
        on_event: Some(notifier.hook()),
        ..EngineConfig::default()
    };
    let engine = Arc::new(Engine::new(
        counted.clone(),
        author.clone(),
        Arc::new(InstantExecutor),
        config,
    ));
    // Every run is claimed first, so all of them are in flight from the window's start.
    let mut leases = Vec::new();
    while let Some(lease) = counted
        .claim_run("scale-bench", Duration::from_secs(60))
        .await
        .expect("claim")
    {
        leases.push(lease);
    }
    counted.calls().reset();
    let statements_before = statements.count();
    let started = Instant::now();
    let mut drives = JoinSet::new();
    for lease in leases {
        let engine = engine.clone();
        drives.spawn(async move {
            let end = engine
                .drive(lease.clone(), CancellationToken::new())
                .await
                .expect("drive");
            (lease.run_id, end, Instant::now())
        });
    }
    let mut ends = HashMap::new();
    let mut not_completed = Vec::new();
    while let Some(joined) = drives.join_next().await {
        let (run, end, at) = joined.expect("a drive task");
        if !matches!(end, RunEnd::Completed { .. }) {
            not_completed.push((run, end));
        }
        ends.insert(run, at);
    }
    let wall = started.elapsed();
    let statements = statements.count() - statements_before;
    let store_calls = counted.calls().snapshot();
    let nodes = u64::from(scale.runs) * u64::from(scale.steps);
    ScaleReport {
        scale,
        nodes,
        wall,
        per_node: author.clock.per_node(&ends),
        store_calls,
        statements,
        not_completed,
        transactions: None,
    }
}

/// Runs of `store` whose stored tree is not `steps` reviewed nodes with the steps
/// 0..steps.
pub async fn bad_trees(store: &AnyStore, steps: u32) -> Vec<(RunId, String)> {
    let mut bad = Vec::new();
    let runs = store
        .list_runs(aide_store::RunFilter {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .expect("runs");
    for run in runs.iter().map(|r| r.id) {
        let nodes = store.load_tree(run).await.expect("tree");
        let mut seen: Vec<u32> = nodes.iter().map(|n| n.step).collect();
        seen.sort_unstable();
        seen.dedup();
        let unreviewed = nodes
            .iter()
            .filter(|n| n.stage != NodeStage::Reviewed)
            .count();
        if nodes.len() != steps as usize || seen != (0..steps).collect::<Vec<_>>() || unreviewed > 0
        {
            bad.push((
                run,
                format!(
                    "{} nodes, {} distinct steps, {unreviewed} unreviewed",
                    nodes.len(),
                    seen.len()
                ),
            ));
        }
    }
    bad
}
