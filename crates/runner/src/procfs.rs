//! Reading /proc: the processes of a process group or a uid (usage, killing leftovers) and
//! the host's CPU and memory load for heartbeats.

use std::{fs, time::Duration};

use nix::{sys::signal::Signal, unistd::Pid};

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux).
const TICKS: u64 = 100;

/// One process's usage as /proc shows it.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pgrp: i32,
    uid: u32,
    cpu_ticks: u64,
    threads: u32,
    rss_bytes: u64,
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // rest[0] is field 3 (state): pgrp is field 5, utime 14, stime 15, threads 20.
    let num = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| status_field(&status, name)?.parse::<u64>().ok();
    Some(Proc {
        pgrp: i32::try_from(num(5)?).ok()?,
        uid: u32::try_from(field("Uid:")?).ok()?,
        cpu_ticks: num(14)? + num(15)?,
        threads: u32::try_from(num(20)?).unwrap_or(1),
        rss_bytes: field("VmRSS:").unwrap_or(0) * 1024,
    })
}

/// The first word of the line of `/proc/<pid>/status` that starts with `name` (`"Uid:"`).
fn status_field<'s>(status: &'s str, name: &str) -> Option<&'s str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
}

fn pids() -> impl Iterator<Item = i32> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

fn all_procs() -> impl Iterator<Item = Proc> {
    pids().filter_map(read_proc)
}

/// Who owns a process and whether it is a zombie: what a pass over a uid needs, read from
/// `/proc/<pid>/status` alone (reading `stat` too doubled the cost of a pass, which every
/// execution makes).
#[derive(Debug, Clone, Copy)]
struct Owner {
    pid: i32,
    ppid: i32,
    uid: u32,
    zombie: bool,
}

fn read_owner(pid: i32) -> Option<Owner> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| status_field(&status, name);
    Some(Owner {
        pid,
        ppid: field("PPid:")?.parse().ok()?,
        uid: field("Uid:")?.parse().ok()?,
        zombie: field("State:")? == "Z",
    })
}

fn owners() -> impl Iterator<Item = Owner> {
    pids().filter_map(read_owner)
}

/// Usage of a set of processes at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU time consumed so far by the live processes.
    pub cpu: Duration,
    /// Sum of resident memory.
    pub rss_bytes: u64,
    /// Threads (each process counts at least one).
    pub threads: u32,
}

/// Usage of the processes in group `pgid`, or owned by `uid` when given.
pub fn usage(pgid: i32, uid: Option<u32>) -> Usage {
    let mut u = Usage::default();
    for p in all_procs().filter(|p| p.pgrp == pgid || Some(p.uid) == uid) {
        u.cpu += Duration::from_millis(p.cpu_ticks * 1000 / TICKS);
        u.rss_bytes += p.rss_bytes;
        u.threads += p.threads;
    }
    u
}

/// One pass over the processes of `uid` (a sandbox uid: nothing else runs as it): SIGKILLs
/// the live ones, which catches processes that left the group with setsid, and reaps the
/// zombies re-parented to this process (the runner is their subreaper) so they stop counting
/// against the uid's process limit; `except` (the script's own leader, which its waiter
/// reaps) is left alone.
pub fn kill_and_reap_uid(uid: u32, except: Option<i32>) -> UidPass {
    let me = std::process::id();
    let mut pass = UidPass::default();
    for p in owners().filter(|p| p.uid == uid) {
        pass.seen += 1;
        if !p.zombie {
            pass.alive += 1;
            let _ = nix::sys::signal::kill(Pid::from_raw(p.pid), Signal::SIGKILL);
        } else if p.ppid as u32 == me && Some(p.pid) != except {
            let flags = Some(nix::sys::wait::WaitPidFlag::WNOHANG);
            let _ = nix::sys::wait::waitpid(Pid::from_raw(p.pid), flags);
        }
    }
    pass
}

/// What one [`kill_and_reap_uid`] pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UidPass {
    /// Processes of the uid still alive (now sent SIGKILL).
    pub alive: usize,
    /// Processes of the uid seen at all, zombies included.
    pub seen: usize,
}

/// Whether any live (non-zombie) process is owned by `uid`.
pub fn uid_has_processes(uid: u32) -> bool {
    owners().any(|p| p.uid == uid && !p.zombie)
}

/// The 1-minute load average divided by the number of cores, capped at 1.
pub fn cpu_load() -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |l| (l / cores).min(1.0))
}

/// Memory in use (total minus available) as a fraction of total.
pub fn memory_load() -> f64 {
    let Ok(info) = fs::read_to_string("/proc/meminfo") else {
        return 0.0;
    };
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    match (field("MemTotal:"), field("MemAvailable:")) {
        (Some(total), Some(avail)) if total > 0.0 => ((total - avail) / total).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_group_is_visible_and_loads_are_fractions() {
        let me = nix::unistd::getpgrp().as_raw();
        let u = usage(me, None);
        assert!(u.threads >= 1 && u.rss_bytes > 0);
        assert!((0.0..=1.0).contains(&cpu_load()));
        assert!((0.0..=1.0).contains(&memory_load()) && memory_load() > 0.0);
    }
}
