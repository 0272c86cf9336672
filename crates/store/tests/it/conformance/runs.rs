//! Conformance: runs (create, get, list, cancel) and leases (claim, renew, release,
//! finish, fix the direction).

use std::sync::Arc;
use std::time::Duration;

use aide_core::{Direction, RunId};
use aide_store::prelude::*;
use aide_store::{Error, RunFilter, RunStatus};

use super::{Harness, LONG, claimed, create, draft, new_run};
use crate::assert_err;

pub async fn runs_create_get_list<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let input = new_run("first");
    let run = store.create_run(input.clone()).await.expect("create");
    assert_eq!(run.name, "first");
    assert_eq!(run.task, input.task);
    assert_eq!(run.settings, input.settings);
    assert_eq!(run.seed, input.seed, "u64 seeds survive the signed column");
    assert_eq!(run.direction, None);
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(
        (run.owner.as_deref(), run.epoch, run.lease_expires_at),
        (None, 0, None)
    );
    assert!(!run.cancel_requested);
    assert_eq!(run.finished_at, None);
    assert_eq!(run.stop_reason, None);
    assert!(run.updated_at >= run.created_at);

    let fetched = store.get_run(run.id).await.expect("get");
    assert_eq!(fetched, run);
    assert_err!(
        store.get_run(RunId::new()).await,
        Error::NotFound { what: "run", .. }
    );

    let mut with_direction = new_run("second");
    with_direction.direction = Some(Direction::Maximize);
    let second = store
        .create_run(with_direction)
        .await
        .expect("create second");
    assert_eq!(second.direction, Some(Direction::Maximize));
    let third = create(&store, "third").await;

    let all = store.list_runs(RunFilter::default()).await.expect("list");
    let ids: Vec<RunId> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![third.id, second.id, run.id], "newest first");

    let two = store
        .list_runs(RunFilter {
            status: None,
            limit: 2,
            ..RunFilter::default()
        })
        .await
        .expect("list limited");
    assert_eq!(two.len(), 2);

    let lease = store
        .claim_run("replica-a", LONG)
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(lease.run_id, run.id, "the oldest run is claimed first");
    let running = store
        .list_runs(RunFilter {
            status: Some(RunStatus::Running),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        running.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![run.id]
    );
    let counts = store.count_runs().await.expect("count runs");
    assert_eq!((counts.queued, counts.running, counts.completed), (2, 1, 0));
    assert_eq!(counts.of(RunStatus::Queued), 2);
    let queued = store
        .list_runs(RunFilter {
            status: Some(RunStatus::Queued),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        queued.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![third.id, second.id]
    );
    let done = store
        .list_runs(RunFilter {
            status: Some(RunStatus::Completed),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert!(done.is_empty());
}

pub async fn lease_claim_renew_release<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    assert_eq!(
        store.claim_run("replica-a", LONG).await.expect("claim"),
        None,
        "nothing to claim"
    );

    let run = create(&store, "leased").await;
    let lease = store
        .claim_run("replica-a", Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(
        (lease.run_id, lease.owner.as_str(), lease.epoch),
        (run.id, "replica-a", 1)
    );
    let record = store.get_run(run.id).await.expect("get");
    assert_eq!(record.status, RunStatus::Running);
    assert_eq!(record.owner.as_deref(), Some("replica-a"));
    assert_eq!(record.epoch, 1);
    let first_expiry = record.lease_expires_at.expect("lease expiry");
    assert!(first_expiry > record.created_at);

    assert_eq!(
        store.claim_run("replica-b", LONG).await.expect("claim"),
        None,
        "a live lease is not claimable"
    );

    let renewed = store
        .renew_lease(&lease, Duration::from_secs(600))
        .await
        .expect("renew");
    assert!(
        renewed.expires_at > first_expiry,
        "renewal extends the lease"
    );
    assert!(!renewed.cancel_requested);
    assert_eq!(
        store.get_run(run.id).await.expect("get").lease_expires_at,
        Some(renewed.expires_at)
    );

    let forged = aide_store::Lease {
        owner: "replica-b".into(),
        ..lease.clone()
    };
    assert_err!(
        store.renew_lease(&forged, LONG).await,
        Error::LeaseLost { .. }
    );
    let old_epoch = aide_store::Lease {
        epoch: 0,
        ..lease.clone()
    };
    assert_err!(
        store.renew_lease(&old_epoch, LONG).await,
        Error::LeaseLost { .. }
    );

    store.release_lease(&lease).await.expect("release");
    let released = store.get_run(run.id).await.expect("get");
    assert_eq!(
        (
            released.status,
            released.owner.as_deref(),
            released.lease_expires_at
        ),
        (RunStatus::Running, None, None)
    );
    assert_err!(store.release_lease(&lease).await, Error::LeaseLost { .. });
    assert_err!(
        store.renew_lease(&lease, LONG).await,
        Error::LeaseLost { .. }
    );

    let again = store
        .claim_run("replica-b", LONG)
        .await
        .expect("claim")
        .expect("released run is claimable");
    assert_eq!(
        (again.run_id, again.owner.as_str(), again.epoch),
        (run.id, "replica-b", 2)
    );
    assert_err!(
        store.insert_node(&lease, draft(0)).await,
        Error::LeaseLost { .. }
    );
    store
        .insert_node(&again, draft(0))
        .await
        .expect("the new owner writes");
}

pub async fn lease_expiry_makes_run_claimable<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let run = create(&store, "expiring").await;
    let lease = store
        .claim_run("replica-a", Duration::from_millis(50))
        .await
        .expect("claim")
        .expect("claimable");
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Expired but not yet claimed by anyone: the epoch still fences, so the owner may renew.
    store
        .renew_lease(&lease, Duration::from_millis(50))
        .await
        .expect("renew after expiry, before a rival claim");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let taken = store
        .claim_run("replica-b", LONG)
        .await
        .expect("claim")
        .expect("expired lease is claimable");
    assert_eq!((taken.run_id, taken.epoch), (run.id, 2));
    assert_err!(
        store.renew_lease(&lease, LONG).await,
        Error::LeaseLost { .. }
    );
}

pub async fn finish_run_ends_the_lease<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "finishing").await;
    for status in [RunStatus::Queued, RunStatus::Running] {
        assert_err!(
            store.finish_run(&lease, status, "nope").await,
            Error::InvalidState(_)
        );
    }
    let done = store
        .finish_run(&lease, RunStatus::Completed, "all 20 steps done")
        .await
        .expect("finish");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.stop_reason.as_deref(), Some("all 20 steps done"));
    assert!(done.finished_at.is_some());
    assert_eq!(done.lease_expires_at, None);
    assert_eq!(store.get_run(lease.run_id).await.expect("get"), done);

    assert_eq!(
        store.claim_run("replica-b", LONG).await.expect("claim"),
        None,
        "finished runs are not claimable"
    );
    assert_err!(
        store.finish_run(&lease, RunStatus::Failed, "again").await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        store.renew_lease(&lease, LONG).await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        store.insert_node(&lease, draft(0)).await,
        Error::LeaseLost { .. }
    );
    assert_err!(
        store.fix_direction(&lease, Direction::Minimize).await,
        Error::LeaseLost { .. }
    );

    for status in [RunStatus::Failed, RunStatus::Cancelled] {
        let lease = claimed(&store, status.as_str()).await;
        let done = store
            .finish_run(&lease, status, "stopped")
            .await
            .expect("finish");
        assert_eq!(done.status, status);
    }
}

pub async fn fix_direction_never_flips<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let lease = claimed(&store, "direction").await;
    assert_eq!(
        store
            .fix_direction(&lease, Direction::Maximize)
            .await
            .expect("fix"),
        Direction::Maximize
    );
    assert_eq!(
        store
            .fix_direction(&lease, Direction::Minimize)
            .await
            .expect("fix"),
        Direction::Maximize
    );
    assert_eq!(
        store.get_run(lease.run_id).await.expect("get").direction,
        Some(Direction::Maximize)
    );
    store
        .finish_run(&lease, RunStatus::Completed, "done")
        .await
        .expect("finish");

    let mut preset = new_run("preset");
    preset.direction = Some(Direction::Minimize);
    let run = store.create_run(preset).await.expect("create");
    let lease = store
        .claim_run("replica-a", LONG)
        .await
        .expect("claim")
        .expect("claimable");
    assert_eq!(lease.run_id, run.id);
    assert_eq!(
        store
            .fix_direction(&lease, Direction::Maximize)
            .await
            .expect("fix"),
        Direction::Minimize
    );
}

pub async fn cancel_requests<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    // A queued run is cancelled at once and never claimed.
    let queued = create(&store, "queued").await;
    let cancelled = store.request_cancel(queued.id).await.expect("cancel");
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert!(
        cancelled.cancel_requested
            && cancelled.finished_at.is_some()
            && cancelled.stop_reason.is_some()
    );
    assert_eq!(
        store.claim_run("replica-a", LONG).await.expect("claim"),
        None
    );
    assert_err!(
        store.request_cancel(queued.id).await,
        Error::InvalidState(_)
    );

    // A running run is flagged; the owner learns it from the next renewal.
    let lease = claimed(&store, "running").await;
    assert!(!store.cancel_requested(lease.run_id).await.expect("read"));
    let flagged = store.request_cancel(lease.run_id).await.expect("cancel");
    assert_eq!(flagged.status, RunStatus::Running);
    assert!(flagged.cancel_requested);
    assert!(store.cancel_requested(lease.run_id).await.expect("read"));
    let other = create(&store, "not cancelled").await;
    let signals = store
        .run_signals(&[other.id, lease.run_id, RunId::new()])
        .await
        .expect("read many");
    let flagged: Vec<RunId> = signals
        .iter()
        .filter(|s| s.cancel_requested)
        .map(|s| s.run)
        .collect();
    assert_eq!(flagged, [lease.run_id]);
    assert!(store.run_signals(&[]).await.expect("none").is_empty());
    assert_err!(
        store.cancel_requested(RunId::new()).await,
        Error::NotFound { .. }
    );
    let status = store.renew_lease(&lease, LONG).await.expect("renew");
    assert!(status.cancel_requested);
    let done = store
        .finish_run(&lease, RunStatus::Cancelled, "cancelled by the user")
        .await
        .expect("finish");
    assert_eq!(done.status, RunStatus::Cancelled);
    assert_err!(
        store.request_cancel(lease.run_id).await,
        Error::InvalidState(_)
    );

    assert_err!(
        store.request_cancel(RunId::new()).await,
        Error::NotFound { .. }
    );
}

pub async fn connect_by_url<H: Harness>(h: Arc<H>) {
    let store = h.open().await;
    let run = create(&store, "by-url").await;
    let any = aide_store::connect(&h.url()).await.expect("connect by URL");
    assert_eq!(
        any.get_run(run.id).await.expect("get through AnyStore"),
        run
    );
    let lease = any
        .claim_run("replica-any", LONG)
        .await
        .expect("claim")
        .expect("claimable");
    any.insert_node(&lease, draft(0))
        .await
        .expect("insert through AnyStore");
    assert_eq!(store.load_tree(run.id).await.expect("tree").len(), 1);
    any.close().await;
    assert_err!(
        aide_store::connect("mysql://localhost/db").await,
        Error::InvalidArgument(_)
    );
}
