//! Store records ↔ protocol messages: run settings both ways (with validation errors named
//! after the protocol's fields), runs with their tree statistics, nodes, events, times.

use aide_core::{Direction, MemoryScope, NodeStage, PolicyKind, RunSettings, SearchSettings};
use aide_proto::v1;
use aide_store::{EventRecord, ExecutionRecord, NodeRecord, RunRecord, RunStatus, Usage};
use chrono::{DateTime, Utc};
use tonic::Status;

use crate::outputs::{best_node, good_metric};

/// A protocol timestamp of a database time.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        // Always below 2 000 000 000 (leap seconds included), so it fits.
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(999_999_999),
    }
}

pub fn run_status(status: RunStatus) -> v1::RunStatus {
    match status {
        RunStatus::Queued => v1::RunStatus::Queued,
        RunStatus::Running => v1::RunStatus::Running,
        RunStatus::Completed => v1::RunStatus::Completed,
        RunStatus::Failed => v1::RunStatus::Failed,
        RunStatus::Cancelled => v1::RunStatus::Cancelled,
    }
}

/// The store's status filter for a protocol status; unspecified means all.
pub fn status_filter(status: v1::RunStatus) -> Option<RunStatus> {
    match status {
        v1::RunStatus::Unspecified => None,
        v1::RunStatus::Queued => Some(RunStatus::Queued),
        v1::RunStatus::Running => Some(RunStatus::Running),
        v1::RunStatus::Completed => Some(RunStatus::Completed),
        v1::RunStatus::Failed => Some(RunStatus::Failed),
        v1::RunStatus::Cancelled => Some(RunStatus::Cancelled),
    }
}

/// Run settings from a request: every absent field takes its default, then the result is
/// validated. `INVALID_ARGUMENT` names the bad field as the protocol spells it
/// (`settings.debug_prob`).
pub fn settings_from_proto(proto: Option<&v1::RunSettings>) -> Result<RunSettings, Status> {
    let mut s = RunSettings::default();
    if let Some(p) = proto {
        set(&mut s.steps, p.steps);
        set(&mut s.search.num_drafts, p.num_drafts);
        set(&mut s.search.debug_prob, p.debug_prob);
        set(&mut s.search.max_debug_depth, p.max_debug_depth);
        set(&mut s.exec_timeout_secs, p.exec_timeout_secs);
        set(&mut s.k_fold_validation, p.k_fold_validation);
        set(&mut s.data_preview, p.data_preview);
        set(&mut s.code.model, p.code_model.clone());
        set(&mut s.code.temperature, p.code_temperature);
        set(&mut s.feedback.model, p.feedback_model.clone());
        set(&mut s.feedback.temperature, p.feedback_temperature);
        set(&mut s.workers, p.workers);
        set(&mut s.seed, p.seed);
        set(&mut s.expose_prediction, p.expose_prediction);
        s.max_run_secs = p.max_run_secs;
        s.max_cost_usd = p.max_cost_usd;
        search_from_proto(&mut s.search, p)?;
    }
    if s.k_fold_validation == 0 {
        return Err(Status::invalid_argument(
            "settings.k_fold_validation: must be at least 1 (1 turns the hint off)",
        ));
    }
    if s.max_run_secs == Some(0) {
        return Err(Status::invalid_argument(
            "settings.max_run_secs: must be at least 1 second",
        ));
    }
    s.validate().map_err(|err| match err {
        aide_core::Error::InvalidSettings(message) => {
            Status::invalid_argument(format!("settings.{}", proto_field_message(&message)))
        }
        other => Status::invalid_argument(other.to_string()),
    })?;
    Ok(s)
}

/// The policy and its knobs from a request; an unknown policy or memory scope is refused.
fn search_from_proto(s: &mut SearchSettings, p: &v1::RunSettings) -> Result<(), Status> {
    let policy = v1::SearchPolicy::try_from(p.policy)
        .map_err(|_| Status::invalid_argument("settings.policy: unknown policy"))?;
    s.policy = match policy {
        v1::SearchPolicy::Unspecified | v1::SearchPolicy::Greedy => PolicyKind::Greedy,
        v1::SearchPolicy::Mcts => PolicyKind::Mcts,
        v1::SearchPolicy::Evolutionary => PolicyKind::Evolutionary,
    };
    let memory = v1::MemoryScope::try_from(p.memory)
        .map_err(|_| Status::invalid_argument("settings.memory: unknown memory scope"))?;
    s.memory = match memory {
        v1::MemoryScope::Unspecified | v1::MemoryScope::All => MemoryScope::All,
        v1::MemoryScope::Siblings => MemoryScope::Siblings,
        v1::MemoryScope::Chain => MemoryScope::Chain,
    };
    let (m, e) = (&mut s.mcts, &mut s.evolutionary);
    set(&mut m.exploration, p.mcts_exploration);
    set(&mut m.exploration_decay, p.mcts_exploration_decay);
    set(&mut m.buggy_value, p.mcts_buggy_value);
    set(&mut m.max_children, p.mcts_max_children);
    set(&mut e.islands, p.evolutionary_islands);
    set(&mut e.population, p.evolutionary_population);
    set(&mut e.tournament, p.evolutionary_tournament);
    set(&mut e.merge_prob, p.evolutionary_merge_prob);
    set(&mut e.migration_every, p.evolutionary_migration_every);
    Ok(())
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Renames the domain's nested field names (`search.debug_prob`, `code.model`) in a
/// validation message to the protocol's flat names (`debug_prob`, `code_model`).
fn proto_field_message(message: &str) -> String {
    const RENAMES: [(&str, &str); 10] = [
        ("search.mcts.", "mcts_"),
        ("search.evolutionary.", "evolutionary_"),
        ("search.evolutionary", "evolutionary"),
        ("search.num_drafts", "num_drafts"),
        ("search.debug_prob", "debug_prob"),
        ("search.max_debug_depth", "max_debug_depth"),
        ("code.model", "code_model"),
        ("code.temperature", "code_temperature"),
        ("feedback.model", "feedback_model"),
        ("feedback.temperature", "feedback_temperature"),
    ];
    for (domain, proto) in RENAMES {
        if let Some(rest) = message.strip_prefix(domain) {
            return format!("{proto}{rest}");
        }
    }
    message.to_owned()
}

/// The settings in force, every field filled in.
pub fn settings_to_proto(s: &RunSettings) -> v1::RunSettings {
    v1::RunSettings {
        steps: Some(s.steps),
        num_drafts: Some(s.search.num_drafts),
        debug_prob: Some(s.search.debug_prob),
        max_debug_depth: Some(s.search.max_debug_depth),
        exec_timeout_secs: Some(s.exec_timeout_secs),
        k_fold_validation: Some(s.k_fold_validation),
        data_preview: Some(s.data_preview),
        code_model: Some(s.code.model.clone()),
        code_temperature: Some(s.code.temperature),
        feedback_model: Some(s.feedback.model.clone()),
        feedback_temperature: Some(s.feedback.temperature),
        workers: Some(s.workers),
        seed: Some(s.seed),
        max_run_secs: s.max_run_secs,
        max_cost_usd: s.max_cost_usd,
        expose_prediction: Some(s.expose_prediction),
        policy: match s.search.policy {
            PolicyKind::Greedy => v1::SearchPolicy::Greedy,
            PolicyKind::Mcts => v1::SearchPolicy::Mcts,
            PolicyKind::Evolutionary => v1::SearchPolicy::Evolutionary,
        } as i32,
        memory: match s.search.memory {
            MemoryScope::All => v1::MemoryScope::All,
            MemoryScope::Siblings => v1::MemoryScope::Siblings,
            MemoryScope::Chain => v1::MemoryScope::Chain,
        } as i32,
        mcts_exploration: Some(s.search.mcts.exploration),
        mcts_exploration_decay: Some(s.search.mcts.exploration_decay),
        mcts_buggy_value: Some(s.search.mcts.buggy_value),
        mcts_max_children: Some(s.search.mcts.max_children),
        evolutionary_islands: Some(s.search.evolutionary.islands),
        evolutionary_population: Some(s.search.evolutionary.population),
        evolutionary_tournament: Some(s.search.evolutionary.tournament),
        evolutionary_merge_prob: Some(s.search.evolutionary.merge_prob),
        evolutionary_migration_every: Some(s.search.evolutionary.migration_every),
    }
}

fn direction(d: Option<Direction>) -> v1::MetricDirection {
    d.map_or(v1::MetricDirection::Unspecified, v1::MetricDirection::from)
}

/// A run as clients see it, with the statistics of its tree and its LLM usage.
///
/// The tree is walked in full (counts and the best node); for very large trees a stored
/// summary would be cheaper, but runs hold at most `steps` nodes.
pub fn run_to_proto(run: &RunRecord, nodes: &[NodeRecord], usage: &Usage) -> v1::Run {
    let reviewed = nodes
        .iter()
        .filter(|n| n.stage == NodeStage::Reviewed)
        .count();
    let best = best_node(run, nodes);
    let best_metric = best.and_then(good_metric).map(|value| v1::Metric {
        value,
        direction: direction(run.direction) as i32,
    });
    v1::Run {
        id: run.id.to_string(),
        name: run.name.clone(),
        status: run_status(run.status) as i32,
        stop_reason: run.stop_reason.clone().unwrap_or_default(),
        settings: Some(settings_to_proto(&run.settings)),
        task_name: run.task.name.clone(),
        direction: direction(run.direction) as i32,
        nodes: count(nodes.len()),
        reviewed: count(reviewed),
        best_node_id: best.map(|b| b.id.to_string()).unwrap_or_default(),
        best_metric,
        cost_usd: usage.cost_usd,
        usage: Some(v1::Usage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            cached_tokens: usage.cached_tokens,
        }),
        // Only a run being searched has an owner worth showing.
        owner: if run.status.is_terminal() {
            String::new()
        } else {
            run.owner.clone().unwrap_or_default()
        },
        created_at: Some(timestamp(run.created_at)),
        updated_at: Some(timestamp(run.updated_at)),
        finished_at: run.finished_at.map(timestamp),
        cancel_requested: run.cancel_requested && !run.status.is_terminal(),
        sweep_id: run.sweep_id.map(|s| s.to_string()).unwrap_or_default(),
        fork_of_node_id: run.fork_of.map(|n| n.to_string()).unwrap_or_default(),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A node as clients see it; `executions` are its attempts, `run_direction` the direction
/// in force for its run.
pub fn node_to_proto(
    node: &NodeRecord,
    executions: &[ExecutionRecord],
    run_direction: Option<Direction>,
) -> v1::Node {
    let generation = node.generation.as_ref();
    let execution = node.execution.as_ref();
    let review = node.review.as_ref();
    v1::Node {
        id: node.id.to_string(),
        run_id: node.run_id.to_string(),
        parent_id: node.parent.map(|p| p.to_string()).unwrap_or_default(),
        partner_id: node.partner.map(|p| p.to_string()).unwrap_or_default(),
        step: node.step,
        action: v1::ActionKind::from(node.action) as i32,
        stage: v1::NodeStage::from(node.stage) as i32,
        debug_depth: node.debug_depth,
        plan: generation.map(|g| g.plan.clone()).unwrap_or_default(),
        code: generation.and_then(|g| g.code.clone()).unwrap_or_default(),
        output: execution.map(|e| e.term_out.clone()).unwrap_or_default(),
        exec_time_secs: execution.map_or(0.0, |e| e.exec_time_secs),
        exc_type: execution
            .and_then(|e| e.exc_type.clone())
            .unwrap_or_default(),
        is_buggy: review.is_some_and(|r| r.is_buggy),
        bug_reasons: review
            .map(|r| r.bug_reasons.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        metric: good_metric(node).map(|value| v1::Metric {
            value,
            direction: direction(run_direction) as i32,
        }),
        summary: review.map(|r| r.summary.clone()).unwrap_or_default(),
        attempts: count(executions.len()),
        created_at: Some(timestamp(node.created_at)),
        updated_at: Some(timestamp(node.updated_at)),
    }
}

/// An event with the run snapshot sent along with it.
pub fn event_to_proto(event: &EventRecord, run: Option<v1::Run>) -> v1::RunEvent {
    v1::RunEvent {
        seq: event.seq,
        run_id: event.run_id.to_string(),
        at: Some(timestamp(event.created_at)),
        kind: event.event.kind().to_owned(),
        payload_json: event.event.payload().to_string(),
        run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_settings_take_defaults_and_round_trip() {
        let s = settings_from_proto(None).expect("defaults");
        assert_eq!(s, RunSettings::default());
        let proto = settings_to_proto(&s);
        assert_eq!(settings_from_proto(Some(&proto)).expect("same"), s);
        let partial = v1::RunSettings {
            steps: Some(7),
            code_model: Some("openai/gpt-4o".into()),
            ..Default::default()
        };
        let s = settings_from_proto(Some(&partial)).expect("partial");
        assert_eq!((s.steps, s.code.model.as_str()), (7, "openai/gpt-4o"));
        assert_eq!(s.search.num_drafts, 5);
        let evolutionary = v1::RunSettings {
            policy: v1::SearchPolicy::Evolutionary as i32,
            memory: v1::MemoryScope::Siblings as i32,
            evolutionary_islands: Some(3),
            ..Default::default()
        };
        let s = settings_from_proto(Some(&evolutionary)).expect("evolutionary");
        assert_eq!(s.search.policy, PolicyKind::Evolutionary);
        assert_eq!(s.search.memory, MemoryScope::Siblings);
        assert_eq!(s.search.evolutionary.islands, 3);
        let proto = settings_to_proto(&s);
        assert_eq!(settings_from_proto(Some(&proto)).expect("same"), s);
    }

    #[test]
    fn invalid_settings_name_the_protocol_field() {
        for (settings, field) in [
            (
                v1::RunSettings {
                    debug_prob: Some(2.0),
                    ..Default::default()
                },
                "settings.debug_prob",
            ),
            (
                v1::RunSettings {
                    feedback_temperature: Some(f64::NAN),
                    ..Default::default()
                },
                "settings.feedback_temperature",
            ),
            (
                v1::RunSettings {
                    steps: Some(0),
                    ..Default::default()
                },
                "settings.steps",
            ),
            (
                v1::RunSettings {
                    k_fold_validation: Some(0),
                    ..Default::default()
                },
                "settings.k_fold_validation",
            ),
            (
                v1::RunSettings {
                    mcts_max_children: Some(0),
                    ..Default::default()
                },
                "settings.mcts_max_children",
            ),
            (
                v1::RunSettings {
                    evolutionary_tournament: Some(9),
                    ..Default::default()
                },
                "settings.evolutionary_tournament",
            ),
            (
                v1::RunSettings {
                    policy: 42,
                    ..Default::default()
                },
                "settings.policy",
            ),
        ] {
            let status = settings_from_proto(Some(&settings)).expect_err("invalid");
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(status.message().starts_with(field), "{}", status.message());
        }
    }

    #[test]
    fn timestamps_keep_sub_second_precision() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
            .expect("time")
            .with_timezone(&Utc);
        let ts = timestamp(at);
        assert_eq!((ts.seconds, ts.nanos), (at.timestamp(), 123_456_000));
    }
}
