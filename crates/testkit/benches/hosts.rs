//! What the several-hosts harness costs a test: making a network of four hosts (two of
//! them hiding directories) and dropping it, starting a command in a host, and TCP
//! throughput host to host over the bridge and host to root through a forward. Prints
//! numbers; asserts nothing.
//!
//! `cargo bench -p aide-testkit --bench hosts` (as root; env BENCH_N scales the counts).

use std::io::Read as _;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aide_testkit::{ChildGuard, Hidden, Host, Network};

const MIB: u64 = 1 << 20;
/// Accepts until one connection brings data (`wait_for_port`'s probe brings none), counts
/// it to the end, exits.
const SINK: &str = "import socket,sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9000))
s.listen(4)
n = 0
while n == 0:
    c, _ = s.accept()
    while (b := c.recv(1 << 20)):
        n += len(b)
";

fn main() {
    if let Err(why) = aide_testkit::hosts::available() {
        println!("hosts bench skipped: {why}");
        return;
    }
    let n: u32 = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut made, mut dropped) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let start = Instant::now();
        let net = four_hosts(dir.path());
        made.push(start.elapsed());
        let start = Instant::now();
        drop(net);
        dropped.push(start.elapsed());
    }
    report("network of 4 hosts: make", &made);
    report("network of 4 hosts: drop", &dropped);

    let mut net = four_hosts(dir.path());
    let hosts = net.hosts().to_vec();
    let (plain, hiding) = (&hosts[0], &hosts[2]);
    let direct = time_runs(n * 4, || Command::new("true").status().map(drop));
    let in_plain = time_runs(n * 4, || plain.command("true").status().map(drop));
    let in_hiding = time_runs(n * 4, || hiding.command("true").status().map(drop));
    report("`true` run directly", &direct);
    report("`true` in a host", &in_plain);
    report("`true` in a host hiding 2 dirs", &in_hiding);

    let mib = 256 * u64::from(n.div_ceil(5));
    let bridge = host_to_host(plain, &hosts[1], mib, dir.path());
    println!(
        "host to host over the bridge: {mib} MiB at {:.0} MiB/s",
        rate(mib, bridge)
    );
    let forward = host_to_root(&mut net, plain, mib);
    println!(
        "host to root through a forward: {mib} MiB at {:.0} MiB/s",
        rate(mib, forward)
    );
}

fn four_hosts(dir: &std::path::Path) -> Network {
    let mut net = Network::new("bench").expect("network");
    let hidden = Hidden::paths([dir.join("client"), dir.join("data")]);
    for (name, hide) in [("server", Hidden::none()), ("client", Hidden::none())] {
        net.host(name, hide).expect("host");
    }
    for name in ["r1", "r2"] {
        net.host(name, hidden.clone()).expect("host");
    }
    net
}

fn time_runs(count: u32, mut run: impl FnMut() -> std::io::Result<()>) -> Vec<Duration> {
    (0..count)
        .map(|_| {
            let start = Instant::now();
            run().expect("the command runs");
            start.elapsed()
        })
        .collect()
}

/// Seconds to send `mib` MiB from `from` to a sink in `to`.
fn host_to_host(to: &Host, from: &Host, mib: u64, dir: &std::path::Path) -> f64 {
    let mut sink = to.command("python3");
    sink.args(["-c", SINK, &to.addr().to_string()]);
    let mut sink = ChildGuard::spawn_logged("sink", &mut sink, &dir.join("sink.log"));
    assert!(
        to.wait_for_port(9000, Duration::from_secs(30)),
        "{}",
        sink.log()
    );
    let script = format!(
        "dd if=/dev/zero bs=1M count={mib} status=none > /dev/tcp/{}/9000",
        to.addr()
    );
    let start = Instant::now();
    let sent = from
        .command("bash")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .status();
    assert!(sent.expect("bash").success());
    let _ = sink.child_mut().wait();
    start.elapsed().as_secs_f64()
}

/// Seconds to send `mib` MiB from `from` through a forward to a listener of the root.
fn host_to_root(net: &mut Network, from: &Host, mib: u64) -> f64 {
    let root = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = root.local_addr().expect("address");
    net.forward(from, 9100, target).expect("forward");
    let counted = std::thread::spawn(move || {
        let (mut peer, _) = root.accept().expect("accept");
        let mut buffer = vec![0u8; MIB as usize];
        while peer.read(&mut buffer).expect("read") > 0 {}
    });
    let script = format!(
        "dd if=/dev/zero bs=1M count={} status=none > /dev/tcp/127.0.0.1/9100",
        mib
    );
    let start = Instant::now();
    let sent = from.command("bash").args(["-c", &script]).status();
    assert!(sent.expect("bash").success());
    counted.join().expect("the root listener");
    start.elapsed().as_secs_f64()
}

fn rate(mib: u64, seconds: f64) -> f64 {
    mib as f64 / seconds
}

fn report(what: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = sorted.iter().map(|d| ms(*d)).sum::<f64>() / sorted.len() as f64;
    let (min, max) = (ms(sorted[0]), ms(sorted[sorted.len() - 1]));
    println!(
        "{what}: mean {mean:.1} ms, min {min:.1} ms, max {max:.1} ms ({} runs)",
        sorted.len()
    );
}
