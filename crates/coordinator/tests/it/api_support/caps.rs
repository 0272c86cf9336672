//! The server's caps through the API: settings over a cap are INVALID_ARGUMENT naming the
//! field (steps = 4e9, a timeout of u64::MAX seconds), a project at its number of unfinished
//! runs or at its daily spending cap is RESOURCE_EXHAUSTED, and watch streams past a token's
//! cap are refused while the ones open keep working.

use std::sync::Arc;

use aide_coordinator::api::RunCaps;
use aide_core::LlmPurpose;
use aide_proto::v1;
use aide_store::{CallUsage, LedgerStore, NewLlmCall, RunStore};
use tonic::Code;

use super::{Harness, create_reference, test_config};

pub async fn settings_over_a_cap_are_invalid_arguments(h: Arc<Harness>) {
    let cases = [
        (
            "steps",
            v1::RunSettings {
                steps: Some(4_000_000_000),
                ..Default::default()
            },
        ),
        (
            "workers",
            v1::RunSettings {
                workers: Some(5_000),
                ..Default::default()
            },
        ),
        (
            "exec_timeout_secs",
            v1::RunSettings {
                exec_timeout_secs: Some(u64::MAX),
                ..Default::default()
            },
        ),
        (
            "max_run_secs",
            v1::RunSettings {
                max_run_secs: Some(u64::MAX),
                ..Default::default()
            },
        ),
    ];
    for (field, settings) in cases {
        let mut request = create_reference(&h, "capped").await;
        request.settings = Some(settings);
        let status = h.client().create_run(request).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().contains(field), "{field}: {status:?}");
    }
    // A budget directive is held to the same caps.
    let lease = h.running_run("steered past a cap").await;
    let status = h
        .client()
        .steer_run(v1::SteerRunRequest {
            run_id: lease.run_id.to_string(),
            directive: Some(v1::steer_run_request::Directive::Budget(v1::BudgetChange {
                steps: Some(4_000_000_000),
                max_run_secs: None,
            })),
        })
        .await
        .expect_err("a budget over the cap");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("steps"), "{status:?}");
    h.store
        .finish_run(&lease, aide_store::RunStatus::Completed, "done")
        .await
        .expect("finish");
    let mut request = create_reference(&h, "long").await;
    request.name = "n".repeat(40 << 10);
    let status = h
        .client()
        .create_run(request)
        .await
        .expect_err("a long name");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("name:"), "{status:?}");
}

pub async fn a_project_at_its_caps_starts_no_run(h: Arc<Harness>) {
    let mut config = test_config();
    config.caps = RunCaps {
        max_unfinished_runs_per_project: 2,
        max_daily_cost_usd_per_project: Some(1.0),
        ..RunCaps::default()
    };
    let (mut client, _) = h.another_server(config).await;
    for name in ["one", "two"] {
        client
            .create_run(create_reference(&h, name).await)
            .await
            .expect("under the cap");
    }
    let third = client
        .create_run(create_reference(&h, "three").await)
        .await
        .expect_err("over the cap");
    assert_eq!(third.code(), Code::ResourceExhausted, "{third:?}");
    assert!(third.message().contains("queued or running"), "{third:?}");

    // Finished runs do not count; spending does.
    let runs = client
        .list_runs(v1::ListRunsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .runs;
    for run in &runs {
        client
            .cancel_run(v1::CancelRunRequest {
                run_id: run.id.clone(),
            })
            .await
            .expect("cancel");
    }
    let spent = CallUsage {
        provider: "openai".into(),
        model: "m".into(),
        cost_usd: 1.25,
        ..CallUsage::default()
    };
    h.store
        .record_llm_call(NewLlmCall {
            run_id: crate::api_support::run_id(&runs[0]),
            node_id: None,
            purpose: LlmPurpose::Code,
            usage: spent,
            prompt: None,
        })
        .await
        .expect("ledger");
    let broke = client
        .create_run(create_reference(&h, "four").await)
        .await
        .expect_err("over the daily cost cap");
    assert_eq!(broke.code(), Code::ResourceExhausted, "{broke:?}");
    assert!(broke.message().contains("daily cap"), "{broke:?}");
}

pub async fn watch_streams_past_a_tokens_cap_are_refused(h: Arc<Harness>) {
    let mut config = test_config();
    config.caps = RunCaps {
        max_watch_streams_per_token: 3,
        ..RunCaps::default()
    };
    let (mut client, _) = h.another_server(config).await;
    let run = h.queued_run("watched").await.id.to_string();
    let watch = || v1::WatchRunRequest {
        run_id: run.clone(),
        after_seq: 0,
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            client
                .watch_run(watch())
                .await
                .expect("under the cap")
                .into_inner(),
        );
    }
    let refused = client.watch_run(watch()).await.expect_err("over the cap");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // Another token has slots of its own; a closed stream frees one.
    let mut other = h.client_with(Some(&h.admin)).await;
    other.watch_run(watch()).await.expect("another token");
    drop(open.pop());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match client.watch_run(watch()).await {
            Ok(_) => break,
            Err(s) if s.code() == Code::ResourceExhausted => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the slot was never freed"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(s) => panic!("{s:?}"),
        }
    }
}
