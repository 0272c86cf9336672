//! CreateRun, GetRun, ListRuns and CancelRun through the gRPC API.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aide_proto::v1;
use aide_store::{RunStatus, RunStore};
use tonic::Code;

use aide_core::bundle::{Limits, Manifest};

use super::{Harness, create_from_path, create_reference, run_id};

fn write_task_toml(dir: &Path, body: &str) -> PathBuf {
    let task_dir = dir.join("task");
    std::fs::create_dir_all(&task_dir).expect("task dir");
    std::fs::write(task_dir.join("task.toml"), body).expect("write task.toml");
    task_dir
}

pub async fn create_run_from_a_task_directory(h: Arc<Harness>) {
    let data = aide_testkit::house_prices_dir();
    let task_dir = write_task_toml(
        h.dir.path(),
        &format!(
            "name = \"house-prices\"\ngoal = \"Predict SalePrice.\"\ndata_dir = {:?}\n\
             [metric]\nname = \"rmse\"\n",
            data.to_string_lossy()
        ),
    );
    let settings = v1::RunSettings {
        steps: Some(4),
        debug_prob: Some(0.25),
        ..Default::default()
    };
    let request = create_from_path(&h, &task_dir, Some(settings)).await;
    let run = h
        .client()
        .create_run(request)
        .await
        .expect("create run")
        .into_inner();
    assert_eq!(run.status(), v1::RunStatus::Queued);
    assert_eq!(
        (run.name.as_str(), run.task_name.as_str()),
        ("house-prices", "house-prices")
    );
    assert_eq!(run.direction(), v1::MetricDirection::Minimize);
    assert_eq!((run.nodes, run.reviewed, run.cost_usd), (0, 0, 0.0));
    assert!(run.best_node_id.is_empty() && run.best_metric.is_none());
    assert!(run.created_at.is_some() && run.finished_at.is_none());
    let settings = run.settings.clone().expect("settings in force");
    assert_eq!(settings.steps, Some(4));
    assert_eq!(settings.debug_prob, Some(0.25));
    assert_eq!(settings.num_drafts, Some(5), "absent fields take defaults");
    assert_eq!(settings.code_model.as_deref(), Some("baseline"));

    let stored = h.store.get_run(run_id(&run)).await.expect("stored");
    assert_eq!(stored.status, RunStatus::Queued);
    let local = Manifest::of_dir(&data, &Limits::default()).expect("manifest");
    let bundle = stored
        .task
        .input
        .bundle()
        .expect("the data is a stored bundle");
    assert_eq!(
        bundle.digest,
        local.digest(),
        "the server stored what is here"
    );
    assert_eq!(bundle.files, local.files.len() as u64);
    let stored_manifest = h
        .blobs
        .get_manifest(&bundle.digest)
        .await
        .expect("manifest");
    assert_eq!(stored_manifest, local);
    assert_eq!(stored.settings.steps, 4);
}

pub async fn held_back_answers_travel_apart_from_the_data(h: Arc<Harness>) {
    let example = aide_testkit::example_dir("diabetes");
    let request = create_from_path(&h, &example, None).await;
    let run = h
        .client()
        .create_run(request)
        .await
        .expect("create")
        .into_inner();
    let stored = h.store.get_run(run_id(&run)).await.expect("stored");
    let answers = stored.task.answers.expect("the example has answers");
    let private = answers.data.bundle().expect("a private bundle");
    let private = h
        .blobs
        .get_manifest(&private.digest)
        .await
        .expect("manifest");
    let input = stored.task.input.bundle().expect("input bundle");
    let input = h.blobs.get_manifest(&input.digest).await.expect("manifest");
    assert_eq!(
        private
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        [answers.file.as_str()]
    );
    let answer_bytes = private.files[0].sha256;
    assert!(
        input.files.iter().all(|f| f.sha256 != answer_bytes),
        "the answers are no file of the input"
    );
}

pub async fn create_run_from_a_reference_task(h: Arc<Harness>) {
    let mut request = create_reference(&h, "my run").await;
    request.settings = Some(v1::RunSettings {
        seed: Some(7),
        workers: Some(2),
        ..Default::default()
    });
    let run = h
        .client()
        .create_run(request)
        .await
        .expect("create run")
        .into_inner();
    assert_eq!(run.name, "my run");
    assert_eq!(run.task_name, "house_prices");
    assert_eq!(
        run.direction(),
        v1::MetricDirection::Minimize,
        "from the metric name override"
    );
    let stored = h.store.get_run(run_id(&run)).await.expect("stored");
    assert_eq!(stored.seed, 7);
    assert_eq!(stored.settings.workers, 2);
    assert_eq!(stored.task.metric.name.as_deref(), Some("rmse"));
    assert_eq!(stored.task.eval.as_deref(), Some("RMSE of the log prices."));
    assert!(
        stored.task.submission.is_some(),
        "house prices has test data"
    );

    // An explicit direction wins over the name.
    let mut request = create_reference(&h, "flipped").await;
    request.task.as_mut().expect("task").direction = v1::MetricDirection::Maximize as i32;
    let run = h
        .client()
        .create_run(request)
        .await
        .expect("create")
        .into_inner();
    assert_eq!(run.direction(), v1::MetricDirection::Maximize);
}

fn bundle_of(request: &mut v1::CreateRunRequest) -> &mut v1::TaskBundle {
    match request.task.as_mut().and_then(|t| t.source.as_mut()) {
        Some(v1::task_source::Source::Bundle(bundle)) => bundle,
        _ => panic!("an uploaded task"),
    }
}

pub async fn a_malformed_task_is_an_invalid_argument_naming_what_is_missing(h: Arc<Harness>) {
    let mut request = create_reference(&h, "no goal").await;
    let descriptor = bundle_of(&mut request)
        .descriptor
        .as_mut()
        .expect("descriptor");
    descriptor.goal.clear();
    descriptor.description.clear();
    let status = h.client().create_run(request).await.expect_err("no goal");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("goal"), "{}", status.message());

    let mut request = create_reference(&h, "short digest").await;
    bundle_of(&mut request).input_digest.truncate(3);
    let status = h
        .client()
        .create_run(request)
        .await
        .expect_err("bad digest");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("input_digest"),
        "{}",
        status.message()
    );

    let mut request = create_reference(&h, "not stored").await;
    bundle_of(&mut request).input_digest = vec![7; 32];
    let status = h.client().create_run(request).await.expect_err("unknown");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("PutManifest"),
        "{}",
        status.message()
    );

    let mut request = create_reference(&h, "escaping sample").await;
    let descriptor = bundle_of(&mut request)
        .descriptor
        .as_mut()
        .expect("descriptor");
    descriptor.sample_submission = "../../etc/passwd".into();
    let status = h.client().create_run(request).await.expect_err("sample");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("sample_submission"),
        "{}",
        status.message()
    );

    let status = h
        .client()
        .create_run(v1::CreateRunRequest::default())
        .await
        .expect_err("no task");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("task"), "{}", status.message());
    let runs = h.store.list_runs(Default::default()).await.expect("list");
    assert!(runs.is_empty(), "nothing was created");
}

pub async fn a_server_task_is_served_by_name_and_confined_to_its_root(h: Arc<Harness>) {
    let comp = h.task_root().join("comp");
    let data = aide_testkit::house_prices_dir();
    std::fs::create_dir_all(comp.join("prepared/private")).expect("dirs");
    std::fs::write(comp.join("description.md"), "# Predict SalePrice\n").expect("write");
    aide_testkit::copy_tree(&data, &comp.join("prepared/public"));
    std::fs::write(
        comp.join("prepared/private/test.csv"),
        "Id,SalePrice\n1,2\n",
    )
    .expect("answers");
    std::os::unix::fs::symlink("/etc", h.task_root().join("etc")).expect("symlink");
    let request = |name: &str| v1::CreateRunRequest {
        task: Some(v1::TaskSource {
            source: Some(v1::task_source::Source::ServerTask(name.into())),
            ..Default::default()
        }),
        ..Default::default()
    };
    let run = h
        .client()
        .create_run(request("bench/comp"))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(run.task_name, "comp");
    let stored = h.store.get_run(run_id(&run)).await.expect("stored");
    let bundle = stored.task.input.bundle().expect("stored as a bundle");
    let local = Manifest::of_dir(&data, &Limits::default()).expect("manifest");
    assert_eq!(bundle.digest, local.digest());
    assert!(
        stored
            .task
            .answers
            .and_then(|a| a.data.bundle().copied())
            .is_some()
    );
    for (name, code) in [
        ("bench/../../etc", Code::InvalidArgument),
        ("/etc/passwd", Code::InvalidArgument),
        ("bench/etc", Code::NotFound),
        ("bench/missing", Code::NotFound),
        ("other/comp", Code::NotFound),
    ] {
        let status = h.client().create_run(request(name)).await.expect_err(name);
        assert_eq!(status.code(), code, "{name}: {}", status.message());
        assert!(
            !status
                .message()
                .contains(&h.dir.path().display().to_string()),
            "{}",
            status.message()
        );
    }
}

pub async fn bad_settings_are_an_invalid_argument_naming_the_field(h: Arc<Harness>) {
    let mut request = create_reference(&h, "bad").await;
    request.settings = Some(v1::RunSettings {
        debug_prob: Some(2.0),
        ..Default::default()
    });
    let status = h
        .client()
        .create_run(request)
        .await
        .expect_err("bad settings");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("settings.debug_prob"),
        "{}",
        status.message()
    );
    let mut request = create_reference(&h, "bad").await;
    request.settings = Some(v1::RunSettings {
        code_model: Some("  ".into()),
        ..Default::default()
    });
    let status = h.client().create_run(request).await.expect_err("bad model");
    assert!(
        status.message().contains("settings.code_model"),
        "{}",
        status.message()
    );
}

pub async fn get_and_list_runs(h: Arc<Harness>) {
    let mut client = h.client();
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        let run = client
            .create_run(create_reference(&h, name).await)
            .await
            .expect("create")
            .into_inner();
        ids.push(run.id);
    }
    let got = client
        .get_run(v1::GetRunRequest {
            run_id: ids[1].clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(
        (got.id.as_str(), got.name.as_str()),
        (ids[1].as_str(), "second")
    );

    let all = client
        .list_runs(v1::ListRunsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .runs;
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["third", "second", "first"], "newest first");
    let two = client
        .list_runs(v1::ListRunsRequest {
            limit: 2,
            status: 0,
        })
        .await
        .expect("list")
        .into_inner()
        .runs;
    assert_eq!(two.len(), 2);

    client
        .cancel_run(v1::CancelRunRequest {
            run_id: ids[0].clone(),
        })
        .await
        .expect("cancel");
    let cancelled = client
        .list_runs(v1::ListRunsRequest {
            limit: 0,
            status: v1::RunStatus::Cancelled as i32,
        })
        .await
        .expect("list")
        .into_inner()
        .runs;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].id, ids[0]);

    let unknown = client
        .get_run(v1::GetRunRequest {
            run_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = client
        .get_run(v1::GetRunRequest {
            run_id: "not-a-uuid".into(),
        })
        .await
        .expect_err("malformed");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed.message().contains("run_id"),
        "{}",
        malformed.message()
    );
}

pub async fn cancel_run_is_idempotent(h: Arc<Harness>) {
    let mut client = h.client();
    let run = client
        .create_run(create_reference(&h, "to cancel").await)
        .await
        .expect("create")
        .into_inner();
    let request = v1::CancelRunRequest {
        run_id: run.id.clone(),
    };
    let cancelled = client
        .cancel_run(request.clone())
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status(), v1::RunStatus::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(!cancelled.cancel_requested);
    let again = client
        .cancel_run(request)
        .await
        .expect("cancel twice")
        .into_inner();
    assert_eq!(again.status(), v1::RunStatus::Cancelled);
    assert_eq!(again.finished_at, cancelled.finished_at, "unchanged");

    // A running run gets a request its owner carries out.
    let lease = h.running_run("running").await;
    let request = v1::CancelRunRequest {
        run_id: lease.run_id.to_string(),
    };
    let requested = client
        .cancel_run(request.clone())
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(requested.status(), v1::RunStatus::Running);
    assert!(requested.cancel_requested);
    assert_eq!(requested.owner, "test-owner");
    h.store
        .finish_run(&lease, RunStatus::Cancelled, "cancelled on request")
        .await
        .expect("finish");
    let done = client
        .cancel_run(request)
        .await
        .expect("cancel a finished run")
        .into_inner();
    assert_eq!(done.status(), v1::RunStatus::Cancelled);
    assert_eq!(done.stop_reason, "cancelled on request");
    assert!(done.owner.is_empty() && !done.cancel_requested);

    let unknown = client
        .cancel_run(v1::CancelRunRequest {
            run_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
}

pub async fn store_failures_are_internal_without_details(h: Arc<Harness>) {
    let run = h.queued_run("doomed").await;
    h.store.close().await;
    let status = h
        .client()
        .get_run(v1::GetRunRequest {
            run_id: run.id.to_string(),
        })
        .await
        .expect_err("the store is closed");
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error in the coordinator");
}
