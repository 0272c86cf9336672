//! Benchmark (not a test): what checking a bearer token adds to each call of the coordinator's
//! API — `Access::caller` on a request's metadata, as every public RPC runs it: a token seen
//! within the last 2 s (the cache; every call of a busy client), and one the store is asked
//! about (SQLite here; Postgres too when `AIDE_TEST_POSTGRES_URL` is set). Without the check
//! a call pays none of this.
//!
//! `cargo bench -p aide-coordinator --bench token_check`

use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_coordinator::access::Access;
use aide_core::access::{Role, Token};
use aide_store::{AccessStore, AnyStore, NewToken};
use tonic::metadata::MetadataMap;

const CALLS: usize = 5_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what:<44} {:>9.1} {:>9.1}",
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );
}

/// A member token of the default project in `store`, as request metadata.
async fn bearer(store: &AnyStore) -> MetadataMap {
    let token = Token::generate().expect("token");
    store
        .create_token(&NewToken {
            project: "default".parse().expect("project"),
            role: Role::Member,
            hash: token.hash(),
            label: "bench".into(),
            expires_at: None,
        })
        .await
        .expect("store the token");
    let mut metadata = MetadataMap::new();
    let value = format!("Bearer {}", token.expose())
        .parse()
        .expect("header value");
    metadata.insert("authorization", value);
    metadata
}

async fn measure(name: &str, store: Arc<AnyStore>) {
    let metadata = bearer(&store).await;
    let access = Access::new(store.clone());
    access.caller(&metadata).await.expect("a known token");
    let mut cached = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        access.caller(&metadata).await.expect("cached");
        cached.push(started.elapsed());
    }
    report(&format!("token seen within 2 s ({name})"), cached);
    let mut looked_up = Vec::with_capacity(CALLS / 5);
    for _ in 0..CALLS / 5 {
        // A fresh resolver has nothing cached: the store is asked.
        let fresh = Access::new(store.clone());
        let started = Instant::now();
        fresh.caller(&metadata).await.expect("looked up");
        looked_up.push(started.elapsed());
    }
    report(&format!("token looked up in the store ({name})"), looked_up);
}

#[tokio::main]
async fn main() {
    println!("bearer token check per call, {CALLS} calls");
    println!("{:<44} {:>9} {:>9}", "", "p50 (µs)", "p99 (µs)");
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("tokens.db").display());
    let sqlite = aide_store::connect(&url).await.expect("sqlite store");
    measure("SQLite", Arc::new(sqlite)).await;
    if let Ok(admin) = std::env::var("AIDE_TEST_POSTGRES_URL") {
        let Some(db) = aide_testkit::TestDatabase::create("aide_bench_tokens").await else {
            println!("Postgres at {admin} is not reachable: skipped");
            return;
        };
        let postgres = aide_store::connect(db.url()).await.expect("postgres store");
        measure("Postgres", Arc::new(postgres)).await;
    }
}
