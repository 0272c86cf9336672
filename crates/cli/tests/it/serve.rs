//! `aide serve` with the client commands, as real processes: a server over a fresh Postgres
//! database and Redis (process sandbox), then `aide submit`, `watch`, `ls`, `status`,
//! `export` and `cancel` against it, and the exit codes of a bad server or run id.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::serve_support::{Server, client};
use crate::support::{aide, stderr, stdout};
use aide_testkit::free_port;
use serde_json::Value;

/// `--metrics-listen` serves one endpoint for the three in-process services: the client's
/// two `ls`, the engine's gateway calls and the runner's executions are all counted, each
/// service's own metrics are there by name, and no label carries an id.
fn assert_counted_by_all_three_services(server: &Server) {
    let text = aide_testkit::block_on(aide_telemetry::scrape(server.metrics)).expect("scrape");
    let total = |prefix: &str| -> f64 {
        text.lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum()
    };
    let grpc_ok = |method: &str| {
        total(&format!(
            "grpc_server_requests_total{{method=\"{method}\",code=\"OK\"}} "
        ))
    };
    assert!(grpc_ok("/aide.v1.Coordinator/ListRuns") >= 2.0, "{text}");
    assert!(
        grpc_ok("/aide.v1.LlmGateway/Complete") >= 6.0,
        "3 codes + 3 reviews: {text}"
    );
    assert!(grpc_ok("/aide.v1.Runner/Execute") >= 3.0, "{text}");
    for (prefix, at_least) in [
        ("aide_coordinator_nodes_total{", 3.0),
        ("aide_coordinator_runs{status=\"completed\"}", 1.0),
        ("aide_coordinator_lease_claims_total", 1.0),
        ("aide_coordinator_runners ", 1.0),
        ("aide_coordinator_runner_slots{state=\"free\"}", 1.0),
        ("aide_gateway_requests_total{provider=\"baseline\"", 6.0),
        (
            "aide_gateway_request_duration_seconds_count{provider=\"baseline\"}",
            6.0,
        ),
        ("aide_runner_executions_total{", 3.0),
        ("aide_runner_execution_duration_seconds_count", 3.0),
        ("aide_runner_slots{state=\"free\"}", 1.0),
    ] {
        assert!(
            total(prefix) >= at_least,
            "{prefix} under {at_least}: {text}"
        );
    }
    for line in [
        "aide_coordinator_queue_depth 0",
        "aide_runner_slots{state=\"busy\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in {text}");
    }
    // Bounded labels: no run, node or token id anywhere.
    let has_id = text
        .split(['"', '{', '}', ',', ' ', '='])
        .any(|word| uuid::Uuid::parse_str(word).is_ok());
    assert!(!has_id, "an id in a label: {text}");
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[test]
fn a_team_server_runs_searches_submitted_by_clients() {
    let Some(server) = Server::start() else {
        return;
    };

    let submitted = server.client(&["submit", "examples/diabetes", "--steps", "3"]);
    assert_eq!(submitted.status.code(), Some(0));
    let id = stdout(&submitted);
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "only the id on stdout: {id:?}"
    );

    let watched = server.client(&["watch", &id]);
    assert_eq!(
        watched.status.code(),
        Some(0),
        "watch exits 0 once completed"
    );
    let text = stderr(&watched);
    assert!(
        text.contains("3/3") && text.contains("run completed"),
        "{text}"
    );

    let listed = json(&server.client(&["ls", "--json"]));
    let runs = listed.as_array().expect("an array");
    let run = runs
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("listed");
    assert_eq!(run["status"], "completed");
    assert_eq!(run["nodes"], 3);
    let table = server.client(&["ls"]);
    assert!(stdout(&table).contains(&id) && stdout(&table).contains("completed"));
    assert_counted_by_all_three_services(&server);

    let status = server.client(&["status", &id]);
    assert_eq!(status.status.code(), Some(0));
    assert!(
        stdout(&status).contains("steps budget reached"),
        "{}",
        stdout(&status)
    );
    let status = json(&server.client(&["status", &id, "--json"]));
    assert_eq!(
        (status["status"].as_str(), status["nodes"].as_u64()),
        (Some("completed"), Some(3))
    );

    let out = server.dir.path().join("export");
    let out_text = out.to_string_lossy().into_owned();
    let exported = server.client(&["export", &id, "--format", "all", "--out", &out_text]);
    assert_eq!(exported.status.code(), Some(0));
    let journal = std::fs::read(out.join("journal.json")).expect("journal.json");
    let journal: Value = serde_json::from_slice(&journal).expect("the journal parses");
    assert!(journal.is_object() || journal.is_array());
    for file in ["best_solution.py", "tree.html", "report.md"] {
        assert!(out.join(file).is_file(), "{file} exported");
    }
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("export dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("submission")),
        "{names:?}"
    );

    // A second run, cancelled once it is under way: its watcher exits 3.
    let second = server.client(&["submit", "examples/diabetes", "--steps", "50"]);
    assert_eq!(second.status.code(), Some(0));
    let second = stdout(&second);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = json(&server.client(&["status", &second, "--json"]));
        if s["nodes"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the second run never started");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(server.client(&["cancel", &second]).status.code(), Some(0));
    let watched = server.client(&["watch", &second, "--quiet"]);
    assert_eq!(
        watched.status.code(),
        Some(3),
        "a cancelled run's watch exits 3"
    );
    assert!(stderr(&watched).contains("run cancelled"));

    // Unknown or malformed run ids are bad input.
    let unknown = server.client(&["status", "01900000-0000-7000-8000-000000000000"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no run 01900000-0000-7000-8000-000000000000"));
    assert_eq!(
        server.client(&["status", "not-a-run"]).status.code(),
        Some(2)
    );
    assert_eq!(
        server.client(&["cancel", "not-a-run"]).status.code(),
        Some(2)
    );
}

/// A token never crosses a network in clear: plaintext is for a server on loopback.
#[test]
fn a_plaintext_server_elsewhere_is_refused_before_anything_is_sent() {
    let out = client("http://192.0.2.1:50051", &["ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("plaintext is for loopback only"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_unreachable_server_is_exit_5_naming_the_url() {
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [
        &["ls"][..],
        &["status", "01900000-0000-7000-8000-000000000000"],
        &["submit", "examples/diabetes"],
    ] {
        let out = client(&url, args);
        assert_eq!(out.status.code(), Some(5), "{args:?}");
        let text = stderr(&out);
        assert!(
            text.contains("cannot reach the aide server") && text.contains(&url),
            "{text}"
        );
    }
}

#[test]
fn serve_refuses_a_bad_database_url() {
    let out = aide()
        .args([
            "serve",
            "--database-url",
            "mysql://x",
            "--sandbox",
            "process",
        ])
        .output()
        .expect("spawn aide");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--database-url"));
}

#[test]
fn print_config_shows_flags_over_the_environment_with_passwords_redacted() {
    let out = aide()
        .env_clear()
        .env("AIDE_SLOTS", "5")
        .env("AIDE_MAX_RUNS", "3")
        .env("AIDE_REDIS_URL", "redis://:hunter2@cache:6379")
        .env("AIDE_DATA_DIR", "/srv/aide")
        .args([
            "serve",
            "--database-url",
            "postgres://aide:s3cret@db/aide",
            "--max-runs",
            "9",
            "--blob-store",
            "s3://team/aide",
            "--max-blob-bytes",
            "1000",
            "--print-config",
        ])
        .output()
        .expect("spawn aide");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("slots = 5"), "the environment: {text}");
    assert!(text.contains("data_dir = \"/srv/aide\""), "{text}");
    assert!(text.contains("blob_store = \"s3://team/aide\""), "{text}");
    assert!(text.contains("max_blob_bytes = 1000"), "{text}");
    assert!(
        text.contains("max_runs = 9"),
        "a flag over the environment: {text}"
    );
    assert!(
        text.contains("database_url = \"postgres://aide:[redacted]@db/aide\""),
        "{text}"
    );
    assert!(
        text.contains("redis_url = \"redis://:[redacted]@cache:6379\""),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
}

/// Waits until `run` has a best node; its id.
fn best_node(server: &Server, run: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let s = json(&server.client(&["status", run, "--json"]));
        if let Some(best) = s["best_node_id"].as_str() {
            return best.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the run never had a good node: {s}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn aide_steer_steers_a_served_run_and_says_why_it_refuses() {
    let Some(server) = Server::start() else {
        return;
    };
    let submitted = server.client(&["submit", "examples/diabetes", "--steps", "40"]);
    assert_eq!(submitted.status.code(), Some(0));
    let run = stdout(&submitted);
    let best = best_node(&server, &run);

    let steer = |args: &[&str]| {
        let mut all = vec!["steer", run.as_str()];
        all.extend_from_slice(args);
        server.client(&all)
    };
    let noted = steer(&["note", "Try a gradient-boosted model next."]);
    assert_eq!(noted.status.code(), Some(0), "{}", stderr(&noted));
    assert!(
        stderr(&noted).contains("note recorded"),
        "{}",
        stderr(&noted)
    );
    let pinned = steer(&["pin", &best]);
    assert_eq!(pinned.status.code(), Some(0), "{}", stderr(&pinned));

    for (args, why) in [
        (vec!["budget"], "give --steps, --max-time or both"),
        (vec!["pin", "not-a-uuid"], "is not a UUID"),
        (
            vec!["pin", "01900000-0000-7000-8000-000000000000"],
            "is not a node of run",
        ),
        (vec!["note", " "], "must not be empty"),
    ] {
        let refused = steer(&args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&refused).contains(why),
            "{args:?}: {}",
            stderr(&refused)
        );
    }

    // A smaller step budget ends the run early, with that budget as its reason.
    let budget = steer(&["budget", "--steps", "4"]);
    assert_eq!(budget.status.code(), Some(0), "{}", stderr(&budget));
    let watched = server.client(&["watch", &run, "--quiet"]);
    assert_eq!(watched.status.code(), Some(0), "{}", stderr(&watched));
    let status = json(&server.client(&["status", &run, "--json"]));
    assert_eq!(status["steps"], 4);
    assert!(
        status["stop_reason"]
            .as_str()
            .is_some_and(|r| r.contains("steps budget reached (4 nodes)")),
        "{status}"
    );
    let late = steer(&["note", "too late"]);
    assert_eq!(late.status.code(), Some(2));
    assert!(stderr(&late).contains("finished run cannot be steered"));

    // A fork of the finished run's best node: its id on stdout, a new run from that code.
    let forked = steer(&["fork", &best, "--name", "from the best"]);
    assert_eq!(forked.status.code(), Some(0), "{}", stderr(&forked));
    let fork = stdout(&forked);
    let fork_status = json(&server.client(&["status", &fork, "--json"]));
    assert_eq!(fork_status["fork_of"], best.as_str());
    assert_eq!(fork_status["name"], "from the best");
    assert_eq!(server.client(&["cancel", &fork]).status.code(), Some(0));
}
