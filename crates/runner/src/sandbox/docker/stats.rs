//! Reading the container's streams: its output chunks, and peak memory and CPU time from
//! the daemon's stats stream.

use std::time::{Duration, Instant};

use bollard::{container::LogOutput, models::ContainerStatsResponse};

/// The bytes of one output item.
pub fn log_bytes(log: LogOutput) -> Vec<u8> {
    match log {
        LogOutput::StdOut { message }
        | LogOutput::StdErr { message }
        | LogOutput::Console { message }
        | LogOutput::StdIn { message } => message.to_vec(),
    }
}

/// Peak memory and CPU time from the daemon's stats stream (cgroup counters).
#[derive(Debug, Default)]
pub struct StatsTracker {
    pub peak: u64,
    pub cpu: Duration,
    last: Option<(Instant, u64)>,
}

impl StatsTracker {
    /// Returns (cores in use, memory now, pids now).
    pub fn update(&mut self, s: &ContainerStatsResponse) -> (f64, u64, u32) {
        let mem = s.memory_stats.as_ref();
        let now_mem = mem.and_then(|m| m.usage).unwrap_or(0);
        self.peak = self
            .peak
            .max(mem.and_then(|m| m.max_usage).unwrap_or(0))
            .max(now_mem);
        let total = s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        let now = Instant::now();
        let cores = match self.last {
            Some((t, prev)) if total >= prev => {
                (total - prev) as f64 / 1e9 / (now - t).as_secs_f64().max(1e-3)
            }
            _ => 0.0,
        };
        if total > 0 {
            self.last = Some((now, total));
            self.cpu = Duration::from_nanos(total);
        }
        let pids = s
            .pids_stats
            .as_ref()
            .and_then(|p| p.current)
            .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX));
        (cores, now_mem, pids)
    }
}
