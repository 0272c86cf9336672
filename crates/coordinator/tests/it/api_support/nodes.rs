//! GetNode and ExportRun over a tree written through the store.

use std::sync::Arc;

use aide_core::Direction;
use aide_proto::v1;
use aide_store::{ExecutionStore, NodeFile, NodeStore, RunStore};
use tonic::Code;

use super::Harness;

pub async fn get_node_shows_code_output_review_and_attempts(h: Arc<Harness>) {
    let lease = h.running_run("nodes").await;
    h.store
        .fix_direction(&lease, Direction::Minimize)
        .await
        .expect("direction");
    let buggy = h.reviewed_node(&lease, 0, None, None).await;
    let good = h.reviewed_node(&lease, 1, None, Some(0.25)).await;
    let child = h
        .generated_node(&lease, 2, Some(good), "print('improved')\n")
        .await;
    // Two attempts: the first superseded by the second.
    h.store
        .start_execution(&lease, child)
        .await
        .expect("attempt 1");
    h.store
        .start_execution(&lease, child)
        .await
        .expect("attempt 2");

    let mut client = h.client();
    let node = client
        .get_node(v1::GetNodeRequest {
            node_id: good.to_string(),
        })
        .await
        .expect("get node")
        .into_inner();
    assert_eq!(node.id, good.to_string());
    assert_eq!(node.run_id, lease.run_id.to_string());
    assert!(node.parent_id.is_empty());
    assert_eq!((node.step, node.debug_depth, node.attempts), (1, 0, 1));
    assert_eq!(node.action(), v1::ActionKind::Draft);
    assert_eq!(node.stage(), v1::NodeStage::Reviewed);
    assert_eq!(node.plan, "plan of step 1");
    assert_eq!(node.code, "print('step 1')\n");
    assert_eq!(node.output, "validation rmse: 0.25\n");
    assert_eq!(node.exec_time_secs, 1.5);
    assert!(!node.is_buggy && node.bug_reasons.is_empty());
    let metric = node.metric.expect("metric");
    assert_eq!(metric.value, 0.25);
    assert_eq!(metric.direction(), v1::MetricDirection::Minimize);
    assert_eq!(node.summary, "summary of step 1");

    let node = client
        .get_node(v1::GetNodeRequest {
            node_id: buggy.to_string(),
        })
        .await
        .expect("get node")
        .into_inner();
    assert!(node.is_buggy);
    assert_eq!(node.exc_type, "ValueError");
    assert_eq!(
        node.bug_reasons,
        [
            "the script raised ValueError",
            "the script exited with code 1"
        ]
    );
    assert!(node.metric.is_none());

    let node = client
        .get_node(v1::GetNodeRequest {
            node_id: child.to_string(),
        })
        .await
        .expect("get node")
        .into_inner();
    assert_eq!(node.parent_id, good.to_string());
    assert_eq!(node.action(), v1::ActionKind::Improve);
    assert_eq!(node.stage(), v1::NodeStage::Generated);
    assert_eq!(node.attempts, 2);
    assert!(node.output.is_empty() && !node.is_buggy);

    let run = client
        .get_run(v1::GetRunRequest {
            run_id: lease.run_id.to_string(),
        })
        .await
        .expect("get run")
        .into_inner();
    assert_eq!((run.nodes, run.reviewed), (3, 2));
    assert_eq!(run.best_node_id, good.to_string());
    assert_eq!(run.best_metric.map(|m| m.value), Some(0.25));

    for (id, code) in [
        (uuid::Uuid::now_v7().to_string(), Code::NotFound),
        ("nope".to_owned(), Code::InvalidArgument),
    ] {
        let status = client
            .get_node(v1::GetNodeRequest { node_id: id })
            .await
            .expect_err("bad node");
        assert_eq!(status.code(), code);
    }
}

async fn export(
    h: &Harness,
    run_id: &str,
    format: v1::ExportFormat,
) -> Result<v1::ExportRunResponse, tonic::Status> {
    let stream = h
        .client()
        .export_run(v1::ExportRunRequest {
            run_id: run_id.to_owned(),
            format: format as i32,
        })
        .await?
        .into_inner();
    super::collect_export(stream).await
}

pub async fn export_run_renders_the_outputs(h: Arc<Harness>) {
    let lease = h.running_run("exported").await;
    let run_id = lease.run_id.to_string();
    let none_yet = export(&h, &run_id, v1::ExportFormat::BestSolution)
        .await
        .expect_err("no good node yet");
    assert_eq!(none_yet.code(), Code::NotFound);

    h.reviewed_node(&lease, 0, None, None).await;
    let first = h.reviewed_node(&lease, 1, None, Some(0.3)).await;
    let best = h.reviewed_node(&lease, 2, Some(first), Some(0.2)).await;
    h.generated_node(&lease, 3, Some(best), "print('in flight')\n")
        .await;

    let journal = export(&h, &run_id, v1::ExportFormat::Journal)
        .await
        .expect("journal");
    assert_eq!(journal.file_name, "journal.json");
    let doc: serde_json::Value = serde_json::from_slice(&journal.content).expect("json");
    assert_eq!(
        doc["nodes"].as_array().map(Vec::len),
        Some(3),
        "reviewed nodes only"
    );
    assert_eq!(doc["node2parent"][best.to_string()], first.to_string());

    let solution = export(&h, &run_id, v1::ExportFormat::BestSolution)
        .await
        .expect("best solution");
    assert_eq!(solution.file_name, "best_solution.py");
    assert_eq!(solution.content, b"print('step 2')\n");

    let tree = export(&h, &run_id, v1::ExportFormat::TreeHtml)
        .await
        .expect("tree");
    assert_eq!(tree.file_name, "tree.html");
    let html = String::from_utf8(tree.content).expect("utf-8");
    assert!(html.contains("<html") && html.contains(&best.to_string()));

    let report = export(&h, &run_id, v1::ExportFormat::Report)
        .await
        .expect("report");
    assert_eq!(report.file_name, "report.md");
    let text = String::from_utf8(report.content).expect("utf-8");
    assert!(text.starts_with("# Run report: exported"), "{text}");

    let missing = export(&h, &run_id, v1::ExportFormat::Submission)
        .await
        .expect_err("no stored submission");
    assert_eq!(missing.code(), Code::NotFound);
    // A file kept inline (an old row, an engine without a blob store) exports as it is.
    let inline = NodeFile::inline("submission.csv", b"Id,SalePrice\n1,2\n".to_vec());
    h.store
        .put_node_file(&lease, best, &inline)
        .await
        .expect("store submission");
    let submission = export(&h, &run_id, v1::ExportFormat::Submission)
        .await
        .expect("submission");
    assert_eq!(submission.file_name, "submission.csv");
    assert_eq!(submission.content, b"Id,SalePrice\n1,2\n");

    // A file in the blob store streams from it, several messages for a file over 1 MiB.
    let big: Vec<u8> = (0..(3 << 20) + 17).map(|i| (i % 251) as u8).collect();
    let digest = h.blobs.put_bytes(&big).await.expect("blob");
    let blob = NodeFile::blob("submission.csv", digest, big.len() as u64);
    h.store
        .put_node_file(&lease, best, &blob)
        .await
        .expect("record the blob");
    let streamed = export(&h, &run_id, v1::ExportFormat::Submission)
        .await
        .expect("streamed submission");
    assert_eq!(streamed.file_name, "submission.csv");
    assert!(streamed.content == big, "the blob's bytes, in order");

    let unspecified = export(&h, &run_id, v1::ExportFormat::Unspecified)
        .await
        .expect_err("no format");
    assert_eq!(unspecified.code(), Code::InvalidArgument);
    let unknown = export(
        &h,
        &uuid::Uuid::now_v7().to_string(),
        v1::ExportFormat::Journal,
    )
    .await
    .expect_err("unknown run");
    assert_eq!(unknown.code(), Code::NotFound);
}
