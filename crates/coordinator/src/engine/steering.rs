//! The owner's side of steering (ARCHITECTURE §14): directives given while the run goes on
//! are read from the log after the newest one taken in, in order, when the signal watch
//! says there are new ones ([`take_new`]); and a fork's first node gets the forked node's
//! code instead of a draft from the author ([`fork_generation`]).

use aide_core::steer::Directive;
use aide_core::{Action, NodeStage, RunEvent};
use aide_store::{Generation, NodeRecord, Store};
use tracing::{info, warn};

use super::budget::Budget;
use super::events::PAGE;
use super::retry::Failure;
use super::state::RunState;

/// Takes in the directives recorded after the newest one `state` has, in order; returns
/// how many were new. A budget directive retargets `budget`.
pub async fn take_new<S: Store>(
    store: &S,
    state: &mut RunState,
    budget: &mut Budget,
) -> Result<usize, aide_store::Error> {
    let run_id = state.run.id;
    let mut taken = 0;
    let mut after = state.steering.through();
    loop {
        let page = store.events_after(run_id, after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(taken);
        };
        after = last.seq;
        let full = page.len() == PAGE as usize;
        for record in page {
            let RunEvent::Steered(steered) = &record.event else {
                continue;
            };
            let Some(directive) = state.steer(record.seq, steered) else {
                continue;
            };
            taken += 1;
            info!(seq = record.seq, directive = directive.name(), by = %steered.by.token_id,
                "directive taken in");
            if let Directive::Budget { .. } = directive {
                budget.retarget(&state.run.settings);
            }
        }
        if !full {
            return Ok(taken);
        }
    }
}

/// The generation a forked run's first node starts from: the forked node's plan and code,
/// when `record` is that node (the run's pending draft at step 0) and the forked node still
/// has code. `None` otherwise: the author drafts as usual.
pub async fn fork_generation<S: Store>(
    store: &S,
    state: &RunState,
    record: &NodeRecord,
) -> Result<Option<Generation>, Failure> {
    let Some(source) = state.run.fork_of else {
        return Ok(None);
    };
    if record.step != 0 || record.action != Action::Draft || record.stage != NodeStage::Pending {
        return Ok(None);
    }
    let node = match store.get_node(source).await {
        Ok(node) => node,
        Err(aide_store::Error::NotFound { .. }) => {
            warn!(%source, "the forked node is gone: the first node is drafted instead");
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let Some(generation) = node.generation.filter(|g| g.code.is_some()) else {
        warn!(%source, "the forked node has no code: the first node is drafted instead");
        return Ok(None);
    };
    let plan = format!(
        "Forked from node {source} of run {}. {}",
        node.run_id,
        generation.plan.trim()
    );
    Ok(Some(Generation {
        plan: plan.trim_end().to_owned(),
        code: generation.code,
        raw_reply: None,
    }))
}
