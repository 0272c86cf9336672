//! The audit trail (ARCHITECTURE §10): who created, cancelled and exported a run, appended
//! to the run's own event log with the caller's token, project and role. Cancels and exports
//! are recorded before they act, so none goes unrecorded; a creation is recorded once the run
//! exists, and a failure to record it is logged (the run is not undone).

use aide_core::event::{Audited, RunExported};
use aide_core::{RunEvent, RunId};
use aide_store::Store;
use tonic::Status;

use super::store_status;
use crate::access::Caller;

pub(super) async fn created<S: Store>(store: &S, caller: &Caller, run_id: RunId) {
    let event = RunEvent::RunCreated(Audited { by: caller.actor() });
    if let Err(e) = store.append_event(run_id, &event).await {
        tracing::error!(%run_id, error = %e, "cannot record who created the run");
    }
}

pub(super) async fn cancel_requested<S: Store>(
    store: &S,
    caller: &Caller,
    run_id: RunId,
) -> Result<(), Status> {
    let event = RunEvent::CancelRequested(Audited { by: caller.actor() });
    store
        .append_event(run_id, &event)
        .await
        .map(drop)
        .map_err(store_status)
}

pub(super) async fn exported<S: Store>(
    store: &S,
    caller: &Caller,
    run_id: RunId,
    format: &str,
) -> Result<(), Status> {
    let event = RunEvent::RunExported(RunExported {
        by: caller.actor(),
        format: format.to_owned(),
    });
    store
        .append_event(run_id, &event)
        .await
        .map(drop)
        .map_err(store_status)
}
