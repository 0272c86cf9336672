//! The `ip` commands behind [`super::Network`]: running one, the namespaces and their
//! processes, the subnets already routed on this machine, and sweeping what a test process
//! that died without unwinding (SIGKILL, abort) left behind.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::Error;

/// What every network namespace of the harness is named after: `aidet-<X>-<pid>-<prefix>`
/// for a network's hub, `...-<host>` for its hosts.
pub(super) const NETNS_MARK: &str = "aidet-";

/// Runs `ip <args>`; its standard output, or the failure with its standard error.
pub(super) fn ip(args: &[&str]) -> Result<String, Error> {
    run(Command::new("ip").args(args))
}

/// Runs `command` to completion; its standard output, or the failure with its standard error.
pub(super) fn run(command: &mut Command) -> Result<String, Error> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|source| Error::Spawn {
        command: shown.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: shown,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether `created` failed because the name exists already (true), succeeded (false), or
/// failed otherwise (the error).
pub(super) fn exists_already(created: Result<String, Error>) -> Result<bool, Error> {
    match created {
        Ok(_) => Ok(false),
        Err(Error::Command { stderr, .. }) if stderr.contains("File exists") => Ok(true),
        Err(e) => Err(e),
    }
}

/// The named network namespaces (`ip netns list`).
pub(super) fn netns_list() -> Result<Vec<String>, Error> {
    let listed = ip(&["netns", "list"])?;
    Ok(listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect())
}

/// SIGKILLs every process in `netns` (whatever mount namespace it is in) until none is
/// left, waiting at most a few seconds; returns how many it signalled.
pub(super) fn kill_all(netns: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut signalled = std::collections::BTreeSet::new();
    loop {
        let pids: Vec<i32> = ip(&["netns", "pids", netns])
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect();
        if pids.is_empty() || Instant::now() >= deadline {
            return signalled.len();
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            signalled.insert(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the processes of a namespace and deletes it; failures are printed, not raised, as
/// this runs from `Drop`.
pub(super) fn remove_netns(netns: &str) {
    kill_all(netns);
    if let Err(e) = ip(&["netns", "delete", netns]) {
        eprintln!("aide-testkit hosts: {e}");
    }
}

/// Whether `subnet` (a /24) overlaps an address or a main-table route of the root
/// namespace (another network of the harness routes its own subnet, so it counts too).
pub(super) fn subnet_in_use(subnet: Ipv4Addr) -> Result<bool, Error> {
    let routes = ip(&["-4", "route", "show", "table", "main"])?;
    let addrs = ip(&["-4", "-o", "addr", "show"])?;
    let route_prefixes = routes.lines().filter_map(|l| l.split_whitespace().next());
    let addr_prefixes = addrs.lines().filter_map(|l| l.split_whitespace().nth(3));
    Ok(route_prefixes
        .chain(addr_prefixes)
        .filter_map(parse_prefix)
        .any(|(net, len)| overlaps((net, len), (subnet, 24))))
}

fn parse_prefix(text: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = text.split_once('/').unwrap_or((text, "32"));
    Some((addr.parse().ok()?, len.parse().ok().filter(|l| *l <= 32)?))
}

fn overlaps(a: (Ipv4Addr, u8), b: (Ipv4Addr, u8)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(a.0) & mask == u32::from(b.0) & mask
}

/// Deletes the namespaces (and kills the processes) of networks whose owning test process
/// is gone; their links go with their namespaces.
pub(super) fn sweep_stale() -> Result<(), Error> {
    for netns in netns_list()? {
        let Some(rest) = netns.strip_prefix(NETNS_MARK) else {
            continue;
        };
        let owner = rest
            .split('-')
            .nth(1)
            .and_then(|pid| pid.parse::<u32>().ok());
        if owner.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            eprintln!("aide-testkit hosts: removing {netns}, left by a dead test process");
            remove_netns(&netns);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_contains_the_other() {
        let net = |s: &str| parse_prefix(s).expect("a prefix");
        assert!(overlaps(net("10.213.5.0/24"), net("10.213.5.7")));
        assert!(overlaps(net("10.0.0.0/8"), net("10.213.5.0/24")));
        assert!(overlaps(net("0.0.0.0/0"), net("10.213.5.0/24")));
        assert!(!overlaps(net("10.213.6.0/24"), net("10.213.5.0/24")));
        assert!(!overlaps(net("192.0.2.0/24"), net("10.213.5.0/24")));
        assert_eq!(parse_prefix("default"), None);
    }
}
