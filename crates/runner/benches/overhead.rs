//! Per-execution overhead of each sandbox backend, measured through the real gRPC service:
//! round-trip time of a trivial script minus the script's own run time (p50, p99), and
//! executions per second with every slot busy. Prints numbers; asserts nothing.
//!
//! The `docker+bundle` row calls the Docker backend directly (the service takes no bundle
//! yet) with a bundle input (a small directory, its volume filled by the warm-up) and a
//! 100 KB submission copied out: what an execution of a bundle task costs beyond its script.
//!
//! Each backend is measured cold (a fresh interpreter or container per execution) and warm
//! (a fork of the slot's warm interpreter or container, the default). The `ml` rows run a
//! script that imports pandas and scikit-learn and cross-validates a small forest: its exec
//! time (the sandbox's wall time) and the round trip, warm against cold. The process rows
//! need an interpreter with those libraries that the sandbox uids can run
//! (`AIDE_RUNNER_PYTHON`, default /usr/bin/python3).
//!
//! `cargo bench -p aide-runner --bench overhead` (env BENCH_N scales the iteration counts).

use std::time::{Duration, Instant};

use aide_proto::v1::{
    ExecuteRequest, Finished, WorkContext, execute_event::Event, runner_client::RunnerClient,
};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// Prints the time the script body itself took, so it can be subtracted.
const SCRIPT: &str =
    "import time\nt = time.perf_counter()\nx = sum(range(1000))\nprint(time.perf_counter() - t)\n";
const SLOTS: usize = 2;

struct Served {
    client: RunnerClient<Channel>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<aide_runner::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn serve(args: &[&str]) -> aide_runner::Result<Served> {
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )?;
    let root = dir.path().join("work").to_string_lossy().into_owned();
    let slots = SLOTS.to_string();
    let mut argv = vec![
        "aide-runner",
        "--plaintext",
        "--work-root",
        &root,
        "--slots",
        &slots,
    ];
    argv.extend_from_slice(args);
    let config = aide_runner::Config::from_argv(argv)
        .map_err(|e| aide_runner::Error::Config(e.to_string()))?;
    // Fail early (e.g. image missing) instead of inside the spawned task.
    aide_runner::build_sandbox(&config, "bench", aide_telemetry::Metrics::new()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(aide_runner::serve(config, listener, shutdown.clone()));
    let client = loop {
        if let Ok(c) = RunnerClient::connect(url.clone()).await {
            break c;
        }
        if task.is_finished() {
            return match task.await {
                Ok(Err(e)) => Err(e),
                _ => Err(aide_runner::Error::Config("the runner stopped".into())),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok(Served {
        client,
        shutdown,
        task,
        _dir: dir,
    })
}

/// Imports pandas and scikit-learn and fits a little: what most solutions start with.
const ML_SCRIPT: &str = "import time\nt = time.perf_counter()\nimport numpy as np, pandas as pd\n\
from sklearn.ensemble import RandomForestClassifier\n\
from sklearn.model_selection import cross_val_score\n\
X = pd.DataFrame(np.random.rand(300, 5))\ny = (X[0] > 0.5).astype(int)\n\
s = cross_val_score(RandomForestClassifier(n_estimators=10), X, y, cv=3).mean()\n\
print(time.perf_counter() - t)\n";

fn request_for(i: usize, code: &str) -> ExecuteRequest {
    ExecuteRequest {
        work: Some(WorkContext {
            run_id: format!("bench{}", std::process::id()),
            node_id: format!("n{i}"),
            attempt: 1,
            deadline: None,
            grading: None,
        }),
        code: code.into(),
        ..Default::default()
    }
}

async fn execute(client: &mut RunnerClient<Channel>, i: usize) -> Finished {
    execute_code(client, i, SCRIPT).await
}

async fn execute_code(client: &mut RunnerClient<Channel>, i: usize, code: &str) -> Finished {
    let mut stream = client
        .execute(request_for(i, code))
        .await
        .expect("execute")
        .into_inner();
    let mut finished = None;
    while let Some(ev) = stream.next().await {
        if let Some(Event::Finished(f)) = ev.expect("event").event {
            finished = Some(f);
        }
    }
    finished.expect("finished")
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn bench(name: &str, served: Served, warm: bool, sequential: usize, parallel: usize) {
    let mut client = served.client.clone();
    execute(&mut client, usize::MAX).await; // warm-up
    if warm {
        until_forked(&mut client).await;
    }
    let mut overhead = Vec::with_capacity(sequential);
    let mut runner_overhead = Vec::with_capacity(sequential);
    for i in 0..sequential {
        let t = Instant::now();
        let f = execute(&mut client, i).await;
        let total = t.elapsed();
        assert_eq!(f.exit_code, Some(0), "{} {}", f.output, f.sandbox_error);
        let body: f64 = f.output.trim().parse().unwrap_or(0.0);
        overhead.push(total.saturating_sub(Duration::from_secs_f64(body)));
        let wall = f
            .wall_time
            .and_then(|w| Duration::try_from(w).ok())
            .unwrap_or_default();
        runner_overhead.push(total.saturating_sub(wall));
    }
    overhead.sort();
    runner_overhead.sort();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..SLOTS {
        let mut client = served.client.clone();
        tasks.push(tokio::spawn(async move {
            for i in (lane..parallel).step_by(SLOTS) {
                let f = execute(&mut client, 1_000_000 + i).await;
                assert_eq!(f.exit_code, Some(0));
            }
        }));
    }
    for t in tasks {
        t.await.expect("lane");
    }
    let rate = parallel as f64 / t.elapsed().as_secs_f64();
    println!(
        "{name:13} overhead (total - script body): p50 {:>7.1} ms  p99 {:>7.1} ms   \
         outside the sandbox (total - sandbox wall): p50 {:>6.1} ms  p99 {:>6.1} ms   \
         {rate:>6.1} exec/s on {SLOTS} busy slots  (n={sequential}, {parallel})",
        pct(&overhead, 0.5).as_secs_f64() * 1e3,
        pct(&overhead, 0.99).as_secs_f64() * 1e3,
        pct(&runner_overhead, 0.5).as_secs_f64() * 1e3,
        pct(&runner_overhead, 0.99).as_secs_f64() * 1e3,
    );
    bench_ml(name, &served, 10).await;
    served.shutdown.cancel();
    let _ = served.task.await;
}

/// Waits until scripts fork from a warm interpreter: a process runner starts them cold (as
/// the bench's own children) while its slot's interpreter is still importing.
async fn until_forked(client: &mut RunnerClient<Channel>) {
    const PARENT: &str = "import os\nprint(os.getppid())\n";
    for i in 0..100 {
        let f = execute_code(client, 3_000_000 + i, PARENT).await;
        if f.output.trim() != std::process::id().to_string() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pandas + scikit-learn script `n` times in a row: its exec time and the round trip.
async fn bench_ml(name: &str, served: &Served, n: usize) {
    let mut client = served.client.clone();
    let first = execute_code(&mut client, 2_000_000, ML_SCRIPT).await;
    if first.exit_code != Some(0) {
        let why = first.output.lines().last().unwrap_or_default().to_string();
        println!("{name:13} ml skipped: {why}");
        return;
    }
    let (mut exec, mut total) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = Instant::now();
        let f = execute_code(&mut client, 2_000_001 + i, ML_SCRIPT).await;
        total.push(t.elapsed());
        assert_eq!(f.exit_code, Some(0), "{}", f.output);
        exec.push(
            f.wall_time
                .and_then(|w| Duration::try_from(w).ok())
                .unwrap_or_default(),
        );
    }
    exec.sort();
    total.sort();
    println!(
        "{name:13} ml script (pandas + scikit-learn): exec p50 {:>7.1} ms  round trip p50 {:>7.1} ms  (n={n})",
        pct(&exec, 0.5).as_secs_f64() * 1e3,
        pct(&total, 0.5).as_secs_f64() * 1e3,
    );
}

/// Sequential executions of the Docker backend, called directly, with a bundle input.
async fn bench_bundle(n: usize) -> aide_runner::Result<()> {
    use aide_runner::{
        Sandbox,
        sandbox::{ExecIo, ExecKey, ExecSpec, ResolvedLimits, SandboxInput},
    };
    let config = aide_runner::Config::from_argv([
        "aide-runner",
        "--backend",
        "docker",
        "--runner-id",
        "bench-bundle",
    ])?;
    let sandbox = aide_runner::DockerSandbox::connect(
        &config,
        "bench-bundle",
        aide_telemetry::Metrics::new(),
    )
    .await?;
    let data = tempfile::tempdir()?;
    let dir = data.path().join("bundle");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("train.csv"), "x,y\n1,2\n3,4\n".repeat(1000))?;
    let limits = aide_core::bundle::Limits::default();
    let digest = aide_core::bundle::Manifest::of_dir(&dir, &limits)
        .map_err(|e| aide_runner::Error::Config(e.to_string()))?
        .digest();
    let code = format!("{SCRIPT}open('working/submission.csv', 'w').write('x' * 100_000)\n");
    let mut overhead = Vec::with_capacity(n);
    for i in 0..=n {
        let ws = aide_runner::workspace::Workspace::create(
            data.path(),
            "b",
            &code,
            None,
            sandbox.sandbox_uid(0),
            None,
        )?;
        let spec = ExecSpec {
            key: ExecKey {
                run_id: format!("benchb{}", std::process::id()),
                node_id: format!("n{i}"),
                attempt: 1,
            },
            attempt_dir: ws.path().to_path_buf(),
            input: Some(SandboxInput::Bundle {
                digest,
                dir: dir.clone(),
            }),
            limits: ResolvedLimits {
                timeout: Duration::from_secs(60),
                memory_bytes: 4 << 30,
                cpus: 1.0,
                pids: 256,
                max_output_bytes: 1 << 20,
                max_file_bytes: 2 << 20,
                max_write_bytes: 8 << 30,
                disk_bytes: 16 << 30,
            },
            allow_network: false,
            slot: 0,
            working_has_quota: false,
            warm: true,
            collect: aide_runner::collect::CollectSpec {
                submission: "submission.csv".into(),
                globs: Vec::new(),
                max_file: 2 << 20,
                max_total: 3 << 20,
            },
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let mut io = ExecIo::new("bench".into(), tx, 1 << 20);
        let t = Instant::now();
        let raw = sandbox
            .run(&spec, &mut io, &CancellationToken::new())
            .await?;
        let total = t.elapsed();
        let (output, _) = io.finish_output().await;
        drop(io);
        let _ = drain.await;
        assert_eq!(raw.exit_code, Some(0), "{output}");
        assert_eq!(raw.files.map(|f| f[0].size), Some(100_000));
        let body: f64 = output.trim().parse().unwrap_or(0.0);
        if i > 0 {
            // The first run fills the input volume.
            overhead.push(total.saturating_sub(Duration::from_secs_f64(body)));
        }
    }
    overhead.sort();
    println!(
        "docker+bundle warm overhead (total - script body, backend only, 100 KB submission \
         copied out): p50 {:>7.1} ms  p99 {:>7.1} ms  (n={n})",
        pct(&overhead, 0.5).as_secs_f64() * 1e3,
        pct(&overhead, 0.99).as_secs_f64() * 1e3,
    );
    sandbox.shutdown().await;
    sandbox.sweep().await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let scale: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let python = std::env::var("AIDE_RUNNER_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    for warm in ["false", "true"] {
        let name = format!("process {}", if warm == "true" { "warm" } else { "cold" });
        let args = [
            "--backend",
            "process",
            "--python",
            &python,
            "--uid-base",
            "25000",
        ];
        match serve(&[&args[..], &["--warm", warm]].concat()).await {
            Ok(s) => bench(&name, s, warm == "true", 200 * scale, 200 * scale).await,
            Err(e) => println!("{name:13} skipped: {e}"),
        }
    }
    for warm in ["false", "true"] {
        let name = format!("docker {}", if warm == "true" { "warm" } else { "cold" });
        let args = ["--backend", "docker", "--runner-id", "bench-overhead"];
        match serve(&[&args[..], &["--warm", warm]].concat()).await {
            Ok(s) => bench(&name, s, warm == "true", 40 * scale, 40 * scale).await,
            Err(e) => println!("{name:13} skipped: {e}"),
        }
    }
    if let Err(e) = bench_bundle(40 * scale).await {
        println!("docker+bundle skipped: {e}");
    }
}
