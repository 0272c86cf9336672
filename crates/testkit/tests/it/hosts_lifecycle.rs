//! Processes of a [`Network`]'s hosts die one at a time when the test kills them, and all
//! at once with the network, which also takes its namespaces and links, panic or not.

use std::process::Command;
use std::time::{Duration, Instant};

use aide_testkit::{ChildGuard, Hidden, Host, Network};

use crate::hosts::bash;

/// Starts `sleep 300` in the background of a shell that exits at once: a process of the
/// host that no guard of the test holds. Its pid.
fn detached_sleep(host: &Host) -> u32 {
    let output = bash(host, "sleep 300 >/dev/null 2>&1 & echo $!");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a pid")
}

/// Whether `pid` still runs (a zombie awaiting its parent's wait counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

fn gone_within(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().expect("ip runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The network's namespaces and root link are gone from `ip netns list` and `ip link`.
fn assert_removed(netns: &[String], link: &str) {
    let listed = ip(&["netns", "list"]);
    for name in netns {
        assert!(
            !listed
                .lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} is still listed:\n{listed}"
        );
    }
    let links = ip(&["-o", "link", "show"]);
    assert!(
        !links.contains(&format!(" {link}:")) && !links.contains(&format!(" {link}@")),
        "{link} is still there:\n{links}"
    );
}

#[test]
fn killing_one_hosts_process_leaves_the_others_and_dropping_the_network_kills_the_rest() {
    let Some(mut net) = Network::require("life") else {
        return;
    };
    let r1 = net.host("r1", Hidden::none()).expect("r1");
    let dir = tempfile::tempdir().expect("tempdir");
    let r2 = net
        .host("r2", Hidden::paths([dir.path().join("hidden")]))
        .expect("r2");
    let mut one = ChildGuard::spawn("r1 sleep", r1.command("sleep").arg("300"));
    let mut two = ChildGuard::spawn("r2 sleep", r2.command("sleep").arg("300"));
    let detached = detached_sleep(&r2);
    // The guard holds the program itself (each wrapper execs the next), in r2's namespace.
    std::thread::sleep(Duration::from_millis(200));
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", two.pid())).expect("comm");
    assert_eq!(comm.trim(), "sleep");
    let ns = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns link");
    assert_eq!(ns(two.pid()), ns(detached));
    assert_ne!(ns(one.pid()), ns(two.pid()));

    one.kill();
    assert!(!one.is_running());
    assert!(
        two.is_running() && alive(detached),
        "r2's processes died with r1's"
    );

    let (netns, link) = (net.netns_names(), net.root_link().to_owned());
    drop(net);
    assert_removed(&netns, &link);
    let status = two
        .try_wait()
        .expect("r2's guarded process was killed with the network");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(
        gone_within(detached, Duration::from_secs(5)),
        "the detached sleep survived"
    );
}

#[test]
fn a_panicking_test_still_removes_its_network() {
    if aide_testkit::hosts::available().is_err() {
        let _ = Network::require("panic"); // the rule: fail under CI, skip loudly otherwise
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = None;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut net = Network::new("panic").expect("network");
        let host = net.host("h", Hidden::paths([dir.path().join("hidden")]));
        let host = host.expect("host");
        seen = Some((
            net.netns_names(),
            net.root_link().to_owned(),
            detached_sleep(&host),
        ));
        panic!("on purpose, with the network alive");
    }));
    assert!(unwound.is_err());
    let (netns, link, detached) = seen.expect("the network was made");
    assert_removed(&netns, &link);
    assert!(
        gone_within(detached, Duration::from_secs(5)),
        "the detached sleep survived"
    );
}

#[test]
fn a_new_network_removes_what_a_killed_test_process_left_behind() {
    if aide_testkit::hosts::available().is_err() {
        let _ = Network::require("sweep"); // the rule: fail under CI, skip loudly otherwise
        return;
    }
    // A namespace named as a network of a test process that is gone, with a process in it.
    let mut gone = Command::new("true").spawn().expect("true");
    let dead_pid = gone.id();
    gone.wait().expect("reaped");
    let orphan = format!("aidet-0-{dead_pid}-orphan");
    let added = Command::new("ip").args(["netns", "add", &orphan]).status();
    assert!(added.expect("ip runs").success());
    let mut in_orphan = Command::new("ip");
    in_orphan.args(["netns", "exec", &orphan, "sleep", "300"]);
    let mut left = ChildGuard::spawn("orphaned sleep", &mut in_orphan);
    std::thread::sleep(Duration::from_millis(200));

    let net = Network::new("sweep").expect("network");
    assert_removed(&[orphan], "no-such-link");
    let status = left.child_mut().wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    drop(net);
}
