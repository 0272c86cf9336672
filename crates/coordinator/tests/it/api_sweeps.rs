//! The Sweeps API as callers see it: a sweep belongs to its creator's project (another
//! project's token finds nothing, a viewer reads but cannot cancel), and malformed requests
//! are refused with INVALID_ARGUMENT naming the field, nothing stored.

use aide_core::access::Role;
use aide_proto::v1;
use aide_proto::v1::sweeps_client::SweepsClient;
use aide_store::{AccessStore, SweepStore};
use tonic::Code;

use crate::api_support::{Harness, authed_channel, house_prices_task, mint, run_test};

async fn sweeps(
    h: &Harness,
    token: &aide_core::access::Token,
) -> SweepsClient<aide_proto::bearer::AuthedChannel> {
    SweepsClient::new(authed_channel(&h.address, Some(token)).await)
}

async fn request(h: &Harness) -> v1::CreateSweepRequest {
    let mut source = h.upload(&house_prices_task()).await;
    source.metric_name = "rmse".into();
    v1::CreateSweepRequest {
        name: "scoped".into(),
        tasks: vec![v1::SweepTask {
            name: "house-prices".into(),
            source: Some(source),
            leaderboard: vec![0.1, 0.2, 0.3],
            grader: None,
        }],
        arms: vec![v1::SweepArm {
            name: "default".into(),
            settings: Some(v1::RunSettings::default()),
        }],
        seeds: vec![0, 1],
        budget: Some(v1::SweepBudget {
            cost_usd: Some(5.0),
            wall_clock_secs: None,
            cells_at_once: Some(1),
        }),
    }
}

#[tokio::test]
async fn a_sweep_is_seen_only_in_its_project_and_a_viewer_cannot_cancel_it() {
    run_test(Harness::sqlite().await, |h| async move {
        let mut member = sweeps(&h, &h.member).await;
        let sweep = member
            .create_sweep(request(&h).await)
            .await
            .expect("create")
            .into_inner();
        assert_eq!((sweep.project.as_str(), sweep.seeds.len()), ("default", 2));

        h.store
            .create_project(&"other".parse().expect("name"))
            .await
            .expect("project");
        let stranger = mint(&*h.store, "other", Role::Admin).await;
        let mut stranger = sweeps(&h, &stranger).await;
        let get = v1::GetSweepRequest {
            sweep_id: sweep.id.clone(),
        };
        let err = stranger.get_sweep(get.clone()).await.expect_err("hidden");
        assert_eq!(err.code(), Code::NotFound);
        let err = stranger
            .cancel_sweep(v1::CancelSweepRequest {
                sweep_id: sweep.id.clone(),
            })
            .await
            .expect_err("hidden");
        assert_eq!(err.code(), Code::NotFound);
        let listed = stranger
            .list_sweeps(v1::ListSweepsRequest { limit: 0 })
            .await
            .expect("list")
            .into_inner();
        assert!(listed.sweeps.is_empty());

        let viewer = mint(&*h.store, "default", Role::Viewer).await;
        let mut viewer = sweeps(&h, &viewer).await;
        viewer.get_sweep(get).await.expect("a viewer reads");
        let err = viewer
            .cancel_sweep(v1::CancelSweepRequest {
                sweep_id: sweep.id.clone(),
            })
            .await
            .expect_err("a viewer cannot cancel");
        assert_eq!(err.code(), Code::PermissionDenied);
        let err = viewer
            .create_sweep(request(&h).await)
            .await
            .expect_err("a viewer cannot create");
        assert_eq!(err.code(), Code::PermissionDenied);
    })
    .await;
}

#[tokio::test]
async fn malformed_sweeps_are_refused_naming_the_field() {
    run_test(Harness::sqlite().await, |h| async move {
        let mut client = sweeps(&h, &h.member).await;
        let good = request(&h).await;
        let mut cases: Vec<(v1::CreateSweepRequest, &str)> = Vec::new();
        let mut r = good.clone();
        r.tasks.clear();
        cases.push((r, "at least one task"));
        let mut r = good.clone();
        r.seeds = vec![3, 3];
        cases.push((r, "seeds"));
        let mut r = good.clone();
        r.budget = Some(v1::SweepBudget {
            cells_at_once: Some(0),
            ..Default::default()
        });
        cases.push((r, "cells_at_once"));
        let mut r = good.clone();
        r.budget = Some(v1::SweepBudget {
            cost_usd: Some(f64::NAN),
            ..Default::default()
        });
        cases.push((r, "cost_usd"));
        let mut r = good.clone();
        r.tasks[0].leaderboard = vec![0.1, f64::INFINITY];
        cases.push((r, "leaderboard"));
        let mut r = good.clone();
        r.tasks[0].grader = Some(v1::Grader {
            code: "print(1)".into(),
            timeout_secs: 0,
        });
        cases.push((r, "timeout"));
        let mut r = good.clone();
        r.tasks.push(r.tasks[0].clone());
        cases.push((r, "two are named"));
        let mut r = good.clone();
        r.arms[0].name = " ".into();
        cases.push((r, "arms"));
        let mut r = good.clone();
        r.name = "x".repeat(100_000);
        cases.push((r, "name"));
        for (request, expected) in cases {
            let err = client.create_sweep(request).await.expect_err(expected);
            assert_eq!(err.code(), Code::InvalidArgument, "{expected}: {err:?}");
            assert!(
                err.message().contains(expected),
                "{expected}: {}",
                err.message()
            );
        }
        assert!(
            h.store
                .list_sweeps(None, 10)
                .await
                .expect("list")
                .is_empty()
        );
        let err = client
            .get_sweep(v1::GetSweepRequest {
                sweep_id: "../etc".into(),
            })
            .await
            .expect_err("not an id");
        assert_eq!(err.code(), Code::InvalidArgument);
    })
    .await;
}
