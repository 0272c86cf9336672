//! Row decoding, written once for both backends: [`DbRow`] reads one column the way its
//! backend stores it (ids, times and JSON differ: `uuid`/`timestamptz`/`jsonb` on Postgres,
//! text/integer milliseconds/text on SQLite), and one function per record type builds the
//! record from any backend's row. Columns are read by name, so statements may return more
//! columns than a record needs (`RETURNING *`).

use aide_core::access::ProjectName;
use aide_core::sweep::SweepId;
use aide_core::sweep::definition::{CellKey, SweepBudget};
use aide_core::{Direction, LlmPurpose, NodeId, NodeStage, RunEvent, RunId};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use sqlx::{Decode, Postgres, Sqlite, Type};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::sweeps::{CellCounts, CellRecord, GradingClaim, SweepRecord};
use crate::types::{
    CallUsage, EventRecord, ExecutionRecord, ExecutionResult, ExecutionStatus, ExecutionSummary,
    Generation, Lease, LeaseStatus, LlmCallRecord, NodeFile, NodeFileBody, NodeRecord,
    ProjectRecord, PromptSize, Review, RunCounts, RunRecord, RunSignals, RunnerInfo, RunnerLoad,
    RunnerRecord, TokenRecord, Usage, from_json, parse_action, parse_direction, parse_exec_status,
    parse_stage, parse_status, seed_from_db, to_u64,
};

/// A Rust value both backends decode from their column the same way: text, booleans,
/// floats, `i32` from `integer` and `i64` from `bigint` columns, and options of those.
pub(crate) trait Plain:
    for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}

impl<T> Plain for T where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres> + for<'r> Decode<'r, Sqlite> + Type<Sqlite>
{
}

/// One result row of either backend, read column by column.
pub(crate) trait DbRow {
    /// A column whose value decodes the same on both backends.
    fn value<T: Plain>(&self, col: &str) -> Result<T>;

    /// A non-negative count stored as a 32-bit `integer` on Postgres.
    fn count(&self, col: &str) -> Result<u32>;

    fn opt_id(&self, col: &str) -> Result<Option<Uuid>>;

    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>>;

    fn opt_json(&self, col: &str) -> Result<Option<serde_json::Value>>;

    fn id(&self, col: &str) -> Result<Uuid> {
        self.opt_id(col)?.ok_or_else(|| null(col))
    }

    fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        self.opt_time(col)?.ok_or_else(|| null(col))
    }

    fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T> {
        from_json(self.opt_json(col)?.ok_or_else(|| null(col))?, col)
    }

    /// A `bigint` column that holds a non-negative number.
    fn unsigned(&self, col: &str) -> Result<u64> {
        to_u64(self.value(col)?, col)
    }

    /// A nullable column whose `NULL` means the type's default (`false`, `0`, `""`).
    fn or_default<T: Plain + Default>(&self, col: &str) -> Result<T> {
        Ok(self.value::<Option<T>>(col)?.unwrap_or_default())
    }
}

fn null(col: &str) -> Error {
    Error::corrupt(format!("{col} is unexpectedly null"))
}

pub(crate) fn run(row: &impl DbRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: RunId(row.id("id")?),
        project: project_name(row, "project")?,
        name: row.value("name")?,
        task: row.json("task")?,
        settings: row.json("settings")?,
        direction: parse_direction(row.value("direction")?)?,
        seed: seed_from_db(row.value("seed")?),
        status: parse_status(&row.value::<String>("status")?)?,
        stop_reason: row.value("stop_reason")?,
        owner: row.value("owner")?,
        epoch: row.unsigned("epoch")?,
        lease_expires_at: row.opt_time("lease_expires_at")?,
        cancel_requested: row.value("cancel_requested")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        finished_at: row.opt_time("finished_at")?,
        sweep_id: row.opt_id("sweep_id")?.map(SweepId),
        last_event_seq: row.unsigned("last_event_seq")?,
        steered_seq: row.unsigned("steered_seq")?,
        fork_of: row.opt_id("fork_of")?.map(NodeId),
    })
}

/// The lease a claim returned (`id`, `epoch`) for `owner`.
pub(crate) fn lease(row: &impl DbRow, owner: &str) -> Result<Lease> {
    Ok(Lease {
        run_id: RunId(row.id("id")?),
        owner: owner.to_owned(),
        epoch: row.unsigned("epoch")?,
    })
}

/// The direction in force after fixing it.
pub(crate) fn fixed_direction(row: &impl DbRow) -> Result<Direction> {
    parse_direction(row.value("direction")?)?
        .ok_or_else(|| Error::corrupt("direction is unset after fixing it"))
}

pub(crate) fn signals(row: &impl DbRow) -> Result<RunSignals> {
    Ok(RunSignals {
        run: RunId(row.id("id")?),
        cancel_requested: row.value("cancel_requested")?,
        steered_seq: row.unsigned("steered_seq")?,
    })
}

pub(crate) fn lease_status(row: &impl DbRow) -> Result<LeaseStatus> {
    Ok(LeaseStatus {
        expires_at: row.time("lease_expires_at")?,
        cancel_requested: row.value("cancel_requested")?,
    })
}

pub(crate) fn node(row: &impl DbRow) -> Result<NodeRecord> {
    let stage = parse_stage(&row.value::<String>("stage")?)?;
    Ok(NodeRecord {
        id: NodeId(row.id("id")?),
        run_id: RunId(row.id("run_id")?),
        parent: row.opt_id("parent_id")?.map(NodeId),
        partner: row.opt_id("partner_id")?.map(NodeId),
        action: parse_action(&row.value::<String>("action")?)?,
        step: row.count("step")?,
        debug_depth: row.count("debug_depth")?,
        stage,
        generation: (stage >= NodeStage::Generated)
            .then(|| generation(row))
            .transpose()?,
        execution: execution_summary(row)?,
        review: (stage == NodeStage::Reviewed)
            .then(|| review(row))
            .transpose()?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn generation(row: &impl DbRow) -> Result<Generation> {
    Ok(Generation {
        plan: row.or_default("plan")?,
        code: row.value("code")?,
        raw_reply: row.value("raw_reply")?,
    })
}

/// Present once the node was executed (its terminal output is set).
fn execution_summary(row: &impl DbRow) -> Result<Option<ExecutionSummary>> {
    let Some(term_out) = row.value::<Option<String>>("term_out")? else {
        return Ok(None);
    };
    Ok(Some(ExecutionSummary {
        term_out,
        exit_code: row.value("exit_code")?,
        exec_time_secs: row.or_default("exec_time_secs")?,
        timed_out: row.or_default("timed_out")?,
        exc_type: row.value("exc_type")?,
        exc_info: row
            .opt_json("exc_info")?
            .map(|v| from_json(v, "exc_info"))
            .transpose()?,
        wrote_submission: row.or_default("wrote_submission")?,
    }))
}

fn review(row: &impl DbRow) -> Result<Review> {
    Ok(Review {
        is_buggy: row.or_default("is_buggy")?,
        bug_reasons: match row.opt_json("bug_reasons")? {
            Some(reasons) => from_json(reasons, "bug_reasons")?,
            None => Vec::new(),
        },
        metric: row.value("metric")?,
        summary: row.or_default("summary")?,
    })
}

pub(crate) fn execution(row: &impl DbRow) -> Result<ExecutionRecord> {
    let status = parse_exec_status(&row.value::<String>("status")?)?;
    Ok(ExecutionRecord {
        node_id: NodeId(row.id("node_id")?),
        run_id: RunId(row.id("run_id")?),
        attempt: row.count("attempt")?,
        status,
        started_at: row.time("started_at")?,
        finished_at: row.opt_time("finished_at")?,
        result: (status == ExecutionStatus::Finished)
            .then(|| execution_result(row))
            .transpose()?,
        abandon_reason: row.value("abandon_reason")?,
    })
}

fn execution_result(row: &impl DbRow) -> Result<ExecutionResult> {
    Ok(ExecutionResult {
        exit_code: row.value("exit_code")?,
        timed_out: row.or_default("timed_out")?,
        oom_killed: row.or_default("oom_killed")?,
        wall_secs: row.or_default("wall_secs")?,
        cpu_secs: row.value("cpu_secs")?,
        peak_memory_bytes: row
            .value::<Option<i64>>("peak_memory_bytes")?
            .map(|v| to_u64(v, "peak_memory_bytes"))
            .transpose()?,
        output: row.or_default("output")?,
        output_bytes: to_u64(row.or_default("output_bytes")?, "output_bytes")?,
        exc_type: row.value("exc_type")?,
        exc_message: row.value("exc_message")?,
        runner_id: row.value("runner_id")?,
    })
}

pub(crate) fn usage(row: &impl DbRow) -> Result<Usage> {
    Ok(Usage {
        calls: row.unsigned("calls")?,
        prompt_tokens: row.unsigned("prompt_tokens")?,
        completion_tokens: row.unsigned("completion_tokens")?,
        cached_tokens: row.unsigned("cached_tokens")?,
        cost_usd: row.value("cost_usd")?,
    })
}

pub(crate) fn llm_call(row: &impl DbRow) -> Result<LlmCallRecord> {
    let purpose: String = row.value("purpose")?;
    Ok(LlmCallRecord {
        id: row.value("id")?,
        node_id: row.opt_id("node_id")?.map(NodeId),
        purpose: LlmPurpose::parse(&purpose)
            .ok_or_else(|| Error::corrupt(format!("unknown LLM call purpose {purpose:?}")))?,
        usage: CallUsage {
            provider: row.value("provider")?,
            model: row.value("model")?,
            prompt_tokens: row.unsigned("prompt_tokens")?,
            completion_tokens: row.unsigned("completion_tokens")?,
            cached_tokens: row.unsigned("cached_tokens")?,
            cost_usd: row.value("cost_usd")?,
            latency_ms: row.unsigned("latency_ms")?,
            request_id: row.value("request_id")?,
            cached: row.value("cached")?,
        },
        prompt: prompt_size(row)?,
        created_at: row.time("created_at")?,
    })
}

/// The measured prompt size of a ledger row; `None` for rows from before it was measured.
fn prompt_size(row: &impl DbRow) -> Result<Option<PromptSize>> {
    let chars = row.value::<Option<i64>>("prompt_chars")?;
    let tokens = row.value::<Option<i64>>("prompt_tokens_counted")?;
    let (Some(chars), Some(tokens)) = (chars, tokens) else {
        return Ok(None);
    };
    Ok(Some(PromptSize {
        chars: to_u64(chars, "prompt chars")?,
        tokens: to_u64(tokens, "counted prompt tokens")?,
    }))
}

pub(crate) fn event(row: &impl DbRow) -> Result<EventRecord> {
    Ok(EventRecord {
        run_id: RunId(row.id("run_id")?),
        seq: row.unsigned("seq")?,
        event: RunEvent::from_parts(&row.value::<String>("kind")?, row.json("payload")?),
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn runner(row: &impl DbRow) -> Result<RunnerRecord> {
    Ok(RunnerRecord {
        info: RunnerInfo {
            id: row.value("id")?,
            address: row.value("address")?,
            slots: row.count("slots")?,
            labels: row.json("labels")?,
        },
        load: RunnerLoad {
            free_slots: row.count("free_slots")?,
            running: row.count("running")?,
            cpu_load: row.value("cpu_load")?,
            memory_load: row.value("memory_load")?,
            cache_bytes: row
                .value::<Option<i64>>("cache_bytes")?
                .map(|b| to_u64(b, "cache bytes"))
                .transpose()?,
        },
        registered_at: row.time("registered_at")?,
        last_heartbeat_at: row.time("last_heartbeat_at")?,
    })
}

/// A `node_files` row: its bytes inline (`content`) or a blob (`digest`), never both.
pub(crate) fn node_file(row: &impl DbRow) -> Result<NodeFile> {
    let name: String = row.value("name")?;
    let size = row.unsigned("size")?;
    let digest: Option<String> = row.value("digest")?;
    let content: Option<Vec<u8>> = row.value("content")?;
    let body = match (digest, content) {
        (Some(hex), None) => NodeFileBody::Blob(
            hex.parse()
                .map_err(|e| Error::corrupt(format!("node file {name}: digest {hex:?}: {e}")))?,
        ),
        (None, Some(bytes)) => NodeFileBody::Inline(bytes),
        _ => {
            return Err(Error::corrupt(format!(
                "node file {name} has both or neither of content and digest"
            )));
        }
    };
    Ok(NodeFile { name, size, body })
}

/// A column holding a project's name.
fn project_name(row: &impl DbRow, col: &str) -> Result<ProjectName> {
    let name: String = row.value(col)?;
    name.parse()
        .map_err(|e| Error::corrupt(format!("{col}: {e}")))
}

pub(crate) fn project(row: &impl DbRow) -> Result<ProjectRecord> {
    Ok(ProjectRecord {
        name: project_name(row, "name")?,
        created_at: row.time("created_at")?,
    })
}

pub(crate) fn token(row: &impl DbRow) -> Result<TokenRecord> {
    let role: String = row.value("role")?;
    Ok(TokenRecord {
        id: row.id("id")?,
        project: project_name(row, "project")?,
        role: role
            .parse()
            .map_err(|e| Error::corrupt(format!("role: {e}")))?,
        label: row.value("label")?,
        bootstrap: row.value("bootstrap")?,
        created_at: row.time("created_at")?,
        expires_at: row.opt_time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
    })
}

/// A node's `stage` and whether it `has_code`.
pub(crate) fn stage(row: &impl DbRow) -> Result<(NodeStage, bool)> {
    Ok((
        parse_stage(&row.value::<String>("stage")?)?,
        row.value("has_code")?,
    ))
}

/// A sweep row with its cell counts.
pub(crate) fn sweep(row: &impl DbRow, cells: CellCounts) -> Result<SweepRecord> {
    let status: String = row.value("status")?;
    let wall_clock: Option<i64> = row.value("wall_clock_secs")?;
    Ok(SweepRecord {
        id: SweepId(row.id("id")?),
        project: project_name(row, "project")?,
        name: row.value("name")?,
        definition: row.json("definition")?,
        status: status.parse().map_err(Error::corrupt)?,
        stop_reason: row.value("stop_reason")?,
        budget: SweepBudget {
            cost_usd: row.value("cost_limit_usd")?,
            wall_clock_secs: wall_clock
                .map(|s| to_u64(s, "wall_clock_secs"))
                .transpose()?,
            cells_at_once: Some(row.count("cells_at_once")?),
        },
        cells,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        finished_at: row.opt_time("finished_at")?,
    })
}

/// The cells of a sweep per state, from `status, cells` rows.
pub(crate) fn cell_counts(rows: &[impl DbRow]) -> Result<CellCounts> {
    let mut counts = CellCounts::default();
    for row in rows {
        let status: String = row.value("status")?;
        let n: i64 = row.value("cells")?;
        counts.add(
            status.parse().map_err(Error::corrupt)?,
            n.max(0).unsigned_abs(),
        );
    }
    Ok(counts)
}

/// Rows of `status` and `runs` (a count).
pub(crate) fn run_counts(rows: &[impl DbRow]) -> Result<RunCounts> {
    let mut counts = RunCounts::default();
    for row in rows {
        let status: String = row.value("status")?;
        let n: i64 = row.value("runs")?;
        counts.add(parse_status(&status)?, n.max(0).unsigned_abs());
    }
    Ok(counts)
}

/// A cell row joined with its run's times and spending.
pub(crate) fn cell(row: &impl DbRow) -> Result<CellRecord> {
    let status: String = row.value("status")?;
    Ok(CellRecord {
        sweep_id: SweepId(row.id("sweep_id")?),
        index: row.count("idx")?,
        key: cell_key(row)?,
        status: status.parse().map_err(Error::corrupt)?,
        run_id: row.opt_id("run_id")?.map(RunId),
        attempts: row.count("attempts")?,
        grade: row
            .opt_json("grade")?
            .map(|g| from_json(g, "grade"))
            .transpose()?,
        cause: row.value("cause")?,
        cost_usd: row.value("cost_usd")?,
        started_at: row.opt_time("run_created_at")?,
        finished_at: row.opt_time("run_finished_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A cell's place in its sweep's definition (`task_idx`, `arm_idx`, `seed`).
pub(crate) fn cell_key(row: &impl DbRow) -> Result<CellKey> {
    Ok(CellKey {
        task: row.count("task_idx")?,
        arm: row.count("arm_idx")?,
        seed: seed_from_db(row.value("seed")?),
    })
}

/// A grading claim row for `owner`.
pub(crate) fn grading_claim(row: &impl DbRow, owner: &str) -> Result<GradingClaim> {
    Ok(GradingClaim {
        sweep_id: SweepId(row.id("sweep_id")?),
        index: row.count("idx")?,
        key: cell_key(row)?,
        run_id: RunId(row.id("run_id")?),
        owner: owner.to_owned(),
        epoch: row.count("grading_epoch")?,
    })
}
