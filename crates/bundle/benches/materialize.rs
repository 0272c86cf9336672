//! Materializing a synthetic bundle: cold (every blob fetched, from a directory source and
//! over gRPC on loopback), warm in the same process (stat only), and warm after a reopen
//! (every blob hashed once). Prints MB/s and ms; asserts nothing.
//!
//! `cargo bench -p aide-bundle --bench materialize`
//! (env BENCH_BUNDLE_MIB, default 256; BENCH_FILES, default 64).

#[path = "../tests/it/blob_server.rs"]
#[allow(dead_code)]
mod blob_server;

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;
use std::time::Instant;

use aide_bundle::{BlobSource, BundleCache, CacheConfig, DirBlobSource, GrpcBlobSource};
use aide_core::bundle::{BundleFile, Limits, Manifest, Sha256Digest};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn open_dir() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

/// `files` blobs of pseudo-random bytes (xorshift), `total` bytes in all.
fn synthetic(store: &DirBlobSource, total: u64, files: u64) -> Result<(Sha256Digest, Manifest)> {
    let per_file = (total / files) as usize;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut entries = Vec::new();
    for i in 0..files {
        let data: Vec<u8> = (0..per_file / 8)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect();
        entries.push(BundleFile {
            path: format!("data/part-{i:03}.bin"),
            size: data.len() as u64,
            sha256: store.insert(&data)?,
            executable: false,
        });
    }
    let manifest = Manifest::from_files(entries, &Limits::default())?;
    Ok((manifest.digest(), manifest))
}

async fn timed(label: &str, cache: &BundleCache, bundle: &(Sha256Digest, Manifest)) -> Result<()> {
    let started = Instant::now();
    let lease = cache.materialize(bundle.0, &bundle.1).await?;
    let secs = started.elapsed().as_secs_f64();
    let mb = bundle.1.total_bytes() as f64 / 1e6;
    println!("{label:<34} {:>9.1} ms {:>9.1} MB/s", secs * 1e3, mb / secs);
    drop(lease);
    Ok(())
}

async fn open(dir: &std::path::Path, source: Arc<dyn BlobSource>) -> Result<BundleCache> {
    let config = CacheConfig {
        dir: dir.to_owned(),
        max_bytes: u64::MAX,
    };
    Ok(BundleCache::open(config, source).await?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let mib = env_or("BENCH_BUNDLE_MIB", 256);
    let files = env_or("BENCH_FILES", 64).max(1);
    let store_dir = open_dir()?;
    let store = DirBlobSource::new(store_dir.path().join("blobs"));
    let bundle = synthetic(&store, mib << 20, files)?;
    println!(
        "bundle: {} files, {:.1} MB ({} MiB)",
        bundle.1.files.len(),
        bundle.1.total_bytes() as f64 / 1e6,
        mib
    );

    let cache_dir = open_dir()?;
    let cache = open(cache_dir.path(), Arc::new(store.clone())).await?;
    timed("cold, directory source", &cache, &bundle).await?;
    timed("warm, same process (stat only)", &cache, &bundle).await?;
    drop(cache);
    let cache = open(cache_dir.path(), Arc::new(store.clone())).await?;
    timed("warm after reopen (hash once)", &cache, &bundle).await?;
    timed("warm again (stat only)", &cache, &bundle).await?;
    drop(cache);

    let (addr, server) = blob_server::serve(store.clone()).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let grpc_dir = open_dir()?;
    let cache = open(grpc_dir.path(), Arc::new(GrpcBlobSource::new(channel))).await?;
    timed("cold, gRPC on loopback", &cache, &bundle).await?;
    timed("warm, same process (stat only)", &cache, &bundle).await?;
    server.abort();
    Ok(())
}
