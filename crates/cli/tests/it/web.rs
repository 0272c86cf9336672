//! The web UI in a real browser (headless Chromium through chromedriver) against a real
//! `aide serve --http-listen` (Postgres, process sandbox, baseline author):
//!
//! - a member logs in, sees a submitted run appear in the list and its tree grow while it
//!   runs, opens a node and reads its code and output, opens a failed node's exception,
//!   opens a sweep that `aide bench run` made, and cancels a run;
//! - a viewer is refused the cancel, with the reason on the page and the run untouched;
//! - a member steers a running search from a node page (note, pin, step budget, prune),
//!   each directive recorded with the member's token, forks a new run from the node, and
//!   finds only Fork left once the run has finished;
//! - a node whose plan, code, output and exception are hostile markup renders as text:
//!   nothing runs, no element is injected, no `javascript:` link appears.
//!
//! Screenshots of each page are saved under the target directory
//! (`<target>/tmp/web-screenshots/`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aide_testkit::browser::Browser;
use thirtyfour::prelude::*;

use crate::serve_support::Server;
use crate::support::stdout;
use crate::web_support::seed::{HOSTILE, Seeded, seed};
use crate::web_support::{PAGE, click, log_in, log_out, make_token, open, text_of, wait_status};

/// How long a run of the example may take here.
const RUN: Duration = Duration::from_secs(240);

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots")
}

/// A server seeded with [`seed`]'s runs; `None` when a service is missing outside CI.
fn seeded_server() -> Option<(Server, Seeded)> {
    let seeded = std::sync::Mutex::new(None);
    let server = Server::start_web(&|url| {
        *seeded.lock().expect("lock") = Some(aide_testkit::block_on(seed(url)));
    })?;
    let seeded = seeded.lock().expect("lock").expect("seeded");
    Some((server, seeded))
}

/// What a browser test drives: a seeded server with the web UI, a browser, and a member's
/// token.
struct Session {
    server: Server,
    seeded: Seeded,
    web: String,
    browser: Browser,
    member: String,
}

/// A [`Session`]; `None` when a service or the browser is missing outside CI.
fn session(runtime: &tokio::runtime::Runtime) -> Option<Session> {
    let (server, seeded) = seeded_server()?;
    let web = server.web.clone().expect("the web UI");
    let (browser, member) = runtime.block_on(async {
        let browser = Browser::start(&screenshots()).await?;
        Some((browser, make_token(&web, &server.token, "member").await))
    })?;
    Some(Session {
        server,
        seeded,
        web,
        browser,
        member,
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Submits the diabetes example with `steps` as `token`; the run's id.
fn submit(server: &Server, token: &str, steps: &str) -> String {
    let out = server.client_as(token, &["submit", "examples/diabetes", "--steps", steps]);
    assert_eq!(out.status.code(), Some(0));
    stdout(&out)
        .lines()
        .next()
        .expect("the run id")
        .trim()
        .to_owned()
}

#[test]
fn a_team_follows_runs_nodes_and_sweeps_in_the_browser() {
    let runtime = runtime();
    let Some(Session {
        server,
        seeded,
        web,
        browser,
        member,
    }) = session(&runtime)
    else {
        return;
    };
    runtime.block_on(async {
        let viewer = make_token(&web, &server.token, "viewer").await;

        // Logging in, then a run submitted meanwhile appears in the live list.
        open(&browser, &web, "").await;
        browser
            .wait_for("the login page for a stranger", PAGE, || async {
                browser.driver.find(By::Css("input#token")).await.ok()
            })
            .await;
        browser.screenshot("login").await;
        log_in(&browser, &web, &member).await;
        let run = submit(&server, &member, "8");
        let row = format!("tr.run-row[data-run-id='{run}']");
        browser
            .wait_for("the submitted run in the list", PAGE, || async {
                (browser.count(&row).await == 1).then_some(())
            })
            .await;
        browser.screenshot("runs").await;

        // Its page: the tree grows while the run runs, then the run completes.
        click(&browser, &format!("{row} td.run-name a"), PAGE).await;
        let mut sizes = Vec::new();
        let deadline = Instant::now() + RUN;
        loop {
            let nodes = browser.count("svg#tree g.node").await;
            let status = browser.text("#run-status").await.unwrap_or_default();
            if sizes.last() != Some(&nodes) && status == "running" {
                sizes.push(nodes);
            }
            if status == "completed" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the run did not complete: {status}, {sizes:?}"
            );
            if sizes.len() == 3 {
                browser.screenshot("run-growing").await;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        assert!(
            sizes.len() >= 3,
            "the tree was seen growing while running: {sizes:?}"
        );
        assert!(sizes.windows(2).all(|w| w[0] < w[1]), "{sizes:?}");
        browser
            .wait_for("all 8 nodes drawn", PAGE, || async {
                (browser.count("svg#tree g.node").await == 8).then_some(())
            })
            .await;
        assert!(
            browser.count("svg#metric-chart circle").await >= 1,
            "the metric chart has points"
        );
        assert!(
            browser.count("svg#tree g.node.best").await == 1,
            "the best node is marked"
        );
        assert!(
            browser.count("ol#events li.event").await >= 10,
            "the event log is shown"
        );
        browser.screenshot("run").await;

        // A node: its code and its output.
        click(&browser, "svg#tree g.node.best", PAGE).await;
        let code = text_of(&browser, "#node-code").await;
        assert!(
            code.contains("import") && code.contains("./input"),
            "{code}"
        );
        let output = text_of(&browser, "#node-output").await;
        assert!(!output.trim().is_empty());
        assert!(
            browser.count("#node-llm-calls tr").await >= 2,
            "the LLM calls are listed"
        );
        browser.screenshot("node").await;

        // A failed node: its exception and the line it names.
        open(&browser, &web, &format!("#/nodes/{}", seeded.failed)).await;
        let exception = text_of(&browser, "#node-exception").await;
        assert!(
            exception.contains("KeyError") && exception.contains("'price'"),
            "{exception}"
        );
        assert!(exception.contains("line 3"), "{exception}");
        assert_eq!(
            browser.count("#node-code .exc-line").await,
            1,
            "the failing line is marked"
        );
        browser.screenshot("node-exception").await;

        // A sweep, as `aide bench run` made it.
        let spec = aide_testkit::mlebench::sweep_spec(server.dir.path(), "1", "{ steps = 3 }", 4);
        let out = server.client_as(&member, &["bench", "run", spec.to_str().expect("path")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        open(&browser, &web, "#/sweeps").await;
        click(&browser, "tr.sweep-row a", PAGE).await;
        browser
            .wait_for("every cell graded", RUN, || async {
                let graded = browser.count("td.cell[data-status='graded']").await;
                (graded == 6).then_some(())
            })
            .await;
        let aggregates = text_of(&browser, "table#sweep-aggregates").await;
        assert!(aggregates.contains("±"), "mean ± SEM: {aggregates}");
        browser.screenshot("sweep").await;

        // The runners: this server's own, with its version and slots.
        open(&browser, &web, "#/runners").await;
        let runner = text_of(&browser, "tr.runner-row").await;
        assert!(runner.contains(env!("CARGO_PKG_VERSION")), "{runner}");
        assert!(
            browser.count("tr.runner-row .health-ok").await == 1,
            "{runner}"
        );
        browser.screenshot("runners").await;

        // A viewer may look but not cancel.
        let long = submit(&server, &member, "60");
        log_out(&browser).await;
        log_in(&browser, &web, &viewer).await;
        open(&browser, &web, &format!("#/runs/{long}")).await;
        wait_status(&browser, "running", RUN).await;
        click(&browser, "#cancel-run", PAGE).await;
        let refusal = text_of(&browser, "#error").await;
        assert!(refusal.contains("viewer"), "{refusal}");
        browser.screenshot("viewer-refused").await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            browser.text("#run-status").await.as_deref(),
            Some("running")
        );

        // A member cancels it.
        log_out(&browser).await;
        log_in(&browser, &web, &member).await;
        open(&browser, &web, &format!("#/runs/{long}")).await;
        click(&browser, "#cancel-run", PAGE).await;
        wait_status(&browser, "cancelled", RUN).await;
        browser.screenshot("cancelled").await;
        browser.quit().await;
    });
}

/// `GET {web}/api/v1{path}` as `token`.
async fn get_json(web: &str, token: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{web}/api/v1{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON")
}

/// Waits until run `run` has a good node; its id.
async fn a_good_node(web: &str, token: &str, run: &str) -> String {
    let deadline = Instant::now() + RUN;
    loop {
        let tree = get_json(web, token, &format!("/runs/{run}/tree")).await;
        let nodes = tree["nodes"].as_array().cloned().unwrap_or_default();
        if let Some(good) = nodes.iter().find(|n| n["outcome"] == "good") {
            return good["id"].as_str().expect("id").to_owned();
        }
        assert!(Instant::now() < deadline, "no good node: {tree}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Clicks `button` and waits for the steering card to say `said`.
async fn steer_and_see(browser: &Browser, button: &str, said: &str) {
    click(browser, button, PAGE).await;
    browser
        .wait_for(&format!("{said:?} after {button}"), PAGE, || async {
            let done = browser.text("#steer-done").await.unwrap_or_default();
            done.contains(said).then_some(())
        })
        .await;
}

#[test]
fn a_member_steers_a_running_search_and_forks_it_from_a_node_page() {
    let runtime = runtime();
    let Some(Session {
        server,
        web,
        browser,
        member,
        ..
    }) = session(&runtime)
    else {
        return;
    };
    runtime.block_on(async {
        log_in(&browser, &web, &member).await;
        let run = submit(&server, &member, "60");
        let good = a_good_node(&web, &member, &run).await;
        open(&browser, &web, &format!("#/nodes/{good}")).await;
        let note = "Try target encoding on the categorical columns.";
        let field = browser
            .wait_for("the note field", PAGE, || async {
                browser.driver.find(By::Css("#steer-note-text")).await.ok()
            })
            .await;
        field.send_keys(note).await.expect("type the note");
        steer_and_see(&browser, "#steer-note", "Note added").await;
        steer_and_see(&browser, "#steer-pin", "Pinned").await;
        let steps = browser
            .driver
            .find(By::Css("#steer-steps"))
            .await
            .expect("steps");
        steps.send_keys("40").await.expect("type the steps");
        steer_and_see(&browser, "#steer-budget", "Step budget set to 40").await;
        steer_and_see(&browser, "#steer-prune", "Pruned").await;
        browser.screenshot("node-steered").await;

        let events = get_json(&web, &member, &format!("/runs/{run}/events")).await;
        let steered: Vec<&serde_json::Value> = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == "steered")
            .collect();
        let directives: Vec<&str> = steered
            .iter()
            .map(|e| e["payload"]["directive"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(directives, ["note", "pin", "budget", "prune"], "{events}");
        assert_eq!(steered[0]["payload"]["text"], note);
        let whoami = get_json(&web, &member, "/session").await;
        let token_id = whoami["token_id"].as_str().unwrap_or_default().to_owned();
        assert!(
            steered
                .iter()
                .all(|e| e["payload"]["by"]["token_id"] == token_id.as_str()),
            "each directive names its author ({token_id}): {steered:?}"
        );
        let summary = get_json(&web, &member, &format!("/runs/{run}")).await;
        assert_eq!(summary["steps"], 40);

        // A fork from the node opens the new run's page.
        click(&browser, "#steer-fork", PAGE).await;
        let fork = browser
            .wait_for("the fork's run page", PAGE, || async {
                let url = browser.driver.current_url().await.ok()?;
                let fragment = url.fragment()?.to_owned();
                let id = fragment.strip_prefix("/runs/")?.to_owned();
                (id != run).then_some(id)
            })
            .await;
        let forked = get_json(&web, &member, &format!("/runs/{fork}")).await;
        assert_eq!(forked["fork_of"], good.as_str(), "{forked}");
        browser.screenshot("fork").await;

        // Once the run is finished, only Fork is left on its nodes' pages.
        for id in [&run, &fork] {
            let out = server.client_as(&member, &["cancel", id]);
            assert_eq!(out.status.code(), Some(0));
        }
        open(&browser, &web, &format!("#/runs/{run}")).await;
        wait_status(&browser, "cancelled", RUN).await;
        open(&browser, &web, &format!("#/nodes/{good}")).await;
        browser
            .wait_for("only Fork on a finished run", PAGE, || async {
                let done = browser.text("#steer-done").await.unwrap_or_default();
                done.contains("can no longer be steered").then_some(())
            })
            .await;
        let pin_shown = browser
            .driver
            .find(By::Css("#steer-pin"))
            .await
            .expect("pin")
            .is_displayed()
            .await
            .expect("displayed");
        assert!(!pin_shown, "no pin on a finished run");
        browser.screenshot("node-of-a-finished-run").await;
        browser.quit().await;
    });
}

#[test]
fn hostile_text_from_a_run_renders_as_text() {
    let runtime = runtime();
    let Some(Session {
        server: _server,
        seeded,
        web,
        browser,
        member,
    }) = session(&runtime)
    else {
        return;
    };
    runtime.block_on(async {
        log_in(&browser, &web, &member).await;
        let name = text_of(&browser, "td.run-name").await;
        assert!(
            name.contains("<script>"),
            "the name reads as written: {name}"
        );

        open(&browser, &web, &format!("#/nodes/{}", seeded.hostile)).await;
        assert_eq!(text_of(&browser, "#node-plan").await, HOSTILE);
        let code = text_of(&browser, "#node-code").await;
        assert!(code.contains(HOSTILE), "{code}");
        let output = text_of(&browser, "#node-output").await;
        assert!(output.contains(HOSTILE), "{output}");
        let exception = text_of(&browser, "#node-exception").await;
        assert!(exception.contains("<script>"), "{exception}");
        open(&browser, &web, &format!("#/runs/{}", seeded.run)).await;
        text_of(&browser, "#run-name").await;
        browser
            .wait_for("the run's two nodes", PAGE, || async {
                (browser.count("svg#tree g.node").await == 2).then_some(())
            })
            .await;
        browser.screenshot("hostile-run").await;
        open(&browser, &web, &format!("#/nodes/{}", seeded.hostile)).await;
        text_of(&browser, "#node-plan").await;
        browser.screenshot("hostile-node").await;

        let pwned = browser
            .driver
            .execute(
                "return window.__pwned === undefined ? null : window.__pwned;",
                vec![],
            )
            .await
            .expect("script");
        assert_eq!(
            pwned.json(),
            &serde_json::Value::Null,
            "no injected script ran"
        );
        for injected in [
            "main img",
            "main script",
            "a[href^='javascript']",
            "[onerror]",
        ] {
            assert_eq!(browser.count(injected).await, 0, "{injected} was injected");
        }
        assert!(
            browser.driver.get_alert_text().await.is_err(),
            "no dialog opened"
        );
        browser.quit().await;
    });
}

/// Reads `aide run`'s stderr into `log` on a thread of its own.
fn collect_stderr(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    use std::io::BufRead as _;
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("piped stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let mut log = sink.lock().expect("lock");
            log.push_str(&line);
            log.push('\n');
        }
    });
    log
}

/// Waits until `log` holds `needle`; the log.
fn wait_log(log: &std::sync::Mutex<String>, needle: &str) -> String {
    let deadline = Instant::now() + RUN;
    loop {
        let text = log.lock().expect("lock").clone();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn aide_run_ui_serves_the_local_run_and_stays_up_until_ctrl_c() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut child = crate::support::aide()
        .args(["run", "examples/diabetes", "--steps", "2", "--ui", "--out"])
        .arg(out.path().join("run"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("aide run --ui");
    let log = collect_stderr(&mut child);
    let line = wait_log(&log, "web UI: ");
    let url = line
        .lines()
        .find_map(|l| l.strip_prefix("web UI: "))
        .expect("the URL")
        .trim()
        .to_owned();
    let (base, fragment) = url.split_once("/#").expect("a fragment");
    assert!(base.starts_with("http://127.0.0.1:"), "{url}");
    let token = fragment
        .split('&')
        .find_map(|p| p.strip_prefix("token="))
        .expect("the token");

    let summary = runtime().block_on(async {
        let http = reqwest::Client::new();
        let login = http
            .post(format!("{base}/api/v1/session"))
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await
            .expect("log in");
        assert_eq!(login.status(), 200);
        let cookie = login.headers()["set-cookie"].to_str().expect("cookie");
        let session = cookie.split(';').next().expect("pair").to_owned();
        wait_log(&log, "the run is over");
        let runs: serde_json::Value = http
            .get(format!("{base}/api/v1/runs"))
            .header("cookie", session)
            .send()
            .await
            .expect("runs")
            .json()
            .await
            .expect("JSON");
        runs["runs"][0].clone()
    });
    assert_eq!(summary["status"], "completed", "{summary}");
    assert_eq!(summary["reviewed"], 2);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("Ctrl-C");
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0), "{}", log.lock().expect("lock"));
    assert!(log.lock().expect("lock").contains("stopping the web UI"));
    let refused = runtime().block_on(async {
        reqwest::Client::new()
            .get(format!("{base}/api/v1/runs"))
            .bearer_auth(token)
            .send()
            .await
    });
    assert!(refused.is_err(), "the UI stopped with the process");
    let store = runtime().block_on(async {
        let url = aide_store::DatabaseUrl::sqlite_file(&out.path().join("run/aide.db"));
        aide_store::connect(&url).await.expect("the run's store")
    });
    let token: aide_core::access::Token = token.parse().expect("a token");
    let record = runtime()
        .block_on(aide_store::AccessStore::find_token(&store, &token.hash()))
        .expect("find")
        .expect("the UI's token is kept");
    assert!(
        record.revoked_at.is_some(),
        "the UI's token was revoked when it stopped"
    );
}

#[test]
fn a_tls_server_serves_the_ui_over_https_with_secure_cookies() {
    let Some(server) = Server::start_web_tls() else {
        return;
    };
    let web = server.web.clone().expect("the web UI");
    assert!(web.starts_with("https://"), "{web}");
    let ca = std::fs::read(server.ca.as_ref().expect("the CA")).expect("read the CA");
    runtime().block_on(async {
        let https = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA"))
            .build()
            .expect("client");
        let page = https.get(format!("{web}/")).send().await.expect("the page");
        assert_eq!(page.status(), 200);
        let login = https
            .post(format!("{web}/api/v1/session"))
            .json(&serde_json::json!({ "token": server.token }))
            .send()
            .await
            .expect("log in");
        assert_eq!(login.status(), 200);
        let cookie = login.headers()["set-cookie"].to_str().expect("cookie");
        assert!(
            cookie.ends_with("; Secure"),
            "off loopback plaintext: {cookie}"
        );
        // The runner reports its version at registration and its cache with each heartbeat.
        let deadline = Instant::now() + Duration::from_secs(30);
        let runner = loop {
            let runners: serde_json::Value = https
                .get(format!("{web}/api/v1/runners"))
                .bearer_auth(&server.token)
                .send()
                .await
                .expect("runners")
                .json()
                .await
                .expect("JSON");
            let runner = runners["runners"][0].clone();
            if runner["cache_bytes"].is_u64() {
                break runner;
            }
            assert!(
                Instant::now() < deadline,
                "no cache size reported: {runners}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert_eq!(runner["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(runner["healthy"], true);
        let plain = reqwest::get(web.replacen("https://", "http://", 1)).await;
        assert!(
            plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()),
            "no plaintext answer on a TLS port"
        );
    });
}
