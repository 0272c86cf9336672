//! Conformance: node files — a node's submission recorded under the lease fence (its bytes
//! inline, or the digest of its blob), read back exactly, replaced when written again,
//! refused for a foreign node or a lost lease.

use std::sync::Arc;
use std::time::Duration;

use aide_core::NodeId;
use aide_core::bundle::Sha256Digest;
use aide_store::prelude::*;
use aide_store::{Error, NodeFile};

use super::{Harness, LONG, claimed, create, draft};
use crate::assert_err;

pub async fn node_files<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "files").await;
    let node = draft(0);
    store
        .insert_node(&lease, node.clone())
        .await
        .expect("insert");
    assert_eq!(
        store
            .get_node_file(node.id, "submission.csv")
            .await
            .expect("get"),
        None
    );

    // Binary content round-trips exactly, including NUL and non-UTF-8 bytes.
    let first = NodeFile::inline(
        "submission.csv",
        b"Id,SalePrice\n1461,169000.1\n\x00\xff\xfe".to_vec(),
    );
    store
        .put_node_file(&lease, node.id, &first)
        .await
        .expect("put");
    assert_eq!(
        store
            .get_node_file(node.id, "submission.csv")
            .await
            .expect("get"),
        Some(first)
    );
    // Writing again (a retried write, a later attempt) replaces the content: a blob
    // replaces inline bytes, and its digest and size read back as written.
    let second = NodeFile::blob("submission.csv", Sha256Digest([7; 32]), 5_000_000_000);
    store
        .put_node_file(&lease, node.id, &second)
        .await
        .expect("replace");
    assert_eq!(
        store
            .get_node_file(node.id, "submission.csv")
            .await
            .expect("get"),
        Some(second.clone())
    );
    // Names are separate; an empty file is a file.
    let empty = NodeFile::inline("empty.txt", Vec::new());
    store
        .put_node_file(&lease, node.id, &empty)
        .await
        .expect("empty");
    assert_eq!(
        store
            .get_node_file(node.id, "empty.txt")
            .await
            .expect("get"),
        Some(empty)
    );

    assert_err!(
        store.put_node_file(&lease, NodeId::new(), &stale()).await,
        Error::NotFound { .. }
    );

    // Once another replica holds the run, the old lease writes nothing.
    store.release_lease(&lease).await.expect("release");
    let rival = store
        .claim_run("replica-b", LONG)
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(rival.run_id, lease.run_id);
    assert_err!(
        store.put_node_file(&lease, node.id, &stale()).await,
        Error::LeaseLost { .. }
    );
    assert_eq!(
        store
            .get_node_file(node.id, "submission.csv")
            .await
            .expect("get"),
        Some(second)
    );
    // A node of another run is not a node of this lease's run.
    let other_run = create(&store, "other").await;
    let other = store
        .claim_run("replica-c", Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(other.run_id, other_run.id);
    assert_err!(
        store.put_node_file(&other, node.id, &stale()).await,
        Error::NotFound { .. }
    );
}

fn stale() -> NodeFile {
    NodeFile::inline("submission.csv", b"stale".to_vec())
}
