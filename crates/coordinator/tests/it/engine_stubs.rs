//! The run loop with stub ports (a scripted author and an executor that "runs" a script by
//! reading it), for what needs many fast steps: an interrupted run resumed by a new owner
//! makes exactly the decisions (the random draws included) of a run never interrupted, under
//! every search policy, and the time budget ends a run with its reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::engine_support::stubs::{ReadingExecutor, metric_review, tiny_task};
use crate::engine_support::*;
use aide_coordinator::engine::{
    Answer, Author, AuthorReply, AuthorRequest, CallKind, PortError, RunEnd,
};
use aide_core::{Action, PolicyKind, Task};
use aide_store::{AnyStore, CallUsage, NodeRecord, NodeStore, RunStore};
use tokio_util::sync::CancellationToken;

/// Writes programs whose fate depends on the step: every third one fails, the others print
/// a metric. Reviews read the metric line back. On code call number `cancel_at` it fires
/// `cancel` and never answers.
#[derive(Debug, Default)]
struct ScriptedAuthor {
    calls: AtomicUsize,
    cancel_at: Option<(usize, CancellationToken)>,
    delay: Duration,
}

impl Author for ScriptedAuthor {
    async fn complete(&self, request: AuthorRequest) -> Result<AuthorReply, PortError> {
        tokio::time::sleep(self.delay).await;
        let aide = request.hints;
        let answer = if aide.call == CallKind::Review {
            metric_review(&aide.last_output, "scripted")
        } else {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some((at, cancel)) = &self.cancel_at
                && n == *at
            {
                cancel.cancel();
                std::future::pending::<()>().await;
            }
            let code = if aide.step.is_multiple_of(3) {
                "raise ValueError('scripted failure')".to_owned()
            } else {
                format!("print('AIDE_METRIC: {}')", 1.0 / f64::from(aide.step + 1))
            };
            Answer::Text(format!(
                "Plan for step {}.\n```python\n{code}\n```\n",
                aide.step
            ))
        };
        Ok(AuthorReply {
            answer: Some(answer),
            usage: CallUsage {
                provider: "stub".into(),
                model: "scripted".into(),
                ..CallUsage::default()
            },
        })
    }
}

/// (step, action, parent's step, partner's step) of every node.
fn shape(nodes: &[NodeRecord]) -> Vec<(u32, Action, Option<u32>, Option<u32>)> {
    let step_of = |id: Option<aide_core::NodeId>| {
        id.map(|p| nodes.iter().find(|m| m.id == p).expect("parent").step)
    };
    nodes
        .iter()
        .map(|n| (n.step, n.action, step_of(n.parent), step_of(n.partner)))
        .collect()
}

async fn run_once(
    store: &Arc<AnyStore>,
    task: Task,
    policy: PolicyKind,
    interrupt_at: Option<usize>,
) -> Vec<NodeRecord> {
    let mut s = settings(14, 2);
    s.search.debug_prob = 0.5;
    s.search.policy = policy;
    s.search.mcts.max_children = 2;
    s.search.evolutionary.population = 2;
    s.search.evolutionary.merge_prob = 0.5;
    s.search.evolutionary.migration_every = 1;
    let lease = claimed_run(store, task, s).await;
    if let Some(at) = interrupt_at {
        let cancel = CancellationToken::new();
        let author = ScriptedAuthor {
            cancel_at: Some((at, cancel.clone())),
            ..Default::default()
        };
        let end = engine(store.clone(), author, ReadingExecutor, None)
            .drive(lease.clone(), cancel)
            .await
            .expect("drive");
        assert_eq!(end, RunEnd::Interrupted);
        let left = store.load_tree(lease.run_id).await.expect("tree");
        assert_eq!(left.len(), at, "interrupted while generating node {at}");
        let resumed = claim(store).await;
        assert_eq!(resumed.run_id, lease.run_id);
        let end = engine(
            store.clone(),
            ScriptedAuthor::default(),
            ReadingExecutor,
            None,
        )
        .drive(resumed, CancellationToken::new())
        .await
        .expect("resume");
        assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    } else {
        let end = engine(
            store.clone(),
            ScriptedAuthor::default(),
            ReadingExecutor,
            None,
        )
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
        assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    }
    store.load_tree(lease.run_id).await.expect("tree")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_makes_the_decisions_of_an_uninterrupted_one() {
    for policy in [
        PolicyKind::Greedy,
        PolicyKind::Mcts,
        PolicyKind::Evolutionary,
    ] {
        a_resumed_run_decides_as_an_uninterrupted_one(policy).await;
    }
}

async fn a_resumed_run_decides_as_an_uninterrupted_one(policy: PolicyKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let task = tiny_task(dir.path());
    let a = store(&dir.path().join("a").tap_mkdir()).await;
    let b = store(&dir.path().join("b").tap_mkdir()).await;
    let straight = run_once(&a, task.clone(), policy, None).await;
    let resumed = run_once(&b, task, policy, Some(9)).await;
    assert_eq!(straight.len(), 14);
    let actions: Vec<Action> = straight.iter().map(|n| n.action).collect();
    assert!(
        actions.contains(&Action::Debug) && actions.contains(&Action::Improve),
        "{policy:?}: {actions:?}"
    );
    if policy == PolicyKind::Evolutionary {
        assert!(actions.contains(&Action::Merge), "{actions:?}");
    }
    assert_eq!(shape(&straight), shape(&resumed), "{policy:?}");
    let verdicts = |nodes: &[NodeRecord]| -> Vec<Option<f64>> {
        nodes
            .iter()
            .map(|n| n.review.as_ref().and_then(|r| r.metric))
            .collect()
    };
    assert_eq!(verdicts(&straight), verdicts(&resumed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_time_budget_ends_the_run_with_its_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let mut s = settings(50, 2);
    s.max_run_secs = Some(1);
    let lease = claimed_run(&store, tiny_task(dir.path()), s).await;
    let author = ScriptedAuthor {
        delay: Duration::from_millis(300),
        ..Default::default()
    };
    // Every appended event is announced through the hook.
    let announced = Arc::new(AtomicUsize::new(0));
    let mut config = config(None);
    config.on_event = Some(aide_coordinator::engine::EventHook::new({
        let (announced, run) = (announced.clone(), lease.run_id);
        move |id| {
            assert_eq!(id, run);
            announced.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let engine = aide_coordinator::engine::Engine::new(
        store.clone(),
        Arc::new(author),
        Arc::new(ReadingExecutor),
        config,
    );
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    let events = event_kinds(&store, lease.run_id).await;
    assert_eq!(announced.load(Ordering::SeqCst), events.len());
    let RunEnd::Completed { reason } = end else {
        panic!("{end:?}")
    };
    assert!(reason.starts_with("time budget reached"), "{reason}");
    let nodes = store.load_tree(lease.run_id).await.expect("tree");
    assert!(!nodes.is_empty() && nodes.len() < 50, "{}", nodes.len());
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.stop_reason.as_deref(), Some(reason.as_str()));
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).expect("mkdir");
        self
    }
}

/// Refuses every request, as a gateway does for an unknown model.
#[derive(Debug)]
struct RefusingAuthor;

impl Author for RefusingAuthor {
    async fn complete(&self, _: AuthorRequest) -> Result<AuthorReply, PortError> {
        Err(PortError::request(
            "gateway: InvalidArgument: unknown model nope/nope",
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_code_request_fails_the_run_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let lease = claimed_run(&store, tiny_task(dir.path()), settings(3, 2)).await;
    let end = engine(store.clone(), RefusingAuthor, ReadingExecutor, None)
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    let RunEnd::Failed { reason } = end else {
        panic!("{end:?}")
    };
    assert!(reason.contains("unknown model"), "{reason}");
    let run = store.get_run(lease.run_id).await.expect("run");
    assert_eq!(run.status, aide_store::RunStatus::Failed);
    assert_eq!(run.stop_reason.as_deref(), Some(reason.as_str()));
    let events = event_kinds(&store, lease.run_id).await;
    assert!(events.iter().all(|(k, _)| k != "infra_retry"));
    assert_eq!(events.last().map(|(k, _)| k.as_str()), Some("run_finished"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_in_place_go_straight_into_the_output_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let lease = claimed_run(&store, tiny_task(dir.path()), settings(3, 2)).await;
    let out = dir.path().join("out");
    let mut config = config(Some(out.clone()));
    config.outputs_in_place = true;
    let engine = aide_coordinator::engine::Engine::new(
        store.clone(),
        Arc::new(ScriptedAuthor::default()),
        Arc::new(ReadingExecutor),
        config,
    );
    let end = engine
        .drive(lease.clone(), CancellationToken::new())
        .await
        .expect("drive");
    assert!(matches!(end, RunEnd::Completed { .. }), "{end:?}");
    for file in [
        "report.md",
        "journal.json",
        "config.json",
        "best_solution.py",
    ] {
        assert!(
            out.join(file).is_file(),
            "{file} missing in {}",
            out.display()
        );
    }
    assert!(!out.join(lease.run_id.to_string()).exists());
}

/// An author that never answers: every node stays in flight.
#[derive(Debug)]
struct SilentAuthor;

impl Author for SilentAuthor {
    async fn complete(&self, _request: AuthorRequest) -> Result<AuthorReply, PortError> {
        std::future::pending().await
    }
}

/// A run of 5,000 steps with 5,000 workers is creating nodes as fast as the store takes
/// them when a cancel is requested (through the store, as the API does): the creation
/// stops at once and the run ends cancelled within 5 s, far short of 5,000 nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_a_run_filling_five_thousand_workers_within_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store(dir.path()).await;
    let mut s = settings(5_000, 5_000);
    s.workers = 5_000;
    let lease = claimed_run(&store, house_prices_task(), s).await;
    let engine = engine(store.clone(), SilentAuthor, ReadingExecutor, None);
    let drive = tokio::spawn(async move { engine.drive(lease, CancellationToken::new()).await });
    let run_id = {
        let runs = store
            .list_runs(aide_store::RunFilter::default())
            .await
            .expect("runs");
        runs[0].id
    };
    loop {
        if store.load_tree(run_id).await.expect("tree").len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.request_cancel(run_id).await.expect("cancel");
    let asked = std::time::Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), drive)
        .await
        .expect("the run stops within 5 s")
        .expect("the drive task")
        .expect("the drive");
    eprintln!("cancelled in {:?}", asked.elapsed());
    assert_eq!(end, RunEnd::Cancelled);
    let nodes = store.load_tree(run_id).await.expect("tree").len();
    assert!(nodes < 5_000, "node creation went on: {nodes} nodes");
    let run = store.get_run(run_id).await.expect("run");
    assert_eq!(run.status, aide_store::RunStatus::Cancelled);
}
