//! The progress `aide submit` shows while it pushes a task (see [`aide_bundle::push`]):
//! hashing, what will be sent, then one line of bytes sent, share and rate — redrawn in place
//! on a terminal, every tenth of the way otherwise.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aide_bundle::push::{PushError, PushProgress};
use aide_core::human_size;

use super::remote;
use crate::error::CliError;

/// A push's error as the user sees it.
pub fn push_error(err: PushError) -> CliError {
    match err {
        PushError::Remote(status) => remote(status, None),
        PushError::Bundle(_) | PushError::Read { .. } | PushError::NotLocal => {
            CliError::Usage(err.to_string())
        }
        PushError::BadReply(_) | PushError::Task(_) => CliError::Remote(err.to_string()),
    }
}

/// The progress line: bytes sent of the total and the rate, redrawn at most a few times a
/// second on a terminal, every tenth of the way otherwise.
#[derive(Debug)]
pub struct Progress {
    total: AtomicU64,
    sent: AtomicU64,
    started: std::sync::Mutex<Instant>,
    last_drawn: std::sync::Mutex<(Instant, u64)>,
    terminal: bool,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            total: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            started: std::sync::Mutex::new(Instant::now()),
            last_drawn: std::sync::Mutex::new((Instant::now(), 0)),
            terminal: std::io::stderr().is_terminal(),
        }
    }
}

impl PushProgress for Progress {
    fn hashing(&self, dir: &Path) {
        eprintln!("hashing {} …", dir.display());
    }

    fn planned(&self, files: usize, missing: usize, bytes: u64) {
        self.total.store(bytes, Ordering::Relaxed);
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        match missing {
            0 => eprintln!(
                "the server already holds all {files} files of the task: nothing to upload"
            ),
            _ if missing == files => {
                eprintln!("uploading {files} files ({})", human_size(bytes))
            }
            _ => eprintln!(
                "uploading {missing} of {files} files ({}); the server holds the rest",
                human_size(bytes)
            ),
        }
    }

    fn sent(&self, bytes: i64) {
        let sent = if bytes >= 0 {
            self.sent.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64
        } else {
            let back = bytes.unsigned_abs();
            self.sent
                .fetch_sub(back, Ordering::Relaxed)
                .saturating_sub(back)
        };
        let total = self.total.load(Ordering::Relaxed);
        let mut last = self.last_drawn.lock().unwrap_or_else(|p| p.into_inner());
        let due = match self.terminal {
            true => last.0.elapsed() >= Duration::from_millis(250),
            false => total > 0 && sent.saturating_sub(last.1) >= total / 10,
        };
        if due {
            *last = (Instant::now(), sent);
            self.draw(sent, !self.terminal);
        }
    }

    fn done(&self) {
        let sent = self.sent.load(Ordering::Relaxed);
        if sent == 0 {
            return;
        }
        self.draw(sent, true);
        eprintln!("uploaded {} in {:.1} s", human_size(sent), self.elapsed());
    }
}

impl Progress {
    fn elapsed(&self) -> f64 {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
            .as_secs_f64()
    }

    fn draw(&self, sent: u64, newline: bool) {
        let total = self.total.load(Ordering::Relaxed);
        let rate = (sent as f64 / self.elapsed().max(1e-3)) as u64;
        let line = format!(
            "{}  {} / {} ({:.0}%), {}/s   ",
            if self.terminal { "\r" } else { "" },
            human_size(sent),
            human_size(total),
            100.0 * sent as f64 / total.max(1) as f64,
            human_size(rate)
        );
        if newline {
            eprintln!("{line}");
        } else {
            eprint!("{line}");
        }
    }
}
