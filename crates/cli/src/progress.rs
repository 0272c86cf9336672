//! The live progress display on stderr, fed by polling the run's event log in the store
//! every 300 ms. On a terminal one status line (steps done/total, best metric, current
//! action, elapsed time, cost) is redrawn in place and a line is printed per reviewed node;
//! otherwise one plain line is printed per event. Steps are numbered from 0 as in the
//! run's report, tree and journal; `3/6` counts the nodes reviewed.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aide_core::event::NodeReviewed;
use aide_core::{Directive, RunEvent, RunId};
use aide_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing until the final summary.
    Quiet,
    /// A redrawn status line plus a line per reviewed node.
    Terminal,
    /// One line per event (logs, pipes, CI).
    Lines,
}

impl Mode {
    /// Terminal when stderr is one, else lines; quiet when asked.
    pub fn detect(quiet: bool) -> Self {
        use std::io::IsTerminal;
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Lines
        }
    }
}

/// The background display of one run; [`Progress::finish`] flushes and stops it.
#[derive(Debug)]
pub struct Progress {
    stop: CancellationToken,
    handle: Option<JoinHandle<()>>,
}

/// What the display knows so far.
#[derive(Debug)]
struct View {
    mode: Mode,
    steps: u32,
    metric: String,
    started: Instant,
    reviewed: u32,
    best: Option<(f64, u32)>,
    in_flight: BTreeMap<u32, String>,
    cost: f64,
    status_shown: bool,
    /// The last reviewed node's line and step, held until the end of the poll so a
    /// following `best_changed` can mark it.
    pending: Option<(u32, String)>,
}

impl Progress {
    /// Starts polling `run_id`'s events (from the first, so a resumed run shows its past).
    pub fn start<S: Store>(
        store: Arc<S>,
        run_id: RunId,
        steps: u32,
        metric: Option<String>,
        mode: Mode,
    ) -> Self {
        let stop = CancellationToken::new();
        if mode == Mode::Quiet {
            return Self { stop, handle: None };
        }
        let mut view = View::new(steps, metric, mode);
        let token = stop.clone();
        let handle = tokio::spawn(async move {
            let mut seq = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(300));
            loop {
                let stopping = tokio::select! {
                    _ = token.cancelled() => true,
                    _ = tick.tick() => false,
                };
                seq = view.poll(&*store, run_id, seq).await;
                if stopping {
                    view.clear_status();
                    return;
                }
                view.draw_status();
            }
        });
        Self {
            stop,
            handle: Some(handle),
        }
    }

    /// Shows the last events, clears the status line and stops.
    pub async fn finish(mut self) {
        self.stop.cancel();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The same display fed with events from elsewhere (`aide watch`'s WatchRun stream).
#[derive(Debug)]
pub struct Live {
    view: View,
}

impl Live {
    pub fn new(steps: u32, metric: Option<String>, mode: Mode) -> Self {
        Self {
            view: View::new(steps, metric, mode),
        }
    }

    /// Shows one event (a reviewed node's line waits for a following `best_changed`).
    pub fn event(&mut self, event: &RunEvent) {
        self.view.event(event);
    }

    /// The run's spending so far.
    pub fn set_cost(&mut self, cost: f64) {
        self.view.cost = cost;
    }

    /// Shows what is pending and redraws the status line.
    pub fn tick(&mut self) {
        self.view.flush();
        self.view.draw_status();
    }

    /// Shows what is pending and clears the status line.
    pub fn finish(&mut self) {
        self.view.flush();
        self.view.clear_status();
    }
}

impl View {
    fn new(steps: u32, metric: Option<String>, mode: Mode) -> Self {
        View {
            mode,
            steps,
            metric: metric.unwrap_or_else(|| "metric".into()),
            started: Instant::now(),
            reviewed: 0,
            best: None,
            in_flight: BTreeMap::new(),
            cost: 0.0,
            status_shown: false,
            pending: None,
        }
    }

    /// Reads the events after `seq` and shows them; returns the new position.
    async fn poll<S: Store>(&mut self, store: &S, run_id: RunId, mut seq: u64) -> u64 {
        loop {
            let page = match store.events_after(run_id, seq, 200).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::debug!(error = %e, "progress: cannot read events");
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            seq = last.seq;
            for record in &page {
                self.event(&record.event);
            }
            if page.len() < 200 {
                break;
            }
        }
        self.flush();
        if let Ok(usage) = store.run_usage(run_id).await {
            self.cost = usage.cost_usd;
        }
        seq
    }

    fn event(&mut self, event: &RunEvent) {
        if !matches!(event, RunEvent::BestChanged(_)) {
            self.flush();
        }
        match event {
            RunEvent::NodeCreated(created) => {
                let action = created.action.as_str();
                self.in_flight.insert(created.step, action.to_owned());
                if self.mode == Mode::Lines {
                    let what = format!("step {}: {}", created.step, verb(action));
                    self.line(&what);
                }
            }
            RunEvent::NodeReviewed(reviewed) => {
                self.reviewed += 1;
                self.in_flight.remove(&reviewed.step);
                let line = self.reviewed_line(reviewed);
                self.pending = Some((reviewed.step, line));
            }
            RunEvent::BestChanged(best) => {
                let step = best.step;
                self.best = Some((best.metric, step));
                if let Some((at, line)) = self.pending.take_if(|(at, _)| *at == step) {
                    self.pending = Some((at, format!("{line}  ★ new best")));
                } else if self.mode == Mode::Lines {
                    let metric = fmt_metric(best.metric);
                    let what = format!("new best: step {step} with {} {metric}", self.metric);
                    self.line(&what);
                }
            }
            RunEvent::InfraRetry(retry) => {
                let what = format!("retrying {}: {}", retry.what, retry.error);
                self.line(&short(&what, 200));
            }
            RunEvent::RunResumed(taken) if taken.nodes > 0 => {
                let what = format!("resumed with {} node(s) already stored", taken.nodes);
                self.line(&what);
            }
            RunEvent::Steered(steered) => {
                if let Directive::Budget {
                    steps: Some(steps), ..
                } = steered.directive
                {
                    self.steps = steps;
                }
                let what = format!(
                    "{} given by token {}",
                    steered_text(&steered.directive),
                    steered.by.token_id
                );
                self.line(&short(&what, 200));
            }
            // The session's summary says how the run ended.
            RunEvent::RunFinished(_) => self.in_flight.clear(),
            _ => {}
        }
    }

    fn reviewed_line(&self, reviewed: &NodeReviewed) -> String {
        let action = reviewed.action.as_str();
        let head = format!(
            "{}/{}  step {:<2} {action:<7}",
            self.reviewed, self.steps, reviewed.step
        );
        if !reviewed.buggy {
            let metric = reviewed.metric.map_or("-".into(), fmt_metric);
            format!("✓ {head} {} {metric}", self.metric)
        } else {
            let why = reviewed
                .bug_reasons
                .first()
                .map_or("buggy".into(), |r| short(&r.to_string(), 90));
            format!("✗ {head} buggy: {why}")
        }
    }

    fn status(&self) -> String {
        let best = self.best.map_or("best: none yet".into(), |(m, s)| {
            format!("best {} {} (step {s})", self.metric, fmt_metric(m))
        });
        let doing = match self.in_flight.iter().next() {
            Some((step, action)) if self.in_flight.len() == 1 => {
                format!("{} step {step}", verb(action))
            }
            Some(_) => format!("{} nodes in flight", self.in_flight.len()),
            None => "between steps".into(),
        };
        format!(
            "[{}/{}] {best} · {doing} · {} · ${:.2}",
            self.reviewed,
            self.steps,
            fmt_elapsed(self.started.elapsed()),
            self.cost
        )
    }

    fn flush(&mut self) {
        if let Some((_, line)) = self.pending.take() {
            self.line(&line);
        }
    }

    fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        match self.mode {
            Mode::Terminal => {
                let _ = writeln!(err, "\r\x1b[2K  {text}");
                self.status_shown = false;
            }
            Mode::Lines => {
                let _ = writeln!(err, "[{}] {text}", fmt_elapsed(self.started.elapsed()));
            }
            Mode::Quiet => {}
        }
    }

    fn draw_status(&mut self) {
        if self.mode == Mode::Terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", short(&self.status(), 150));
            let _ = err.flush();
            self.status_shown = true;
        }
    }

    fn clear_status(&mut self) {
        if self.mode == Mode::Terminal && self.status_shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.status_shown = false;
        }
    }
}

fn verb(action: &str) -> &'static str {
    match action {
        "draft" => "drafting",
        "improve" => "improving",
        "debug" => "debugging",
        "merge" => "merging",
        _ => "working on",
    }
}

/// A metric with about five significant digits.
pub fn fmt_metric(m: f64) -> String {
    if m != 0.0 && (m.abs() >= 1e6 || m.abs() < 1e-3) {
        format!("{m:.4e}")
    } else {
        let digits = (4 - m.abs().log10().floor().max(0.0) as i32).max(0) as usize;
        format!("{m:.digits$}")
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub fn fmt_elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn short(text: &str, max: usize) -> String {
    let one_line = text.lines().next().unwrap_or("");
    if one_line.chars().count() <= max {
        one_line.to_owned()
    } else {
        let cut: String = one_line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

/// A directive in words, for the progress lines.
fn steered_text(directive: &Directive) -> String {
    match directive {
        Directive::Pin { node } => format!("pin of node {node}"),
        Directive::Prune { node } => format!("prune of node {node}"),
        Directive::Note { text } => format!("note {:?}", short(text, 80)),
        Directive::Budget {
            steps,
            max_run_secs,
        } => {
            let steps = steps.map(|n| format!(" {n} steps"));
            let time = max_run_secs.map(|s| format!(" {s} s"));
            format!(
                "budget of{}{}",
                steps.unwrap_or_default(),
                time.unwrap_or_default()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_metric(55.123456), "55.123");
        assert_eq!(fmt_metric(0.95614), "0.9561");
        assert_eq!(fmt_elapsed(Duration::from_secs(75)), "1:15");
        assert_eq!(fmt_elapsed(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(short("abcdef", 4), "abc…");
        let budget = Directive::Budget {
            steps: Some(12),
            max_run_secs: Some(600),
        };
        assert_eq!(steered_text(&budget), "budget of 12 steps 600 s");
    }
}
