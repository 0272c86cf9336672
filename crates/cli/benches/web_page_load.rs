//! Benchmark (not a test): how fast the web UI shows a large run, in headless Chromium.
//! A 1,000-node run (drafts, then improvements and debugs under them, with the event log
//! the engine would have written: 3,000-odd events) is written into a SQLite store; the UI
//! is served over it as `aide run --ui` serves it; the browser opens the run's page.
//!
//! Printed, over several loads: the time from navigation to the whole tree drawn (1,000
//! nodes) and to the whole event log shown, the longest the page's main thread was blocked
//! meanwhile (a timer that should tick every 10 ms; a frozen page shows as a long gap),
//! and the API's answer time for the tree.
//!
//! `cargo bench -p aide-cli --bench web_page_load` (chromium and chromedriver installed)

use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_coordinator::api::EventNotifier;
use aide_coordinator::http::HttpApi;
use aide_core::access::Role;
use aide_core::event::{BestChanged, NodeCreated, NodeReviewed, RunFinished};
use aide_core::rng::RunRng;
use aide_core::{Action, NodeId, RunEvent, RunSettings, RunStatus};
use aide_store::prelude::*;
use aide_store::{AnyStore, ExecutionSummary, Generation, Lease, NewNode, Review};
use aide_testkit::browser::Browser;
use aide_testkit::fixtures;
use tokio_util::sync::CancellationToken;

const NODES: u32 = 1000;
const LOADS: usize = 5;

/// Writes a finished run of `NODES` nodes and its events; its id.
async fn large_run(store: &AnyStore) -> aide_core::RunId {
    let settings = RunSettings {
        steps: NODES,
        ..RunSettings::default()
    };
    let lease = fixtures::claimed_diabetes_run(store, "a thousand nodes", settings, "bench").await;
    let mut nodes: Vec<NewNode> = Vec::new();
    for step in 0..NODES {
        let parent = match step {
            0..20 => None,
            _ => Some(nodes[((step * 7919) % step) as usize].id),
        };
        nodes.push(NewNode {
            id: NodeId::new(),
            parent,
            partner: None,
            action: if parent.is_none() {
                Action::Draft
            } else if step % 3 == 0 {
                Action::Debug
            } else {
                Action::Improve
            },
            step,
            debug_depth: 0,
        });
    }
    store.insert_nodes(&lease, &nodes).await.expect("nodes");
    let mut best = f64::MAX;
    for node in &nodes {
        let metric = (node.step % 5 != 0).then(|| 60.0 - f64::from(node.step % 97) / 10.0);
        review(store, &lease, node, metric).await;
        if let Some(m) = metric
            && m < best
        {
            best = m;
            append(
                store,
                &lease,
                RunEvent::BestChanged(BestChanged {
                    node_id: node.id,
                    step: node.step,
                    metric: m,
                }),
            )
            .await;
        }
    }
    store
        .finish_run(&lease, RunStatus::Completed, "steps budget reached")
        .await
        .expect("finish");
    append(
        store,
        &lease,
        RunEvent::RunFinished(RunFinished {
            status: RunStatus::Completed,
            reason: "steps budget reached".into(),
        }),
    )
    .await;
    lease.run_id
}

async fn append(store: &AnyStore, lease: &Lease, event: RunEvent) {
    store
        .append_event(lease.run_id, &event)
        .await
        .expect("event");
}

/// Carries a node through generation, execution and review, with its events.
async fn review(store: &AnyStore, lease: &Lease, node: &NewNode, metric: Option<f64>) {
    append(
        store,
        lease,
        RunEvent::NodeCreated(NodeCreated {
            node_id: node.id,
            parent: node.parent,
            partner: None,
            action: node.action,
            step: node.step,
            debug_depth: 0,
            rng: RunRng::from_seed(u64::from(node.step)),
            pin: None,
        }),
    )
    .await;
    let code = format!(
        "import pandas as pd\n# step {}\nprint('validation rmse: 1.0')\n",
        node.step
    );
    store
        .mark_generated(
            lease,
            node.id,
            Generation {
                plan: "a plan".into(),
                code: Some(code),
                raw_reply: None,
            },
        )
        .await
        .expect("generated");
    store
        .mark_executed(
            lease,
            node.id,
            ExecutionSummary {
                term_out: "validation rmse: 1.0\n".into(),
                exit_code: Some(i32::from(metric.is_none())),
                exec_time_secs: 1.0,
                timed_out: false,
                exc_type: metric.is_none().then(|| "ValueError".into()),
                exc_info: None,
                wrote_submission: metric.is_some(),
            },
        )
        .await
        .expect("executed");
    store
        .mark_reviewed(
            lease,
            node.id,
            Review {
                is_buggy: metric.is_none(),
                bug_reasons: vec![],
                metric,
                summary: "a summary".into(),
            },
        )
        .await
        .expect("reviewed");
    append(
        store,
        lease,
        RunEvent::NodeReviewed(NodeReviewed {
            node_id: node.id,
            step: node.step,
            action: node.action,
            buggy: metric.is_none(),
            metric,
            bug_reasons: vec![],
        }),
    )
    .await;
}

/// Counts of drawn nodes and shown events, the page's clock, and the longest gap its
/// 10 ms timer saw.
const PROBE: &str = "return [document.querySelectorAll('svg#tree g.node').length, \
    document.querySelectorAll('ol#events li.event').length, performance.now(), \
    window.__maxGap || 0];";

/// Installs the 10 ms timer that records the longest gap between its ticks.
const GAP_MONITOR: &str = "window.__maxGap = 0; let last = performance.now(); \
    setInterval(() => { const now = performance.now(); \
    window.__maxGap = Math.max(window.__maxGap, now - last - 10); last = now; }, 10); return 0;";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = aide_store::DatabaseUrl::sqlite_file(&dir.path().join("aide.db"));
    let store = Arc::new(aide_store::connect(&url).await.expect("store"));
    let started = Instant::now();
    let run = large_run(&store).await;
    let events = store.get_run(run).await.expect("run").last_event_seq;
    println!(
        "wrote a run of {NODES} nodes and {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let token = fixtures::mint(&*store, "default", Role::Viewer).await;
    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api = HttpApi::local(store.clone(), EventNotifier::new(), stop.clone());
    let plaintext = aide_service::tls::TlsConfig::plaintext();
    let server = aide_coordinator::http::start(api, listener, &plaintext).expect("serve");
    let base = format!("http://{}", server.address);

    let http = reqwest::Client::new();
    let mut tree_ms = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        let body = http
            .get(format!("{base}/api/v1/runs/{run}/tree"))
            .bearer_auth(token.expose())
            .send()
            .await
            .expect("tree")
            .bytes()
            .await
            .expect("body");
        tree_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        assert!(body.len() > 100_000, "the whole tree");
    }
    println!(
        "GET /api/v1/runs/<id>/tree ({NODES} nodes): median {:.1} ms",
        median(&mut tree_ms)
    );

    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-bench");
    let Some(browser) = Browser::start(&shots).await else {
        return;
    };
    browser
        .driver
        .goto(format!("{base}/#token={}&run={run}", token.expose()))
        .await
        .expect("log in");
    browser
        .wait_for("the run page", Duration::from_secs(60), || async {
            (browser.count("svg#tree g.node").await == NODES as usize).then_some(())
        })
        .await;
    let (mut tree_at, mut log_at, mut gaps) = (Vec::new(), Vec::new(), Vec::new());
    for load in 0..LOADS {
        // A whole page load each time (a deep link), with the session cookie of the login.
        browser
            .driver
            .goto(format!("{base}/ui/runs/{run}?load={load}"))
            .await
            .expect("the run");
        browser
            .driver
            .execute(GAP_MONITOR, vec![])
            .await
            .expect("monitor");
        let (mut tree, mut log) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        let gap = loop {
            let probe = browser.driver.execute(PROBE, vec![]).await.expect("probe");
            let values: Vec<f64> = serde_json::from_value(probe.json().clone()).expect("numbers");
            if tree.is_none() && values[0] as u32 == NODES {
                tree = Some(values[2]);
            }
            if log.is_none() && values[1] as u64 >= events {
                log = Some(values[2]);
            }
            if tree.is_some() && log.is_some() {
                break values[3];
            }
            assert!(
                Instant::now() < deadline,
                "the page did not finish: {values:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        tree_at.push(tree.expect("tree"));
        log_at.push(log.expect("log"));
        gaps.push(gap);
    }
    browser.screenshot("thousand-nodes").await;
    println!(
        "run page of {NODES} nodes, {LOADS} loads (ms from navigation start; the probe polls every 20 ms):"
    );
    println!(
        "  tree drawn:      median {:.0}, max {:.0}",
        median(&mut tree_at.clone()),
        tree_at.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "  event log shown: median {:.0}, max {:.0}",
        median(&mut log_at.clone()),
        log_at.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "  longest main-thread stall after load: median {:.0}, max {:.0}",
        median(&mut gaps.clone()),
        gaps.iter().copied().fold(0.0, f64::max)
    );
    browser.quit().await;
    stop.cancel();
}
