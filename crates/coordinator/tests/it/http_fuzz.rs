//! The OpenAPI document fuzzed against a running API by schemathesis (PyPI, installed by
//! `deploy/dev/web-tools.sh`): its coverage, fuzzing and stateful phases over every
//! operation but the endless event stream, with a run, its nodes and a sweep in the store
//! so the identifiers lead somewhere. No answer may be a 5xx, and every answer must conform
//! to the document.

use std::path::PathBuf;
use std::process::Command;

use aide_store::prelude::*;

use crate::http_support::{Web, run_web};

/// The schemathesis CLI: `AIDE_SCHEMATHESIS`, or where web-tools.sh installs it.
fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("AIDE_SCHEMATHESIS").map_or_else(
        || PathBuf::from("/var/cache/aide/schemathesis/bin/st"),
        PathBuf::from,
    );
    if path.is_file() {
        Some(path)
    } else {
        aide_testkit::unavailable(
            "schemathesis",
            format!("{} is missing (deploy/dev/web-tools.sh)", path.display()),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_holds_under_schemathesis() {
    let Some(st) = schemathesis() else { return };
    run_web(Web::sqlite().await, move |web| async move {
        let h = &web.harness;
        let lease = h.running_run("fuzzed").await;
        let draft = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
        h.reviewed_node(&lease, 1, Some(draft), None).await;
        let sweep = h
            .store
            .create_sweep(crate::http_support::house_prices_sweep("fuzzed", vec![0]))
            .await
            .expect("sweep");
        let config = h.dir.path().join("schemathesis.toml");
        std::fs::write(
            &config,
            format!(
                "[parameters]\n\"path.run_id\" = \"{}\"\n\"path.node_id\" = \"{draft}\"\n\
                 \"path.sweep_id\" = \"{}\"\n",
                lease.run_id, sweep.id
            ),
        )
        .expect("config");
        let url = web.url.clone();
        let token = web.member().expose().to_owned();
        let workdir = h.dir.path().to_path_buf();
        let output = tokio::task::spawn_blocking(move || {
            Command::new(st)
                .current_dir(workdir)
                .env("NO_COLOR", "1")
                .arg("--config-file")
                .arg(config)
                .args(["run", &format!("{url}/api/v1/openapi.json"), "--url", &url])
                .args(["-H", &format!("Authorization: Bearer {token}")])
                .args(["--checks", "not_a_server_error,response_schema_conformance"])
                .args(["--exclude-path-regex", "/events/stream$"])
                .args([
                    "--max-examples",
                    "25",
                    "--seed",
                    "7",
                    "--wait-for-schema",
                    "10",
                ])
                .output()
                .expect("run schemathesis")
        })
        .await
        .expect("schemathesis finished");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis found failures:\n{report}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(report.contains("passed"), "{report}");
        eprintln!("{report}");
        // Steering and forking name a node in the request's body, which schemathesis
        // cannot be given: random node ids are NOT_FOUND there by design (the HTTP tests
        // steer real nodes). Every other operation must reach the seeded data.
        let body_ids = ["/api/v1/runs/{run_id}/steer", "/api/v1/runs/{run_id}/fork"];
        let starved = starved_operations(&report);
        assert!(
            starved
                .iter()
                .all(|op| body_ids.iter().any(|b| op.ends_with(b))),
            "every operation reached data but {starved:?}:\n{report}"
        );
    })
    .await;
}

/// The operations schemathesis's "Missing test data" warning lists (`  - POST /path`).
fn starved_operations(report: &str) -> Vec<String> {
    let Some(start) = report.find("Missing test data") else {
        return Vec::new();
    };
    report[start..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- ").to_owned())
        .collect()
}
