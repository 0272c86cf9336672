//! Benchmark (not a test): how long a run's event takes to reach the browsers watching it
//! over server-sent events, and what watching costs the store, with 1 and with 100
//! watchers of one run on one replica's HTTP API (Postgres, a fresh database).
//!
//! Events are appended as the engine appends them — stored, then the replica's notifier
//! poked — at 20 a second; the delay of each is from the moment its append returned to the
//! moment a watcher read its message. A second pass appends without the poke, as another
//! replica's engine would, so watchers learn of it by the feed's poll (every 200 ms).
//! The store's load is Postgres's count of the database's transactions over the pass.
//!
//! `AIDE_TEST_POSTGRES_URL=postgres://… cargo bench -p aide-coordinator --bench event_delay`

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aide_coordinator::api::EventNotifier;
use aide_coordinator::http::HttpApi;
use aide_core::access::{Role, Token};
use aide_core::event::BestChanged;
use aide_core::{RunEvent, RunId, RunSettings};
use aide_store::prelude::*;
use aide_store::{AnyStore, RunFilter};
use aide_testkit::fixtures;
use aide_testkit::sse::EventReader;
use tokio_util::sync::CancellationToken;

const EVENTS: u32 = 200;
const EVERY: Duration = Duration::from_millis(50);

/// When each event's append returned, by its step.
type Sent = Arc<Mutex<Vec<Option<Instant>>>>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn transactions(url: &str) -> i64 {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    sqlx::query_scalar(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(&mut connection)
    .await
    .expect("statistics")
}

/// One pass: `watchers` streams, `EVENTS` events (notified or not); the delays and the
/// store's transactions.
async fn pass(
    store: &Arc<AnyStore>,
    notifier: &EventNotifier,
    base: &str,
    token: &Token,
    url: &str,
    watchers: usize,
    notify: bool,
) -> (Vec<Duration>, i64) {
    let run = store.list_runs(RunFilter::default()).await.expect("runs")[0].clone();
    let run_id = run.id;
    let seen = store.get_run(run_id).await.expect("run").last_event_seq;
    let sent: Sent = Arc::new(Mutex::new(vec![None; EVENTS as usize + 1]));
    let http = reqwest::Client::new();
    let mut readers = Vec::new();
    for _ in 0..watchers {
        let response = http
            .get(format!(
                "{base}/api/v1/runs/{run_id}/events/stream?after={seen}"
            ))
            .bearer_auth(token.expose())
            .send()
            .await
            .expect("stream");
        readers.push(EventReader::new(response));
    }
    // Every stream is live before the clock starts.
    append(store, notifier, run_id, 0, true).await;
    for reader in &mut readers {
        reader
            .next(Duration::from_secs(30))
            .await
            .expect("the first event");
    }
    eprintln!("  {watchers} watcher(s) live; appending {EVENTS} events");
    let before = transactions(url).await;
    let mut tasks = Vec::new();
    for mut reader in readers {
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut delays = Vec::new();
            for _ in 0..EVENTS {
                let message = reader
                    .next(Duration::from_secs(30))
                    .await
                    .expect("an event");
                let at = Instant::now();
                let step = message.json()["payload"]["step"].as_u64().expect("step") as usize;
                if let Some(start) = sent.lock().expect("lock")[step] {
                    delays.push(at.saturating_duration_since(start));
                }
            }
            delays
        }));
    }
    for step in 1..=EVENTS {
        let done = append(store, notifier, run_id, step, notify).await;
        sent.lock().expect("lock")[step as usize] = Some(done);
        tokio::time::sleep(EVERY).await;
    }
    let mut delays = Vec::new();
    for task in tasks {
        delays.extend(task.await.expect("reader"));
    }
    let load = transactions(url).await - before;
    delays.sort();
    (delays, load)
}

async fn append(
    store: &AnyStore,
    notifier: &EventNotifier,
    run: RunId,
    step: u32,
    notify: bool,
) -> Instant {
    let event = RunEvent::BestChanged(BestChanged {
        node_id: aide_core::NodeId::new(),
        step,
        metric: f64::from(step),
    });
    store.append_event(run, &event).await.expect("append");
    let done = Instant::now();
    if notify {
        notifier.notify(run);
    }
    done
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let Some(database) = aide_testkit::TestDatabase::create("aide_event_delay").await else {
        return;
    };
    let url = database.url().to_owned();
    let store = Arc::new(aide_store::connect(&url).await.expect("store"));
    let token = fixtures::mint(&*store, "default", Role::Viewer).await;
    fixtures::claimed_diabetes_run(&*store, "watched", RunSettings::default(), "bench").await;
    let notifier = EventNotifier::new();
    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut api = HttpApi::local(store.clone(), notifier.clone(), stop.clone());
    api.settings.max_watch_streams = 1000;
    let plaintext = aide_service::tls::TlsConfig::plaintext();
    let server = aide_coordinator::http::start(api, listener, &plaintext).expect("serve");
    let base = format!("http://{}", server.address);

    println!(
        "{EVENTS} events at {} a second; delay from the append's return to the watcher's read",
        1000 / EVERY.as_millis()
    );
    println!(
        "{:<48} {:>8} {:>8} {:>8} {:>17}",
        "", "p50 ms", "p99 ms", "max ms", "store xact/event"
    );
    for (notify, how) in [
        (true, "notified (this replica's engine)"),
        (false, "polled (another replica)"),
    ] {
        for watchers in [1, 100] {
            let (delays, load) =
                pass(&store, &notifier, &base, &token, &url, watchers, notify).await;
            println!(
                "{:<48} {:>8.1} {:>8.1} {:>8.1} {:>17.2}",
                format!("{how}, {watchers} watcher(s)"),
                percentile(&delays, 0.5).as_secs_f64() * 1e3,
                percentile(&delays, 0.99).as_secs_f64() * 1e3,
                delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
                load as f64 / f64::from(EVENTS),
            );
        }
    }
    stop.cancel();
    store.close().await;
}
