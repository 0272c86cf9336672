//! Server-side caps on what a caller may ask (ARCHITECTURE §10), configurable with safe
//! defaults: the size of a run (steps, workers, execution and run time, name and model
//! lengths), how many runs a project keeps queued or running, what a project's runs may spend
//! on models per day, and how many watch streams one token holds open ([`WatchSlots`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aide_core::RunSettings;
use aide_core::access::ProjectName;
use aide_store::Store;
use serde::{Deserialize, Serialize};
use tonic::Status;
use uuid::Uuid;

use super::store_status;

/// The caps; each is a largest allowed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunCaps {
    pub max_steps: u32,
    pub max_workers: u32,
    pub max_exec_timeout_secs: u64,
    pub max_run_secs: u64,
    /// Characters of a run's name and of a model's name.
    pub max_name_chars: usize,
    /// Queued plus running runs of one project.
    pub max_unfinished_runs_per_project: u64,
    /// Model spending of one project's runs over the last 24 hours, in US dollars; no cap
    /// when absent.
    pub max_daily_cost_usd_per_project: Option<f64>,
    /// WatchRun streams one token holds open at once.
    pub max_watch_streams_per_token: usize,
}

impl Default for RunCaps {
    fn default() -> Self {
        Self {
            max_steps: 5_000,
            max_workers: 32,
            max_exec_timeout_secs: 24 * 3600,
            max_run_secs: 30 * 24 * 3600,
            max_name_chars: 200,
            max_unfinished_runs_per_project: 100,
            max_daily_cost_usd_per_project: None,
            max_watch_streams_per_token: 32,
        }
    }
}

impl RunCaps {
    /// `INVALID_ARGUMENT` naming the first setting over its cap.
    pub fn check_settings(&self, s: &RunSettings) -> Result<(), Status> {
        let over = |field: &str, cap: u64| {
            Err(Status::invalid_argument(format!(
                "settings.{field}: at most {cap} on this server"
            )))
        };
        if u64::from(s.steps) > u64::from(self.max_steps) {
            return over("steps", self.max_steps.into());
        }
        if s.workers > self.max_workers {
            return over("workers", self.max_workers.into());
        }
        if s.exec_timeout_secs > self.max_exec_timeout_secs {
            return over("exec_timeout_secs", self.max_exec_timeout_secs);
        }
        if s.max_run_secs.is_some_and(|secs| secs > self.max_run_secs) {
            return over("max_run_secs", self.max_run_secs);
        }
        for (field, model) in [
            ("code_model", &s.code.model),
            ("feedback_model", &s.feedback.model),
        ] {
            self.check_text(field, model)?;
        }
        Ok(())
    }

    /// `INVALID_ARGUMENT` when a name is longer than the cap.
    pub fn check_text(&self, field: &str, text: &str) -> Result<(), Status> {
        if text.chars().count() > self.max_name_chars {
            return Err(Status::invalid_argument(format!(
                "{field}: at most {} characters",
                self.max_name_chars
            )));
        }
        Ok(())
    }

    /// `RESOURCE_EXHAUSTED` when the project may not start another run now: too many
    /// unfinished, or its model spending over the last day reached the cap.
    pub async fn check_project<S: Store>(
        &self,
        store: &S,
        project: &ProjectName,
    ) -> Result<(), Status> {
        let unfinished = store
            .count_unfinished_runs(project)
            .await
            .map_err(store_status)?;
        if unfinished >= self.max_unfinished_runs_per_project {
            return Err(Status::resource_exhausted(format!(
                "project {project} has {unfinished} queued or running runs, the most this \
                 server allows; wait for some to finish or cancel them"
            )));
        }
        if let Some(cap) = self.max_daily_cost_usd_per_project {
            let since = chrono::Utc::now() - chrono::Duration::days(1);
            let spent = store
                .project_cost_since(project, since)
                .await
                .map_err(store_status)?;
            if spent >= cap {
                return Err(Status::resource_exhausted(format!(
                    "project {project} spent ${spent:.2} on models in the last 24 hours, \
                     reaching this server's daily cap of ${cap:.2}"
                )));
            }
        }
        Ok(())
    }
}

/// Open watch streams per token; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct WatchSlots(Arc<Mutex<HashMap<Uuid, usize>>>);

/// One open stream of a token; its slot frees when dropped.
#[derive(Debug)]
pub struct WatchSlot {
    slots: WatchSlots,
    token: Uuid,
}

impl WatchSlots {
    /// A slot for one more stream of `token`, or `RESOURCE_EXHAUSTED` at `max`.
    pub fn acquire(&self, token: Uuid, max: usize) -> Result<WatchSlot, Status> {
        let mut open = self.lock();
        let count = open.entry(token).or_default();
        if *count >= max {
            return Err(Status::resource_exhausted(format!(
                "this token already holds {max} watch streams, the most this server allows"
            )));
        }
        *count += 1;
        Ok(WatchSlot {
            slots: self.clone(),
            token,
        })
    }

    /// Streams `token` holds open.
    pub fn open(&self, token: Uuid) -> usize {
        self.lock().get(&token).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(count) = open.get_mut(&self.token) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_over_a_cap_are_refused_by_name() {
        let caps = RunCaps::default();
        assert!(caps.check_settings(&RunSettings::default()).is_ok());
        type Change = fn(&mut RunSettings);
        let cases: [(&str, Change); 5] = [
            ("steps", |s| s.steps = 4_000_000_000),
            ("workers", |s| s.workers = 5_000),
            ("exec_timeout_secs", |s| s.exec_timeout_secs = u64::MAX),
            ("max_run_secs", |s| s.max_run_secs = Some(u64::MAX)),
            ("code_model", |s| s.code.model = "m".repeat(201)),
        ];
        for (field, set) in cases {
            let mut s = RunSettings::default();
            set(&mut s);
            let refused = caps.check_settings(&s).expect_err(field);
            assert_eq!(refused.code(), tonic::Code::InvalidArgument);
            assert!(refused.message().contains(field), "{refused:?}");
        }
    }

    #[test]
    fn watch_slots_are_counted_per_token_and_freed_on_drop() {
        let slots = WatchSlots::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let held: Vec<_> = (0..3)
            .map(|_| slots.acquire(a, 3).expect("a slot"))
            .collect();
        assert_eq!(
            slots.acquire(a, 3).expect_err("full").code(),
            tonic::Code::ResourceExhausted
        );
        assert!(
            slots.acquire(b, 3).is_ok(),
            "another token has its own slots"
        );
        drop(held);
        assert_eq!(slots.open(a), 0);
        assert!(slots.acquire(a, 3).is_ok());
    }
}
