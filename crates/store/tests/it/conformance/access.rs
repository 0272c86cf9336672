//! Conformance: projects and tokens — names unique, tokens found by hash only, revocation and
//! expiry recorded, one bootstrap token ever, and runs scoped to an existing project.

use std::sync::Arc;

use aide_core::access::{ProjectName, Role, Token};
use aide_store::prelude::*;
use aide_store::{Error, NewToken, RunFilter};
use chrono::{Duration, Utc};

use super::{Harness, new_run};
use crate::assert_err;

fn project(name: &str) -> ProjectName {
    name.parse().expect("project name")
}

fn new_token(project_name: &str, role: Role) -> (Token, NewToken) {
    let token = Token::generate().expect("token");
    let new = NewToken {
        project: project(project_name),
        role,
        hash: token.hash(),
        label: format!("{role} of {project_name}"),
        expires_at: None,
    };
    (token, new)
}

pub async fn projects_and_tokens<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let names: Vec<String> = store
        .list_projects()
        .await
        .expect("projects")
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(
        names,
        ["default"],
        "the migration makes the default project"
    );
    store
        .create_project(&project("team-a"))
        .await
        .expect("create");
    assert_err!(
        store.create_project(&project("team-a")).await,
        Error::Conflict(_)
    );

    let (secret, member) = new_token("team-a", Role::Member);
    let stored = store.create_token(&member).await.expect("token");
    assert_eq!(
        (stored.role, stored.project.as_str()),
        (Role::Member, "team-a")
    );
    assert!(!stored.bootstrap && stored.is_active(Utc::now()));
    let found = store.find_token(&secret.hash()).await.expect("find");
    assert_eq!(found.as_ref(), Some(&stored));
    let other = Token::generate().expect("token");
    assert_eq!(store.find_token(&other.hash()).await.expect("find"), None);
    assert_err!(
        store
            .create_token(&new_token("nobody", Role::Viewer).1)
            .await,
        Error::NotFound { .. }
    );

    // Expiry and revocation are recorded; revoking twice keeps the first time.
    let (_, mut expiring) = new_token("default", Role::Viewer);
    expiring.expires_at = Some(Utc::now() - Duration::seconds(1));
    let expired = store.create_token(&expiring).await.expect("expired token");
    assert!(!expired.is_active(Utc::now()));
    let revoked = store.revoke_token(stored.id).await.expect("revoke");
    assert!(revoked.revoked_at.is_some() && !revoked.is_active(Utc::now()));
    let again = store.revoke_token(stored.id).await.expect("revoke again");
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert_err!(
        store.revoke_token(uuid::Uuid::now_v7()).await,
        Error::NotFound { .. }
    );
    let of_team = store
        .list_tokens(Some(&project("team-a")))
        .await
        .expect("tokens");
    assert_eq!(of_team.len(), 1);
    assert_eq!(store.list_tokens(None).await.expect("all").len(), 2);

    // One bootstrap token, ever.
    let (_, first) = new_token("default", Role::Admin);
    let made = store
        .create_bootstrap_token(&first)
        .await
        .expect("bootstrap")
        .expect("the first bootstrap token is stored");
    assert!(made.bootstrap);
    let (_, second) = new_token("default", Role::Admin);
    assert_eq!(
        store
            .create_bootstrap_token(&second)
            .await
            .expect("bootstrap"),
        None
    );
}

pub async fn runs_belong_to_projects<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    store
        .create_project(&project("team-b"))
        .await
        .expect("create");
    let mut in_b = new_run("in b");
    in_b.project = project("team-b");
    let b = store.create_run(in_b).await.expect("run in b");
    assert_eq!(b.project.as_str(), "team-b");
    let default = store.create_run(new_run("in default")).await.expect("run");
    assert_eq!(default.project.as_str(), "default");
    let mut nowhere = new_run("nowhere");
    nowhere.project = project("no-such-project");
    assert_err!(store.create_run(nowhere).await, Error::NotFound { .. });

    let only_b = store
        .list_runs(RunFilter {
            project: Some(project("team-b")),
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(only_b.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id]);
    let all = store.list_runs(RunFilter::default()).await.expect("list");
    assert_eq!(all.len(), 2);
}

/// Claims are fair across projects: with project A's older runs queued first, a claimer
/// holding one of A's runs takes B's run next, then A's again.
pub async fn claims_are_fair_across_projects<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    store.create_project(&project("team-a")).await.expect("a");
    store.create_project(&project("team-b")).await.expect("b");
    let mut ids = Vec::new();
    for (project_name, name) in [
        ("team-a", "a1"),
        ("team-a", "a2"),
        ("team-a", "a3"),
        ("team-b", "b1"),
    ] {
        let mut run = new_run(name);
        run.project = project(project_name);
        ids.push(store.create_run(run).await.expect("run").id);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let mut order = Vec::new();
    for _ in 0..3 {
        let lease = store
            .claim_run("replica", super::LONG)
            .await
            .expect("claim")
            .expect("claimable");
        order.push(
            ids.iter()
                .position(|id| *id == lease.run_id)
                .expect("known"),
        );
    }
    assert_eq!(order, [0, 3, 1], "a1, then b1 (B runs nothing), then a2");
}
