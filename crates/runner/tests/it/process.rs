//! The process backend end to end through the gRPC service: results, exceptions, limits,
//! isolation that the backend guarantees (as root: own uid, no network, no writes outside
//! working/), cancellation, and cleanup.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::*;
use aide_proto::v1::Limits;

/// Each test gets its own sandbox uids so parallel tests never kill each other's scripts.
const UID_BASE: u32 = 21000;

#[tokio::test]
async fn success_returns_the_submission_and_merged_ordered_output() {
    let h = Harness::process(1, UID_BASE).await;
    let data = shared_tempdir();
    let input = input_dir(data.path());
    let mut req = request(
        "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')\n\
         rows = open('input/train.csv').read().splitlines()\n\
         open('working/submission.csv', 'w').write('id,y\\n' + str(len(rows)) + '\\n')\n\
         open('working/extra.txt', 'w').write('x')\n",
    );
    req.local_input_dir = input.to_string_lossy().into_owned();
    req.submission_file = "submission.csv".into();
    req.collect_globs = vec!["*.txt".into()];
    let out = h.run(req).await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(0), "{}", f.output);
    assert!(f.sandbox_error.is_empty());
    assert_eq!(f.output, "a\nb\nc\n");
    assert_eq!(out.streamed(), f.output);
    assert_eq!(f.output_bytes, 6);
    assert!(
        out.started
            .as_ref()
            .is_some_and(|s| s.sandbox_id.starts_with("pgid-"))
    );
    let names: Vec<_> = f.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["submission.csv", "extra.txt"]);
    assert_eq!(f.files[0].content, b"id,y\n3\n");
    assert!(secs(&f.wall_time) > 0.0 && f.peak_memory_bytes > 1 << 20);
    h.stop().await;
}

#[tokio::test]
async fn an_exception_is_parsed_with_its_line_in_the_solution() {
    let h = Harness::process(1, UID_BASE + 10).await;
    let out = h
        .run(request(
            "def f(d):\n    return d['missing']\n\nprint('before')\nf({})\n",
        ))
        .await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(1));
    let e = f.exception.as_ref().expect("exception");
    assert_eq!(e.r#type, "KeyError");
    assert_eq!(e.message, "'missing'");
    assert_eq!(e.line, 2);
    assert!(e.traceback.contains("solution.py"), "{}", e.traceback);
    assert!(
        !e.traceback.contains("runpy"),
        "bootstrap frames leak: {}",
        e.traceback
    );
    h.stop().await;
}

#[tokio::test]
async fn an_infinite_loop_times_out_and_the_group_is_killed() {
    let h = Harness::process(1, UID_BASE + 20).await;
    let started = Instant::now();
    let out = h
        .run(with_timeout(
            request("import signal, subprocess\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsubprocess.Popen(['sleep', '300'])\nwhile True:\n    pass\n"),
            1,
        ))
        .await;
    let f = &out.finished;
    assert!(f.timed_out, "{f:?}");
    assert_eq!(f.exit_code, None);
    assert!(!f.cancelled);
    // 1 s limit + 1 s grace (SIGTERM ignored) + slack.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(secs(&f.cpu_time) > 0.3, "cpu {:?}", f.cpu_time);
    if is_root() {
        assert!(!aide_runner::procfs::uid_has_processes(UID_BASE + 20));
    }
    h.stop().await;
}

#[tokio::test]
async fn a_memory_bomb_is_reported_as_oom() {
    let h = Harness::process(1, UID_BASE + 30).await;
    let mut req = request("x = []\nwhile True:\n    x.append(bytearray(50 << 20))\n");
    req.limits = Some(Limits {
        memory_bytes: 512 << 20,
        ..req.limits.unwrap_or_default()
    });
    let out = h.run(req).await;
    let f = &out.finished;
    assert!(f.oom_killed, "{f:?}");
    assert_ne!(f.exit_code, Some(0));
    assert_eq!(
        f.exception.as_ref().map(|e| e.r#type.as_str()),
        Some("MemoryError")
    );
    h.stop().await;
}

#[tokio::test]
async fn a_fork_bomb_is_contained_by_the_process_limit() {
    if !is_root() {
        eprintln!("\n!!! SKIPPED: RLIMIT_NPROC only binds a dedicated uid, which needs root\n");
        return;
    }
    let uid = UID_BASE + 40;
    let h = Harness::process(1, uid).await;
    let mut req = request(
        "import os, time\nn = 0\ntry:\n    for _ in range(10000):\n        if os.fork() == 0:\n            time.sleep(300)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print('refused after', n, type(e).__name__)\n",
    );
    req.limits = Some(Limits {
        pids: 16,
        ..req.limits.unwrap_or_default()
    });
    let out = h.run(req).await;
    let f = &out.finished;
    assert_eq!(f.exit_code, Some(0), "{}", f.output);
    let n: u32 = f
        .output
        .strip_prefix("refused after ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("fork was never refused: {}", f.output));
    assert!(n < 16, "{n} forks succeeded");
    assert!(
        !aide_runner::procfs::uid_has_processes(uid),
        "forked children survived"
    );
    h.stop().await;
}

#[tokio::test]
async fn network_egress_is_refused() {
    if !is_root() {
        eprintln!(
            "\n!!! SKIPPED: the process backend isolates the network only as root (unshare --net)\n"
        );
        return;
    }
    let h = Harness::process(1, UID_BASE + 50).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let code = format!(
        "import socket\nfor host in ('127.0.0.1', '1.1.1.1'):\n    try:\n        socket.create_connection((host, {port}), timeout=2)\n        print('connected', host)\n    except OSError as e:\n        print('refused', host, type(e).__name__)\n"
    );
    let out = h.run(request(&code)).await;
    let f = &out.finished;
    assert!(!f.output.contains("connected"), "{}", f.output);
    assert_eq!(f.output.matches("refused").count(), 2, "{}", f.output);
    h.stop().await;
}

#[tokio::test]
async fn writes_outside_working_are_refused() {
    if !is_root() {
        eprintln!(
            "\n!!! SKIPPED: without root the script runs as the runner's user and can write where it can\n"
        );
        return;
    }
    let h = Harness::process(1, UID_BASE + 60).await;
    let data = shared_tempdir();
    let input = input_dir(data.path());
    let code = "import os\nfor p in ('/etc/aide_escape', '/usr/aide_escape', 'input/aide_escape', 'input/train.csv', 'solution.py', 'escape.txt'):\n    try:\n        open(p, 'a').write('x')\n        print('WROTE', p)\n    except OSError as e:\n        print('refused', p, type(e).__name__)\nopen('working/ok.txt', 'w').write('fine')\nprint('working ok')\n";
    let mut req = request(code);
    req.local_input_dir = input.to_string_lossy().into_owned();
    let out = h.run(req).await;
    let f = &out.finished;
    assert!(!f.output.contains("WROTE"), "{}", f.output);
    assert_eq!(f.output.matches("refused").count(), 6, "{}", f.output);
    assert!(f.output.contains("working ok"));
    assert!(!std::path::Path::new("/etc/aide_escape").exists());
    assert_eq!(
        std::fs::read_to_string(input.join("train.csv")).unwrap(),
        "x,y\n1,2\n3,4\n"
    );
    h.stop().await;
}

#[tokio::test]
async fn the_environment_is_scrubbed() {
    let h = Harness::process(1, UID_BASE + 70).await;
    let out = h
        .run(request(
            "import os\nfor k in sorted(os.environ):\n    print(k)\n",
        ))
        .await;
    let keys: Vec<&str> = out.finished.output.lines().collect();
    for k in &keys {
        assert!(
            [
                "PATH",
                "HOME",
                "LANG",
                "LC_ALL",
                "PYTHONUNBUFFERED",
                "PYTHONDONTWRITEBYTECODE",
                "MPLBACKEND",
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS",
                "LC_CTYPE",
            ]
            .contains(k),
            "unexpected variable {k} in {keys:?}"
        );
    }
    h.stop().await;
}

#[tokio::test]
async fn cancel_and_disconnect_kill_within_two_seconds() {
    let uid = UID_BASE + 80;
    let h = Harness::process(1, uid).await;
    // Cancel by work context.
    let req = request("import time\nprint('ready', flush=True)\ntime.sleep(300)\n");
    let work = req.work.clone().unwrap();
    let mut client = h.client.clone();
    let mut stream = client.execute(req).await.expect("execute").into_inner();
    wait_for_output(&mut stream, "ready").await;
    let t = Instant::now();
    assert!(h.cancel(work.clone()).await);
    let out = collect(stream).await;
    assert!(
        out.finished.cancelled && !out.finished.timed_out,
        "{:?}",
        out.finished
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(!h.cancel(work).await, "a finished execution is not found");

    // A caller that goes away.
    let req = request("import time\nprint('ready', flush=True)\ntime.sleep(300)\n");
    let mut stream = client.execute(req).await.expect("execute").into_inner();
    wait_for_output(&mut stream, "ready").await;
    let t = Instant::now();
    drop(stream);
    loop {
        let gone = !is_root() || !aide_runner::procfs::uid_has_processes(uid);
        let free = client.execute(request("pass\n")).await.is_ok();
        if gone && free {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "still running after {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn fifty_executions_leave_nothing_behind() {
    let uid = UID_BASE + 90;
    let h = Harness::process(2, uid).await;
    for i in 0..50 {
        let code = format!(
            "import subprocess\nsubprocess.Popen(['sleep', '300'])\nopen('working/f.txt', 'w').write('{i}')\nprint({i})\n"
        );
        let out = h.run(request(&code)).await;
        assert_eq!(out.finished.exit_code, Some(0), "{}", out.finished.output);
        assert_eq!(out.finished.output, format!("{i}\n"));
    }
    // Only the slots' kept quota file systems (as root) stay while the runner runs.
    let left: Vec<_> = h
        .leftover_dirs()
        .into_iter()
        .filter(|d| !d.ends_with("quota"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    if is_root() {
        assert!(!aide_runner::procfs::uid_has_processes(uid));
        assert!(!aide_runner::procfs::uid_has_processes(uid + 1));
    }
    let work_root = h.work_root.clone();
    h.stop().await;
    let after_stop: Vec<_> = std::fs::read_dir(&work_root)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(after_stop.is_empty(), "{after_stop:?}");
}

#[tokio::test]
async fn long_output_is_streamed_whole_and_kept_bounded() {
    let h = Harness::process(1, UID_BASE + 100).await;
    let mut req = request(
        "import sys\nfor i in range(20000):\n    print(f'line {i:05d} ' + 'é' * 20)\nsys.stdout.buffer.write(b'bad \\xff end\\n')\n",
    );
    req.limits = Some(Limits {
        max_output_bytes: 4096,
        ..req.limits.unwrap_or_default()
    });
    let out = h.run(req).await;
    let f = &out.finished;
    let streamed = out.streamed();
    assert_eq!(f.output_bytes, 20000 * 52 + 10);
    assert!(streamed.starts_with("line 00000 é") && streamed.ends_with("bad \u{fffd} end\n"));
    let mut offset = 0;
    for c in &out.chunks {
        assert_eq!(c.offset, offset);
        offset += c.text.len() as u64; // valid UTF-8 chunks: text bytes == raw bytes
        if c.text.contains('\u{fffd}') {
            offset -= 2; // one raw byte became a 3-byte U+FFFD
        }
    }
    assert!(f.output.len() < 4200, "{}", f.output.len());
    assert!(f.output.contains("bytes omitted") && f.output.ends_with("bad \u{fffd} end\n"));
    h.stop().await;
}

async fn wait_for_output(stream: &mut tonic::Streaming<aide_proto::v1::ExecuteEvent>, text: &str) {
    use aide_proto::v1::execute_event::Event;
    use tokio_stream::StreamExt;
    while let Some(ev) = stream.next().await {
        if let Some(Event::Output(c)) = ev.expect("event").event
            && c.text.contains(text)
        {
            return;
        }
    }
    panic!("stream ended before {text:?}");
}

#[tokio::test]
async fn a_caller_that_does_not_read_cannot_delay_the_timeout() {
    let h = Harness::process(1, UID_BASE + 110).await;
    let mut client = h.client.clone();
    let req = with_timeout(request("while True:\n    print('x' * 1000)\n"), 1);
    let stream = client.execute(req).await.expect("execute").into_inner();
    // Read nothing for a while: the runner must not wait for us.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let out = collect(stream).await;
    let f = &out.finished;
    assert!(f.timed_out, "{f:?}");
    assert!(secs(&f.wall_time) < 3.5, "wall {:?}", f.wall_time);
    assert!(f.output_bytes > 1 << 20, "{}", f.output_bytes);
    // Streamed chunks are in order; a gap is visible in the offsets, never an overlap.
    let mut end = 0;
    for c in &out.chunks {
        assert!(c.offset >= end, "overlap at {}", c.offset);
        end = c.offset + c.text.len() as u64;
    }
    h.stop().await;
}

/// As root each slot is another uid; a task directory only its owner can enter (0700, as
/// `mktemp -d` makes) must still be readable by the script, as a copy, without touching it.
#[tokio::test]
async fn a_private_input_directory_is_readable_by_the_sandbox_user() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: only root runs scripts as other users");
        return;
    }
    let h = Harness::process(1, UID_BASE + 120).await;
    let private = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    let input = private.path().join("data");
    std::fs::create_dir(&input).expect("dir");
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    std::fs::write(input.join("train.csv"), "a,b\n1,2\n").expect("write");
    std::fs::set_permissions(
        input.join("train.csv"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let mut req = request("import os\nprint(os.getuid() != 0, open('input/train.csv').read())\n");
    req.local_input_dir = input.to_string_lossy().into_owned();
    let out = h.run(req).await;
    assert_eq!(out.finished.exit_code, Some(0), "{}", out.finished.output);
    assert_eq!(out.finished.output, "True a,b\n1,2\n\n");
    let mode = std::fs::metadata(&input)
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "the user's directory is left as it was");
    h.stop().await;
}

/// A batch system stopping a job (Slurm's `scancel`) signals every process of it, the
/// scripts too: a script killed that way while the runner drains is handed back as
/// cancelled (the coordinator runs it again elsewhere), never blamed on the script.
#[tokio::test]
async fn a_script_killed_from_outside_while_draining_is_handed_back() {
    use aide_proto::v1::execute_event::Event;
    use tokio_stream::StreamExt;
    let h = Harness::process(1, UID_BASE + 130).await;
    let mut client = h.client.clone();
    let code = "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(300)\n";
    let mut stream = client
        .execute(request(code))
        .await
        .expect("execute")
        .into_inner();
    // Output may come in pieces: read up to the end of the first line.
    let mut printed = String::new();
    while !printed.contains('\n') {
        let event = stream.next().await.expect("a pid first").expect("event");
        if let Some(Event::Output(chunk)) = event.event {
            printed.push_str(&chunk.text);
        }
    }
    let pid = printed
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("pid "))
        .and_then(|pid| pid.trim().parse::<i32>().ok());
    let stopping = tokio::spawn(h.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = nix::unistd::Pid::from_raw(pid.expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal the script");
    let out = collect(stream).await;
    assert!(
        out.finished.cancelled && out.finished.exit_code.is_none(),
        "{:?}",
        out.finished
    );
    stopping.await.expect("stopped");
}
