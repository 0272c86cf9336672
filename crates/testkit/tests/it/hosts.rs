//! Hosts of a [`Network`] reach each other and the root namespace by address, see only
//! what they do not hide, and reach root-namespace services through a forward; two
//! networks at once stay apart.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use aide_testkit::{ChildGuard, Hidden, Host, Network};

/// Runs a bash script inside `host`; bash's `/dev/tcp` is the TCP client, no curl needed.
pub fn bash(host: &Host, script: &str) -> Output {
    host.command("bash")
        .args(["-c", script])
        .output()
        .expect("bash runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `python3 -m http.server` on port 8000 of `host`, serving `dir`.
fn http_server(host: &Host, dir: &Path, log: &Path) -> ChildGuard {
    let mut command = host.command("python3");
    command
        .args([
            "-m",
            "http.server",
            "8000",
            "--bind",
            &host.addr().to_string(),
            "--directory",
        ])
        .arg(dir);
    let server = ChildGuard::spawn_logged(host.name(), &mut command, log);
    assert!(
        host.wait_for_port(8000, Duration::from_secs(30)),
        "{}",
        server.log()
    );
    server
}

fn http_get(script_host: &Host, addr: std::net::IpAddr, file: &str) -> Output {
    let script = format!(
        "exec 3<>/dev/tcp/{addr}/8000 && printf 'GET /{file} HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
    );
    bash(script_host, &script)
}

fn http_get_from_root(addr: std::net::SocketAddr, file: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    write!(stream, "GET /{file} HTTP/1.0\r\n\r\n").expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

#[test]
fn a_server_in_one_host_is_reachable_from_another_host_and_from_the_root_namespace() {
    let Some(mut net) = Network::require("reach") else {
        return;
    };
    let a = net.host("a", Hidden::none()).expect("host a");
    let b = net.host("b", Hidden::none()).expect("host b");
    assert_ne!(a.addr(), b.addr());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("hello.txt"), "hello from a").expect("write");
    let _server = http_server(&a, dir.path(), &dir.path().join("a.log"));

    let from_b = stdout(&http_get(&b, a.addr(), "hello.txt"));
    assert!(
        from_b.starts_with("HTTP/1.0 200") && from_b.ends_with("hello from a"),
        "{from_b}"
    );
    let from_root = http_get_from_root(a.socket_addr(8000), "hello.txt");
    assert!(from_root.ends_with("hello from a"), "{from_root}");
    // A's loopback is its own: nothing listens on B's 127.0.0.1:8000.
    assert!(
        !http_get(&b, "127.0.0.1".parse().expect("ip"), "hello.txt")
            .status
            .success()
    );

    // And the root namespace is reachable from a host at the network's root address.
    let root = TcpListener::bind((net.root_addr(), 0)).expect("bind on the root address");
    let port = root.local_addr().expect("address").port();
    let accept = std::thread::spawn(move || {
        let (mut peer, _) = root.accept().expect("accept");
        peer.write_all(b"hello from root").expect("write");
    });
    let script = format!("exec 3<>/dev/tcp/{}/{port} && cat <&3", net.root_addr());
    assert_eq!(stdout(&bash(&b, &script)), "hello from root");
    accept.join().expect("the root listener");
}

#[test]
fn a_hidden_directory_is_empty_and_read_only_inside_its_host_only() {
    let Some(mut net) = Network::require("hide") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, data, visible) = (
        dir.path().join("client"),
        dir.path().join("data"),
        dir.path().join("visible"),
    );
    for d in [&client, &visible] {
        std::fs::create_dir(d).expect("mkdir");
    }
    std::fs::write(client.join("train.csv"), "a,b\n1,2\n").expect("write");
    std::fs::write(visible.join("shared.txt"), "seen by all").expect("write");
    // `data` does not exist yet: hiding makes it, and what lands there later stays hidden.
    let b = net
        .host("b", Hidden::paths([&client, &data]))
        .expect("host b");
    let a = net.host("a", Hidden::none()).expect("host a");
    std::fs::write(data.join("blob"), "written after b was made").expect("write");
    assert_eq!(b.hidden(), [client.clone(), data.clone()]);

    let in_b = |script: String| bash(&b, &script);
    let csv = client.join("train.csv");
    assert!(!in_b(format!("test -e {}", csv.display())).status.success());
    assert!(!in_b(format!("cat {}", csv.display())).status.success());
    assert!(
        !in_b(format!("test -e {}", data.join("blob").display()))
            .status
            .success()
    );
    let listed = in_b(format!(
        "find {} {} -mindepth 1",
        client.display(),
        data.display()
    ));
    assert_eq!(stdout(&listed), "");
    assert!(
        !in_b(format!("touch {}", client.join("new").display()))
            .status
            .success()
    );
    assert_eq!(
        stdout(&in_b(format!(
            "cat {}",
            visible.join("shared.txt").display()
        ))),
        "seen by all"
    );

    // Host a hides nothing, and neither the root namespace nor a sees b's mounts.
    assert_eq!(
        stdout(&bash(&a, &format!("cat {}", csv.display()))),
        "a,b\n1,2\n"
    );
    assert!(csv.exists() && !client.join("new").exists());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains("aide-hidden"),
        "a hiding tmpfs leaked:\n{mounts}"
    );
}

#[test]
fn a_forward_gives_a_host_a_service_of_the_root_loopback() {
    let Some(mut net) = Network::require("fwd") else {
        return;
    };
    let server = net.host("server", Hidden::none()).expect("host");
    let root = TcpListener::bind("127.0.0.1:0").expect("bind");
    let target = root.local_addr().expect("address");
    let echo = std::thread::spawn(move || {
        let (mut peer, _) = root.accept().expect("accept");
        let mut line = [0u8; 5];
        peer.read_exact(&mut line).expect("read");
        peer.write_all(&[b"echo ", &line[..]].concat())
            .expect("write");
    });
    net.forward(&server, target.port(), target)
        .expect("forward");

    let script = format!(
        "exec 3<>/dev/tcp/127.0.0.1/{} && printf hello >&3 && cat <&3",
        target.port()
    );
    assert_eq!(stdout(&bash(&server, &script)), "echo hello");
    echo.join().expect("the root echo server");
}

#[test]
fn two_networks_at_once_get_their_own_subnets_names_and_traffic() {
    let made = std::thread::scope(|scope| {
        let one = scope.spawn(|| Network::require("twin"));
        let two = scope.spawn(|| Network::require("twin"));
        (one.join().expect("first"), two.join().expect("second"))
    });
    let (Some(mut one), Some(mut two)) = made else {
        return;
    };
    assert_ne!(one.subnet(), two.subnet());
    assert_ne!(one.root_link(), two.root_link());
    let h1 = one.host("h", Hidden::none()).expect("host in one");
    let h2 = two.host("h", Hidden::none()).expect("host in two");
    assert_ne!(h1.netns(), h2.netns());

    let dir = tempfile::tempdir().expect("tempdir");
    let (d1, d2) = (dir.path().join("1"), dir.path().join("2"));
    for (d, text) in [(&d1, "one"), (&d2, "two")] {
        std::fs::create_dir(d).expect("mkdir");
        std::fs::write(d.join("who"), text).expect("write");
    }
    let _s1 = http_server(&h1, &d1, &dir.path().join("1.log"));
    let _s2 = http_server(&h2, &d2, &dir.path().join("2.log"));
    assert!(http_get_from_root(h1.socket_addr(8000), "who").ends_with("one"));
    assert!(http_get_from_root(h2.socket_addr(8000), "who").ends_with("two"));
    // No route between the networks: their hosts know only their own subnet.
    let across = http_get(&h2, h1.addr(), "who");
    assert!(!across.status.success(), "{across:?}");
}
