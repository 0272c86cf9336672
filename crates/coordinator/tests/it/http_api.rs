//! The HTTP API as a client sees it, on both backends: runs, trees, nodes, events, sweeps
//! and runners as JSON; errors as problem+json with the gRPC codes; projects and roles
//! enforced as over gRPC; the session cookie's attributes and its guard against other
//! origins; tokens for admins only; steering and forks; and the UI's pages with their
//! security headers.

use std::sync::Arc;
use std::time::Duration;

use aide_core::LlmPurpose;
use aide_store::prelude::*;
use aide_store::{CallUsage, NewLlmCall, RunnerInfo, RunnerLoad};
use reqwest::Method;
use serde_json::Value;

use crate::http_support::Web;

crate::web_tests!(
    runs_trees_and_nodes_read_as_json,
    errors_are_problems_with_the_grpc_codes,
    sessions_are_strict_http_only_cookies_refused_to_other_origins,
    tokens_are_for_admins_and_revoking_one_ends_its_access,
    sweeps_and_runners_read_as_json,
    the_ui_is_served_with_a_policy_that_runs_no_inline_script,
    steering_and_forks_over_http_answer_as_over_grpc,
);

async fn runs_trees_and_nodes_read_as_json(web: Arc<Web>) {
    let h = &web.harness;
    let lease = h.running_run("house prices, first").await;
    let draft = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    let buggy = h.reviewed_node(&lease, 1, Some(draft), None).await;
    let better = h.reviewed_node(&lease, 2, Some(draft), Some(0.25)).await;
    h.store
        .record_llm_call(NewLlmCall {
            run_id: lease.run_id,
            node_id: Some(better),
            purpose: LlmPurpose::Code,
            usage: CallUsage {
                provider: "openai".into(),
                model: "gpt-4o".into(),
                prompt_tokens: 1200,
                completion_tokens: 300,
                cost_usd: 0.0125,
                ..CallUsage::default()
            },
            prompt: None,
        })
        .await
        .expect("ledger");
    let member = web.member();

    let runs = web.get_json("/api/v1/runs", member).await;
    let run = &runs["runs"][0];
    assert_eq!(run["id"], lease.run_id.to_string());
    assert_eq!(
        (run["status"].as_str(), run["nodes"].as_u64()),
        (Some("running"), Some(3))
    );
    assert_eq!(
        (run["reviewed"].as_u64(), run["buggy"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(run["best_node_id"], better.to_string());
    assert_eq!(run["best_metric"], 0.25);
    assert_eq!(run["cost_usd"], 0.0125);
    for (query, found) in [
        ("?status=running", 1),
        ("?status=completed", 0),
        ("?name=HOUSE", 1),
        ("?name=nothing-like-it", 0),
        ("?project=other", 0),
        ("?project=default&limit=1", 1),
    ] {
        let listed = web.get_json(&format!("/api/v1/runs{query}"), member).await;
        assert_eq!(
            listed["runs"].as_array().map(Vec::len),
            Some(found),
            "{query}"
        );
    }

    let tree = web
        .get_json(&format!("/api/v1/runs/{}/tree", lease.run_id), member)
        .await;
    assert_eq!(tree["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        tree["best_path"],
        serde_json::json!([draft.to_string(), better.to_string()])
    );
    let outcomes: Vec<&str> = tree["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["good", "buggy", "good"]);

    let node = web
        .get_json(&format!("/api/v1/nodes/{better}"), member)
        .await;
    assert_eq!(node["parent_id"], draft.to_string());
    assert_eq!(node["parent_code"], "print('step 0')\n");
    assert_eq!(node["code"], "print('step 2')\n");
    assert_eq!(node["is_best"], true);
    assert_eq!(node["metric"], 0.25);
    assert_eq!(node["llm_calls"][0]["model"], "gpt-4o");
    assert_eq!(node["llm_calls"][0]["prompt_tokens"], 1200);
    assert_eq!(node["executions"][0]["runner_id"], "r1");
    assert_eq!(node["executions"][0]["status"], "finished");
    let parent = web
        .get_json(&format!("/api/v1/nodes/{draft}"), member)
        .await;
    assert_eq!(
        parent["children"],
        serde_json::json!([buggy.to_string(), better.to_string()])
    );
    let failed = web
        .get_json(&format!("/api/v1/nodes/{buggy}"), member)
        .await;
    assert_eq!(failed["outcome"], "buggy");
    assert_eq!(failed["exception"]["type"], "ValueError");
    assert_eq!(failed["review"]["is_buggy"], true);
    assert_eq!(failed["metric"], Value::Null);

    let events = web
        .get_json(
            &format!("/api/v1/runs/{}/events?after=0&limit=2", lease.run_id),
            member,
        )
        .await;
    let seqs: Vec<u64> = events["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(
        seqs.len(),
        seqs.iter().collect::<std::collections::BTreeSet<_>>().len()
    );
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

async fn errors_are_problems_with_the_grpc_codes(web: Arc<Web>) {
    let lease = web.harness.running_run("guarded").await;
    let run = lease.run_id;
    let cases = [
        (
            Method::GET,
            "/api/v1/runs".to_owned(),
            None,
            401,
            "UNAUTHENTICATED",
        ),
        (
            Method::GET,
            "/api/v1/runs/not-a-uuid".into(),
            Some(web.member()),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            Method::GET,
            format!("/api/v1/runs/{}", uuid::Uuid::now_v7()),
            Some(web.member()),
            404,
            "NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/api/v1/runs/{run}"),
            Some(&web.stranger),
            404,
            "NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/api/v1/runs/{run}/tree"),
            Some(&web.stranger),
            404,
            "NOT_FOUND",
        ),
        (
            Method::POST,
            format!("/api/v1/runs/{run}/cancel"),
            Some(&web.viewer),
            403,
            "PERMISSION_DENIED",
        ),
        (
            Method::POST,
            format!("/api/v1/runs/{run}/cancel"),
            Some(&web.stranger),
            404,
            "NOT_FOUND",
        ),
        (
            Method::GET,
            "/api/v1/runs?status=sleeping".into(),
            Some(web.member()),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            Method::GET,
            format!("/api/v1/runs/{run}/export/everything"),
            Some(web.member()),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            Method::GET,
            "/api/v1/no/such/thing".into(),
            Some(web.member()),
            404,
            "NOT_FOUND",
        ),
        (
            Method::GET,
            "/api/v1/tokens".into(),
            Some(web.member()),
            403,
            "PERMISSION_DENIED",
        ),
        (
            Method::GET,
            "/api/v1/runs?limit=lots".into(),
            Some(web.member()),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            Method::PUT,
            "/api/v1/runs".into(),
            Some(web.member()),
            405,
            "UNIMPLEMENTED",
        ),
        (
            Method::POST,
            "/api/v1/session".into(),
            None,
            415,
            "INVALID_ARGUMENT",
        ),
    ];
    for (method, path, token, status, code) in cases {
        let (got, problem) = Web::problem(web.request(method.clone(), &path, token)).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {problem}"
        );
    }
    let wrong = web
        .request(Method::GET, "/api/v1/runs", None)
        .bearer_auth("aide_not-a-real-token");
    let (status, problem) = Web::problem(wrong).await;
    assert_eq!(status, 401);
    assert!(
        !problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not-a-real")
    );
    let record = web.harness.store.get_run(run).await.expect("run");
    assert!(!record.cancel_requested, "refused cancels changed nothing");

    let cancelled = web
        .request(
            Method::POST,
            &format!("/api/v1/runs/{run}/cancel"),
            Some(web.member()),
        )
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancelled.status(), 200);
    let summary: Value = cancelled.json().await.expect("JSON");
    assert_eq!(summary["cancel_requested"], true);
}

async fn sessions_are_strict_http_only_cookies_refused_to_other_origins(web: Arc<Web>) {
    let login = |token: &str| {
        web.request(Method::POST, "/api/v1/session", None)
            .json(&serde_json::json!({ "token": token }))
    };
    let (status, _) = Web::problem(login("aide_wrong")).await;
    assert_eq!(status, 401);
    let (status, _) = Web::problem(login("not even a token")).await;
    assert_eq!(status, 401);

    let response = login(web.viewer.expose()).send().await.expect("login");
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with("aide_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plaintext on loopback: {cookie}"
    );
    let session: Value = response.json().await.expect("JSON");
    assert_eq!(
        (session["project"].as_str(), session["role"].as_str()),
        (Some("default"), Some("viewer"))
    );

    let pair = cookie.split(';').next().expect("pair").to_owned();
    let with_cookie = |method: Method, path: &str| {
        web.request(method, path, None)
            .header("cookie", pair.clone())
    };
    let whoami = with_cookie(Method::GET, "/api/v1/session")
        .send()
        .await
        .expect("whoami");
    assert_eq!(whoami.status(), 200);
    let runs = with_cookie(Method::GET, "/api/v1/runs")
        .send()
        .await
        .expect("runs");
    assert_eq!(runs.status(), 200);

    let lease = web.harness.running_run("cookie guarded").await;
    let path = format!("/api/v1/runs/{}/cancel", lease.run_id);
    let (status, problem) =
        Web::problem(with_cookie(Method::POST, &path).header("origin", "https://evil.example"))
            .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (status, _) = Web::problem(
        web.request(Method::POST, "/api/v1/session", None)
            .header("origin", "https://evil.example")
            .json(&serde_json::json!({ "token": web.member().expose() })),
    )
    .await;
    assert_eq!(status, 403, "a login from another origin");

    let logout = with_cookie(Method::DELETE, "/api/v1/session")
        .send()
        .await
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let cleared = logout.headers()["set-cookie"].to_str().expect("cookie");
    assert!(
        cleared.starts_with("aide_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

async fn tokens_are_for_admins_and_revoking_one_ends_its_access(web: Arc<Web>) {
    let created = web
        .request(Method::POST, "/api/v1/tokens", Some(web.admin()))
        .json(
            &serde_json::json!({ "project": "default", "role": "viewer", "label": "wall screen" }),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.expect("JSON");
    let secret = created["token"].as_str().expect("secret").to_owned();
    let id = created["info"]["id"].as_str().expect("id").to_owned();
    assert_eq!(created["info"]["role"], "viewer");

    let listed = web
        .get_json("/api/v1/tokens?project=default", web.admin())
        .await;
    assert!(
        listed["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .any(|t| t["id"] == id.as_str())
    );
    assert!(
        !listed.to_string().contains(&secret),
        "secrets are never listed"
    );
    let (status, _) = Web::problem(
        web.request(Method::POST, "/api/v1/tokens", Some(web.member()))
            .json(&serde_json::json!({ "project": "default", "role": "admin" })),
    )
    .await;
    assert_eq!(status, 403);
    let (status, problem) = Web::problem(
        web.request(Method::POST, "/api/v1/tokens", Some(web.admin()))
            .json(&serde_json::json!({ "project": "default", "role": "emperor" })),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("INVALID_ARGUMENT"))
    );

    let new_token = |path: &str| {
        web.http
            .get(format!("{}{path}", web.url))
            .bearer_auth(&secret)
    };
    assert_eq!(
        new_token("/api/v1/runs")
            .send()
            .await
            .expect("runs")
            .status(),
        200
    );
    let revoked = web
        .request(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(web.admin()),
        )
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = new_token("/api/v1/runs")
            .send()
            .await
            .expect("runs")
            .status();
        if status == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked token kept working"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sweeps_and_runners_read_as_json(web: Arc<Web>) {
    let store = &web.harness.store;
    let sweep = store
        .create_sweep(crate::http_support::house_prices_sweep(
            "nightly",
            vec![0, 1],
        ))
        .await
        .expect("sweep");
    let listed = web.get_json("/api/v1/sweeps", web.member()).await;
    assert_eq!(listed["sweeps"][0]["id"], sweep.id.to_string());
    assert_eq!(listed["sweeps"][0]["cells"]["total"], sweep.cells.total());
    let detail = web
        .get_json(&format!("/api/v1/sweeps/{}", sweep.id), &web.viewer)
        .await;
    let cells = detail["cells"].as_array().expect("cells");
    assert_eq!(cells.len() as u64, sweep.cells.total());
    assert!(cells.iter().all(|c| c["status"] == "queued"));
    assert!(detail["report"]["arms"].is_array(), "{detail}");
    let (status, _) = Web::problem(web.request(
        Method::GET,
        &format!("/api/v1/sweeps/{}", sweep.id),
        Some(&web.stranger),
    ))
    .await;
    assert_eq!(status, 404);
    let none = web.get_json("/api/v1/sweeps", &web.stranger).await;
    assert_eq!(none["sweeps"].as_array().map(Vec::len), Some(0));

    store
        .register_runner(RunnerInfo {
            id: "gpu-box-1".into(),
            address: "http://10.0.0.5:50061".into(),
            slots: 4,
            labels: serde_json::json!({ "backend": "docker", "version": "9.9.9", "gpu": "a100" }),
        })
        .await
        .expect("register");
    store
        .heartbeat_runner(
            "gpu-box-1",
            RunnerLoad {
                free_slots: 1,
                running: 3,
                cpu_load: 0.75,
                memory_load: 0.5,
                cache_bytes: Some(5 << 30),
            },
        )
        .await
        .expect("heartbeat");
    let runners = web.get_json("/api/v1/runners", &web.viewer).await;
    let runner = &runners["runners"][0];
    assert_eq!(runner["id"], "gpu-box-1");
    assert_eq!(
        (runner["backend"].as_str(), runner["version"].as_str()),
        (Some("docker"), Some("9.9.9"))
    );
    assert_eq!(
        (runner["slots"].as_u64(), runner["running"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(runner["cache_bytes"], 5u64 << 30);
    assert_eq!(runner["labels"]["gpu"], "a100");
    assert_eq!(runner["healthy"], true);
}

async fn the_ui_is_served_with_a_policy_that_runs_no_inline_script(web: Arc<Web>) {
    for (path, content_type) in [
        ("/", "text/html"),
        ("/ui/runs/anything", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let response = web
            .http
            .get(format!("{}{path}", web.url))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert!(
            headers["content-type"]
                .to_str()
                .expect("type")
                .starts_with(content_type)
        );
        let policy = headers["content-security-policy"].to_str().expect("csp");
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let body = response.text().await.expect("body");
        if path == "/" {
            assert!(body.contains(r#"<script src="/assets/app.js""#));
            assert!(!body.contains("<script>"), "no inline script in the page");
            assert!(
                !body.contains("http://") && !body.contains("https://"),
                "nothing from elsewhere"
            );
        }
    }
    let document: Value = web
        .http
        .get(format!("{}/api/v1/openapi.json", web.url))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    for path in [
        "/api/v1/runs",
        "/api/v1/runs/{run_id}/events/stream",
        "/api/v1/nodes/{node_id}",
        "/api/v1/sweeps/{sweep_id}",
        "/api/v1/runners",
        "/api/v1/tokens",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}

async fn steering_and_forks_over_http_answer_as_over_grpc(web: Arc<Web>) {
    let h = &web.harness;
    let lease = h.running_run("steered").await;
    let good = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    let steer_path = format!("/api/v1/runs/{}/steer", lease.run_id);
    let steer = |token, body: Value| {
        web.request(Method::POST, &steer_path, Some(token))
            .json(&body)
    };
    let note = steer(
        web.member(),
        serde_json::json!({"note": {"text": "try target encoding"}}),
    )
    .send()
    .await
    .expect("note");
    assert_eq!(note.status(), 200);
    let answer: Value = note.json().await.expect("JSON");
    assert!(answer["seq"].as_u64().is_some_and(|s| s > 0), "{answer}");
    assert_eq!(answer["run"]["id"], lease.run_id.to_string());
    let budget = steer(web.member(), serde_json::json!({"budget": {"steps": 12}}))
        .send()
        .await
        .expect("budget");
    let answer: Value = budget.json().await.expect("JSON");
    assert_eq!(answer["run"]["steps"], 12, "{answer}");

    let missing = uuid::Uuid::now_v7();
    let refusals = [
        (
            web.member(),
            serde_json::json!({"pin": {"node_id": missing}}),
            404,
            "NOT_FOUND",
        ),
        (
            web.member(),
            serde_json::json!({"budget": {}}),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            web.member(),
            serde_json::json!({"note": {"text": ""}}),
            400,
            "INVALID_ARGUMENT",
        ),
        (
            &web.viewer,
            serde_json::json!({"pin": {"node_id": good}}),
            403,
            "PERMISSION_DENIED",
        ),
        (
            &web.stranger,
            serde_json::json!({"pin": {"node_id": good}}),
            404,
            "NOT_FOUND",
        ),
    ];
    for (token, body, status, code) in refusals {
        let (got, problem) = Web::problem(steer(token, body.clone())).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{body}: {problem}"
        );
    }
    let (got, _) = Web::problem(steer(web.member(), serde_json::json!({"shout": "now"}))).await;
    assert!(
        (400..500).contains(&got),
        "an unknown directive is refused: {got}"
    );

    let fork = web
        .request(
            Method::POST,
            &format!("/api/v1/runs/{}/fork", lease.run_id),
            Some(web.member()),
        )
        .json(&serde_json::json!({"node_id": good, "name": "from the draft"}))
        .send()
        .await
        .expect("fork");
    assert_eq!(fork.status(), 200);
    let forked: Value = fork.json().await.expect("JSON");
    assert_eq!(forked["name"], "from the draft");
    assert_eq!(forked["status"], "queued");
    assert_eq!(forked["fork_of"], good.to_string());
    assert_eq!(forked["steps"], 12, "the fork takes the source's settings");
}
