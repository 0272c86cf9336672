//! The API's boundary: every public call needs an active token; a run of another project is
//! NOT_FOUND for get, watch, export, cancel and its nodes; roles limit writes; the admin
//! service manages projects and tokens for admins only; a revoked token stops working within
//! the token cache's lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_core::access::{Role, Token};
use aide_proto::v1;
use aide_proto::v1::admin_client::AdminClient;
use aide_proto::v1::blobs_client::BlobsClient;
use aide_store::AccessStore;
use tonic::Code;

use super::{Harness, authed_channel, mint};

/// Every Coordinator, Blobs and Admin call a client makes, as `(name, code)` with `token`.
async fn every_public_call(
    h: &Harness,
    token: Option<&Token>,
    run_id: &str,
) -> Vec<(&'static str, Code)> {
    let mut api = h.client_with(token).await;
    let channel = authed_channel(&h.address, token).await;
    let mut blobs = BlobsClient::new(channel.clone());
    let mut admin = AdminClient::new(channel);
    let code = |r: Result<(), tonic::Status>| r.err().map_or(Code::Ok, |s| s.code());
    let run = || v1::GetRunRequest {
        run_id: run_id.to_owned(),
    };
    vec![
        (
            "CreateRun",
            code(
                api.create_run(v1::CreateRunRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        ("GetRun", code(api.get_run(run()).await.map(drop))),
        (
            "SteerRun",
            code(
                api.steer_run(v1::SteerRunRequest {
                    run_id: run_id.into(),
                    directive: Some(v1::steer_run_request::Directive::Note("a note".into())),
                })
                .await
                .map(drop),
            ),
        ),
        (
            "ForkRun",
            code(
                api.fork_run(v1::ForkRunRequest {
                    run_id: run_id.into(),
                    node_id: uuid::Uuid::now_v7().to_string(),
                    name: String::new(),
                })
                .await
                .map(drop),
            ),
        ),
        (
            "ListRuns",
            code(
                api.list_runs(v1::ListRunsRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "CancelRun",
            code(
                api.cancel_run(v1::CancelRunRequest {
                    run_id: run_id.into(),
                })
                .await
                .map(drop),
            ),
        ),
        (
            "WatchRun",
            code(
                api.watch_run(v1::WatchRunRequest {
                    run_id: run_id.into(),
                    after_seq: 0,
                })
                .await
                .map(drop),
            ),
        ),
        (
            "GetNode",
            code(
                api.get_node(v1::GetNodeRequest {
                    node_id: uuid::Uuid::now_v7().to_string(),
                })
                .await
                .map(drop),
            ),
        ),
        (
            "ExportRun",
            code(
                api.export_run(v1::ExportRunRequest {
                    run_id: run_id.into(),
                    format: v1::ExportFormat::Journal.into(),
                })
                .await
                .map(drop),
            ),
        ),
        (
            "FindMissingBlobs",
            code(
                blobs
                    .find_missing_blobs(v1::FindMissingBlobsRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "PutManifest",
            code(
                blobs
                    .put_manifest(v1::PutManifestRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "UploadBlob",
            code(
                blobs
                    .upload_blob(futures::stream::iter(Vec::<v1::UploadBlobRequest>::new()))
                    .await
                    .map(drop),
            ),
        ),
        (
            "CreateProject",
            code(
                admin
                    .create_project(v1::CreateProjectRequest { name: "x".into() })
                    .await
                    .map(drop),
            ),
        ),
        (
            "ListProjects",
            code(
                admin
                    .list_projects(v1::ListProjectsRequest {})
                    .await
                    .map(drop),
            ),
        ),
        (
            "CreateToken",
            code(
                admin
                    .create_token(v1::CreateTokenRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "ListTokens",
            code(
                admin
                    .list_tokens(v1::ListTokensRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "RevokeToken",
            code(
                admin
                    .revoke_token(v1::RevokeTokenRequest::default())
                    .await
                    .map(drop),
            ),
        ),
        (
            "WhoAmI",
            code(admin.who_am_i(v1::WhoAmIRequest {}).await.map(drop)),
        ),
    ]
}

pub async fn every_public_call_needs_an_active_token(h: Arc<Harness>) {
    let run = h.queued_run("guarded").await.id.to_string();
    let unknown = Token::generate().expect("token");
    for token in [None, Some(&unknown)] {
        for (call, code) in every_public_call(&h, token, &run).await {
            assert_eq!(code, Code::Unauthenticated, "{call} with {token:?}");
        }
    }
    // A malformed header is refused the same way, and never echoed.
    let mut request = tonic::Request::new(v1::ListRunsRequest::default());
    request.metadata_mut().insert(
        "authorization",
        "Bearer not-a-secret-xyz".parse().expect("ascii"),
    );
    let status = h
        .client_with(None)
        .await
        .list_runs(request)
        .await
        .expect_err("malformed");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(!status.message().contains("not-a-secret-xyz"), "{status:?}");
}

pub async fn another_projects_run_is_not_found(h: Arc<Harness>) {
    h.store
        .create_project(&"team-b".parse().expect("name"))
        .await
        .expect("project");
    let lease = h.running_run("in default").await;
    let node = h.reviewed_node(&lease, 0, None, Some(0.5)).await;
    let outsider = mint(&*h.store, "team-b", Role::Admin).await;
    let run = lease.run_id.to_string();
    let seen = every_public_call(&h, Some(&outsider), &run).await;
    for call in [
        "GetRun",
        "CancelRun",
        "SteerRun",
        "ForkRun",
        "WatchRun",
        "ExportRun",
    ] {
        let code = seen.iter().find(|(c, _)| *c == call).map(|(_, code)| *code);
        assert_eq!(code, Some(Code::NotFound), "{call}");
    }
    let mut api = h.client_with(Some(&outsider)).await;
    let node_status = api
        .get_node(v1::GetNodeRequest {
            node_id: node.to_string(),
        })
        .await
        .expect_err("another project's node");
    assert_eq!(node_status.code(), Code::NotFound);
    let listed = api
        .list_runs(v1::ListRunsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.runs.is_empty(), "{listed:?}");
    // The run is still there for its own project.
    let own = h.client().get_run(v1::GetRunRequest { run_id: run }).await;
    assert!(own.is_ok(), "{own:?}");
}

pub async fn roles_limit_what_a_token_does(h: Arc<Harness>) {
    let viewer = mint(&*h.store, "default", Role::Viewer).await;
    let run = h.queued_run("watched").await.id.to_string();
    let seen = every_public_call(&h, Some(&viewer), &run).await;
    for (call, code) in &seen {
        let expected = match *call {
            "CreateRun" | "CancelRun" | "SteerRun" | "ForkRun" | "FindMissingBlobs"
            | "PutManifest" | "UploadBlob" | "CreateProject" | "ListProjects" | "CreateToken"
            | "ListTokens" | "RevokeToken" => Code::PermissionDenied,
            _ => *code,
        };
        assert_eq!(*code, expected, "{call} as a viewer");
        assert_ne!(*code, Code::Unauthenticated, "{call}");
    }
    // A member writes runs and uploads, but does not administer.
    let member_seen = every_public_call(&h, Some(&h.member), &run).await;
    for (call, code) in member_seen {
        let admin_only = [
            "CreateProject",
            "ListProjects",
            "CreateToken",
            "ListTokens",
            "RevokeToken",
        ];
        if admin_only.contains(&call) {
            assert_eq!(code, Code::PermissionDenied, "{call} as a member");
        } else {
            assert_ne!(code, Code::PermissionDenied, "{call} as a member");
        }
    }
}

pub async fn admins_make_projects_and_tokens_and_revocation_takes_effect(h: Arc<Harness>) {
    let mut admin = AdminClient::new(authed_channel(&h.address, Some(&h.admin)).await);
    admin
        .create_project(v1::CreateProjectRequest {
            name: "team-c".into(),
        })
        .await
        .expect("create project");
    let bad = admin
        .create_project(v1::CreateProjectRequest {
            name: "Team C".into(),
        })
        .await
        .expect_err("a bad name");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let again = admin
        .create_project(v1::CreateProjectRequest {
            name: "team-c".into(),
        })
        .await
        .expect_err("exists");
    assert_eq!(again.code(), Code::AlreadyExists);
    let made = admin
        .create_token(v1::CreateTokenRequest {
            project: "team-c".into(),
            role: "member".into(),
            label: "ci".into(),
            expires_in_secs: Some(3600),
        })
        .await
        .expect("create token")
        .into_inner();
    let token: Token = made.token.parse().expect("a token");
    let info = made.info.expect("info");
    assert_eq!(
        (info.project.as_str(), info.role.as_str()),
        ("team-c", "member")
    );
    assert!(!info.expires_at.is_empty());
    let listed = admin
        .list_tokens(v1::ListTokensRequest {
            project: "team-c".into(),
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.tokens.len(), 1);
    assert!(
        !format!("{listed:?}").contains(&made.token[5..]),
        "no secret in a listing"
    );

    let mut api = h.client_with(Some(&token)).await;
    api.list_runs(v1::ListRunsRequest::default())
        .await
        .expect("the new token works");
    admin
        .revoke_token(v1::RevokeTokenRequest { id: info.id })
        .await
        .expect("revoke");
    let revoked = Instant::now();
    loop {
        match api.list_runs(v1::ListRunsRequest::default()).await {
            Err(s) if s.code() == Code::Unauthenticated => break,
            _ => {}
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn the_audit_trail_names_who_created_cancelled_and_exported(h: Arc<Harness>) {
    use aide_core::RunEvent;
    use aide_store::EventStore;
    let mut client = h.client();
    let created = client
        .create_run(super::create_reference(&h, "audited").await)
        .await
        .expect("create")
        .into_inner();
    let run_id = super::run_id(&created);
    let mut admin = h.client_with(Some(&h.admin)).await;
    admin
        .export_run(v1::ExportRunRequest {
            run_id: created.id.clone(),
            format: v1::ExportFormat::Journal.into(),
        })
        .await
        .expect("export");
    admin
        .cancel_run(v1::CancelRunRequest {
            run_id: created.id.clone(),
        })
        .await
        .expect("cancel");
    let member_id = h
        .store
        .find_token(&h.member.hash())
        .await
        .expect("find")
        .expect("member")
        .id;
    let admin_id = h
        .store
        .find_token(&h.admin.hash())
        .await
        .expect("find")
        .expect("admin")
        .id;
    let trail: Vec<(String, String)> = h
        .store
        .events_after(run_id, 0, 100)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.event {
            RunEvent::RunCreated(a) => Some(("run_created".to_owned(), a.by.token_id)),
            RunEvent::RunExported(x) => Some((format!("run_exported {}", x.format), x.by.token_id)),
            RunEvent::CancelRequested(a) => Some(("cancel_requested".to_owned(), a.by.token_id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("run_created".to_owned(), member_id.to_string()),
            ("run_exported journal".to_owned(), admin_id.to_string()),
            ("cancel_requested".to_owned(), admin_id.to_string()),
        ]
    );
}
