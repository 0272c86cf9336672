//! One node carried from its last persisted stage to `reviewed`: generate (author call,
//! parse), execute (attempts on a runner, each fenced by its attempt number), review
//! (forced `submit_review`, fixed direction, metric cross-check, §4 verdict). Every
//! transition is persisted before the next begins, so a new owner resumes exactly there.

use std::sync::Arc;
use std::time::Duration;

use aide_core::event::InfraRetry;
use aide_core::{
    BugReason, Direction, ExceptionInfo, ExecutionFacts, NodeId, NodeStage, Review as ReviewArgs,
    RunEvent, Verdict, metric::cross_check, parse_reply,
};
use aide_store::{
    ExecutionResult, ExecutionSummary, Generation, Lease, NewLlmCall, NodeFile, NodeRecord,
    PromptSize, Review, Store,
};

use super::events;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::context::{RunInfo, review_request, script_run};
use super::ports::{Answer, Author, AuthorReply, AuthorRequest, Executed, Executor};
use super::retry::{Backoff, Failure, Fatal, retrying};
use super::{EventHook, TaskFilesPort};

/// What every node task of one run shares.
#[derive(Debug)]
pub(super) struct RunCtx<S, A, E> {
    pub store: Arc<S>,
    pub author: Arc<A>,
    pub executor: Arc<E>,
    /// Where task bundles are read and node files kept.
    pub files: TaskFilesPort,
    pub info: RunInfo,
    pub lease: Lease,
    pub backoff: Backoff,
    /// Cancelled when the run loop must stop (shutdown, cancel request, lease lost).
    pub stop: CancellationToken,
    pub on_event: Option<EventHook>,
    pub metrics: Arc<aide_telemetry::Metrics>,
}

/// A node to carry forward, with the code request prepared when it is still pending.
#[derive(Debug)]
pub(super) struct NodeJob {
    pub record: NodeRecord,
    pub code_request: Option<AuthorRequest>,
    /// The run's direction when the job was made (`None` until fixed).
    pub direction: Option<Direction>,
}

/// A reviewed node.
#[derive(Debug)]
pub(super) struct NodeOutcome {
    pub record: NodeRecord,
    /// The run's direction, possibly fixed by this node's review.
    pub direction: Option<Direction>,
    /// The submission file the execution wrote, when it did.
    pub submission: Option<Vec<u8>>,
}

impl<S: Store, A: Author, E: Executor> RunCtx<S, A, E> {
    /// Tells this replica's watchers that the run has a new event.
    pub fn notify(&self) {
        if let Some(hook) = &self.on_event {
            (hook.0)(self.lease.run_id);
        }
    }

    /// Appends a run event (retried like every store write) and notifies.
    pub async fn event(&self, event: RunEvent) -> Result<(), Failure> {
        let run_id = self.lease.run_id;
        self.persist(event.kind(), None, || {
            self.store.append_event(run_id, &event)
        })
        .await?;
        self.notify();
        Ok(())
    }

    /// Records an infrastructure retry (best effort) and logs it; false when the event could
    /// not be written (the database is the service that is down).
    pub async fn note_retry(
        &self,
        what: &str,
        node: Option<&NodeRecord>,
        retry: u32,
        why: &str,
        wait: Duration,
    ) -> bool {
        warn!(
            what,
            retry,
            error = why,
            ?wait,
            "infrastructure failure, retrying"
        );
        self.metrics.inc(&crate::metrics::INFRA_RETRIES, &[]);
        let event = RunEvent::InfraRetry(InfraRetry {
            node_id: node.map(|n| n.id),
            step: node.map(|n| n.step),
            what: what.to_owned(),
            retry,
            error: why.to_owned(),
            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        });
        let recorded = match self.store.append_event(self.lease.run_id, &event).await {
            Ok(_) => true,
            Err(e) => {
                warn!(error = %e, "cannot record the infra_retry event");
                false
            }
        };
        self.notify();
        recorded
    }

    /// A store write or read, retried while the database is unreachable.
    pub async fn persist<T, F, Fut>(
        &self,
        what: &str,
        node: impl Into<Option<&NodeRecord>>,
        mut op: F,
    ) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = aide_store::Result<T>>,
    {
        let node = node.into();
        // The last retry whose event the database (down at the time) did not take: written
        // once the operation went through, so an outage is never left out of the record.
        let unrecorded: std::sync::Mutex<Option<(u32, String, Duration)>> = Default::default();
        let result = retrying(
            self.backoff,
            &self.stop,
            |n, why, wait| {
                let unrecorded = &unrecorded;
                async move {
                    let recorded = self.note_retry(what, node, n, &why, wait).await;
                    *lock(unrecorded) = (!recorded).then_some((n, why, wait));
                }
            },
            || {
                let fut = op();
                async move { fut.await.map_err(Failure::from) }
            },
        )
        .await;
        let missed = lock(&unrecorded).take();
        if let (Ok(_), Some((n, why, wait))) = (&result, missed) {
            self.note_retry(what, node, n, &why, wait).await;
        }
        result
    }

    /// Keeps a file the node's execution wrote where this engine keeps files (retried while
    /// the blob store is unreachable) and returns the record of it.
    async fn keep_node_file(
        &self,
        node: &NodeRecord,
        name: &str,
        bytes: &[u8],
    ) -> Result<NodeFile, Failure> {
        retrying(
            self.backoff,
            &self.stop,
            |n, why, wait| async move {
                self.note_retry("keep_node_file", Some(node), n, &why, wait)
                    .await;
            },
            || async {
                let kept = self.files.0.keep_node_file(name.to_owned(), bytes.to_vec());
                kept.await.map_err(Failure::from)
            },
        )
        .await
    }

    /// The bytes of a recorded node file (retried while the blob store is unreachable).
    pub async fn node_file_bytes(&self, file: NodeFile) -> Result<Vec<u8>, Failure> {
        retrying(
            self.backoff,
            &self.stop,
            |n, why, wait| async move {
                self.note_retry("node_file_bytes", None, n, &why, wait)
                    .await;
            },
            || async {
                self.files
                    .0
                    .node_file_bytes(file.clone())
                    .await
                    .map_err(Failure::from)
            },
        )
        .await
    }

    /// The ledger row of the answer to `request`, with the prompt's size measured here
    /// (providers report tokens in their own tokenizer, and the baseline author none).
    pub fn ledger_entry(
        &self,
        node: Option<NodeId>,
        request: &AuthorRequest,
        reply: &AuthorReply,
    ) -> NewLlmCall {
        crate::metrics::count_llm_call(&self.metrics, &reply.usage);
        NewLlmCall {
            run_id: self.lease.run_id,
            node_id: node,
            purpose: request.purpose,
            usage: reply.usage.clone(),
            prompt: Some(PromptSize {
                chars: request.prompt.chars().count() as u64,
                tokens: self.info.tokens.count(&request.prompt) as u64,
            }),
        }
    }

    /// One model call, retried on infrastructure failures; with the ledger row the stage
    /// that uses the answer writes.
    async fn ask(
        &self,
        node: &NodeRecord,
        request: AuthorRequest,
    ) -> Result<(AuthorReply, NewLlmCall), Failure> {
        let purpose = request.purpose;
        let what = format!("{purpose} call");
        let response = retrying(
            self.backoff,
            &self.stop,
            |n, why, wait| {
                let what = what.clone();
                async move {
                    self.note_retry(&what, Some(node), n, &why, wait).await;
                }
            },
            || {
                let request = request.clone();
                async move { self.author.complete(request).await.map_err(Failure::from) }
            },
        )
        .await?;
        let call = self.ledger_entry(Some(node.id), &request, &response);
        Ok((response, call))
    }

    /// Carries `job` to `reviewed`.
    pub async fn run_node(self: Arc<Self>, job: NodeJob) -> Result<NodeOutcome, Failure> {
        let NodeJob {
            record: mut node,
            code_request,
            direction,
        } = job;
        let (id, lease) = (node.id, &self.lease);
        if node.stage == NodeStage::Pending {
            let request = code_request.ok_or_else(|| {
                Failure::Fatal(Fatal::Inconsistent(format!(
                    "pending node {id} without a code request"
                )))
            })?;
            let (response, call) = self.ask(&node, request).await?;
            let text = response
                .answer
                .as_ref()
                .map(|a| a.text().to_owned())
                .unwrap_or_default();
            let parsed = parse_reply(&text);
            let generation = Generation {
                plan: parsed.plan,
                raw_reply: parsed.code.is_none().then(|| text.clone()),
                code: parsed.code,
            };
            self.persist("record_generation", &node, || {
                self.store
                    .record_generation(lease, id, generation.clone(), &call)
            })
            .await?;
            node.generation = Some(generation);
            node.stage = NodeStage::Generated;
        }
        let code = node.generation.as_ref().and_then(|g| g.code.clone());
        let mut submission = None;
        let Some(code) = code else {
            info!("the reply held no code: buggy without execution");
            let verdict = Verdict::no_code();
            let review = Review {
                is_buggy: true,
                summary: BugReason::NoCode.to_string(),
                bug_reasons: verdict.bug_reasons,
                metric: None,
            };
            let record = self.record_review(&node, review, None).await?;
            return Ok(NodeOutcome {
                record,
                direction,
                submission: None,
            });
        };
        if node.stage == NodeStage::Generated {
            let (summary, bytes) = self.execute(&node, &code).await?;
            submission = bytes;
            node.execution = Some(summary);
            node.stage = NodeStage::Executed;
        }
        let execution = node.execution.clone().ok_or_else(|| {
            Failure::Fatal(Fatal::Inconsistent(format!(
                "node {id} is executed without an execution"
            )))
        })?;
        let (record, direction) = self.review(&node, &code, &execution, direction).await?;
        Ok(NodeOutcome {
            record,
            direction,
            submission,
        })
    }

    /// Writes `review` with the review call's ledger row and the `node_reviewed` event in
    /// one stage, notifies, and returns the reviewed node as stored.
    async fn record_review(
        &self,
        node: &NodeRecord,
        review: Review,
        call: Option<NewLlmCall>,
    ) -> Result<NodeRecord, Failure> {
        let event = events::node_reviewed(node, &review);
        let record = self
            .persist("record_review", node, || {
                self.store.record_review(
                    &self.lease,
                    node.id,
                    review.clone(),
                    call.as_ref(),
                    &event,
                )
            })
            .await?;
        self.notify();
        Ok(record)
    }

    /// Keeps an execution's submission (when the task asks for one and it wrote it) where
    /// this engine keeps files.
    async fn kept_submission(
        &self,
        node: &NodeRecord,
        submission: Option<&[u8]>,
    ) -> Result<Option<NodeFile>, Failure> {
        match (submission, self.info.submission_file()) {
            (Some(bytes), Some(name)) => Ok(Some(self.keep_node_file(node, name, bytes).await?)),
            _ => Ok(None),
        }
    }

    /// Runs the code until one attempt's result is stored with the node's `executed` stage
    /// (and its submission); an attempt lost to the infrastructure, or superseded before its
    /// result was stored, is abandoned and the next attempt starts (on another runner).
    /// Returns what the node keeps of the execution and the submission's bytes.
    async fn execute(
        &self,
        node: &NodeRecord,
        code: &str,
    ) -> Result<(ExecutionSummary, Option<Vec<u8>>), Failure> {
        let (id, lease) = (node.id, &self.lease);
        let mut retry = 0;
        loop {
            let attempt = self
                .persist("start_execution", node, || {
                    self.store.start_execution(lease, id)
                })
                .await?;
            let script = script_run(&self.info, id, attempt, code);
            let outcome = tokio::select! {
                _ = self.stop.cancelled() => return Err(Failure::Stopped),
                outcome = self.executor.execute(script) => outcome,
            };
            let why = match outcome {
                Ok(executed) => {
                    let summary = summarise(&executed, &self.info);
                    let submission = submission_bytes(&executed, &self.info);
                    let file = self.kept_submission(node, submission.as_deref()).await?;
                    let result = execution_result(&executed);
                    let stored = self
                        .persist("record_execution", node, || async {
                            let recorded = self.store.record_execution(
                                lease,
                                id,
                                attempt,
                                result.clone(),
                                summary.clone(),
                                file.as_ref(),
                            );
                            match recorded.await {
                                Err(aide_store::Error::StaleAttempt { .. }) => Ok(false),
                                other => other.map(|_| true),
                            }
                        })
                        .await?;
                    if stored {
                        return Ok((summary, submission));
                    }
                    format!("attempt {attempt} was superseded before its result was stored")
                }
                Err(e) if e.is_infrastructure() => {
                    let reason = e.message.clone();
                    self.persist("abandon_execution", node, || async {
                        match self.store.abandon_execution(id, attempt, &reason).await {
                            Err(aide_store::Error::StaleAttempt { .. }) => Ok(()),
                            other => other,
                        }
                    })
                    .await?;
                    e.message
                }
                Err(e) => return Err(Failure::from(e)),
            };
            let wait = self.backoff.delay(retry);
            retry += 1;
            self.note_retry(
                &format!("execution attempt {attempt}"),
                Some(node),
                retry,
                &why,
                wait,
            )
            .await;
            tokio::select! {
                _ = self.stop.cancelled() => return Err(Failure::Stopped),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Reviews an executed node and records its verdict; returns the reviewed node and the
    /// run's direction.
    async fn review(
        &self,
        node: &NodeRecord,
        code: &str,
        execution: &ExecutionSummary,
        direction: Option<Direction>,
    ) -> Result<(NodeRecord, Option<Direction>), Failure> {
        let lease = &self.lease;
        let request = review_request(&self.info, node, code, &execution.term_out, direction);
        let (parsed, call) = match self.ask(node, request).await {
            Ok((response, call)) => (review_args(response.answer), Some(call)),
            Err(Failure::Fatal(why)) => (Err(why.to_string()), None),
            Err(other) => return Err(other),
        };
        let direction = match (direction, &parsed) {
            (Some(d), _) => Some(d),
            (None, Ok(review)) => {
                let wanted = review.direction();
                Some(
                    self.persist("fix_direction", node, || {
                        self.store.fix_direction(lease, wanted)
                    })
                    .await?,
                )
            }
            (None, Err(_)) => None,
        };
        let facts = ExecutionFacts {
            exit_code: execution.exit_code,
            timed_out: execution.timed_out,
            // A timeout is its own reason; its recorded `TimeoutError` is not a second one.
            exc_type: execution.exc_type.clone().filter(|_| !execution.timed_out),
            wrote_submission: execution.wrote_submission,
        };
        let (says_bug, metric, summary) = match parsed {
            Ok(r) => (r.is_bug, r.metric, r.summary),
            Err(why) => {
                warn!(error = %why, "no usable review: the node counts as flagged");
                (
                    true,
                    None,
                    format!("the review could not be obtained: {why}"),
                )
            }
        };
        let check = cross_check(&execution.term_out, metric);
        let verdict = Verdict::judge(&facts, says_bug, &check, self.info.task.has_test_data());
        let review = Review {
            is_buggy: verdict.is_buggy(),
            metric: verdict.metric.map(f64::from),
            bug_reasons: verdict.bug_reasons,
            summary,
        };
        info!(buggy = review.is_buggy, metric = ?review.metric, "reviewed");
        let record = self.record_review(node, review, call).await?;
        Ok((record, direction))
    }
}

/// The review's arguments from the model's answer, or why there are none.
fn review_args(answer: Option<Answer>) -> Result<ReviewArgs, String> {
    match answer {
        Some(Answer::FunctionArguments(args)) => serde_json::from_str(&args)
            .map_err(|e| e.to_string())
            .and_then(|v| ReviewArgs::from_json(&v).map_err(|e| e.to_string())),
        Some(Answer::Text(text)) => ReviewArgs::from_text(&text).map_err(|e| e.to_string()),
        None => Err("the answer was empty".into()),
    }
}

fn execution_result(e: &Executed) -> ExecutionResult {
    let exception = e.exception.as_ref();
    ExecutionResult {
        exit_code: e.exit_code,
        timed_out: e.timed_out,
        oom_killed: e.oom_killed,
        wall_secs: e.wall_time.as_secs_f64(),
        cpu_secs: e.cpu_time.map(|d| d.as_secs_f64()),
        peak_memory_bytes: Some(e.peak_memory_bytes),
        output: e.output.clone(),
        output_bytes: e.output_bytes,
        exc_type: exception.map(|(kind, _)| kind.clone()),
        exc_message: exception
            .map(|(_, info)| info.message.clone())
            .filter(|m| !m.is_empty()),
        runner_id: e.runner_id.clone(),
    }
}

/// What the node keeps of an execution. A script stopped at its time limit raised nothing
/// itself; it is recorded as a `TimeoutError`, as the reference records it.
fn summarise(e: &Executed, info: &RunInfo) -> ExecutionSummary {
    let (exc_type, exc_info) = match &e.exception {
        Some((kind, details)) => (Some(kind.clone()), Some(details.clone())),
        None if e.timed_out => (
            Some(TIMEOUT_ERROR.to_owned()),
            Some(ExceptionInfo {
                message: format!(
                    "the script exceeded its time limit of {} s",
                    info.settings.exec_timeout_secs
                ),
                ..ExceptionInfo::default()
            }),
        ),
        None => (None, None),
    };
    ExecutionSummary {
        term_out: e.output.clone(),
        exit_code: e.exit_code,
        exec_time_secs: e.wall_time.as_secs_f64(),
        timed_out: e.timed_out,
        exc_type,
        exc_info,
        wrote_submission: submission_bytes(e, info).is_some(),
    }
}

/// The exception type a timed-out execution is recorded with.
const TIMEOUT_ERROR: &str = "TimeoutError";

fn submission_bytes(e: &Executed, info: &RunInfo) -> Option<Vec<u8>> {
    e.file(info.submission_file()?).map(<[u8]>::to_vec)
}

/// Locks a std mutex, ignoring poisoning (the guarded value stays consistent).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
