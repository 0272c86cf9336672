# aide sandbox bootstrap, run by the runner in front of every solution. Two modes:
#
#   python -u -s -c <this> run MEM CPU FSIZE NPROC UID
#     A cold start: merges stderr into stdout (one ordered stream), applies the rlimits it is
#     given (0 = leave alone), drops to UID when it is >= 0 (the runner is root), then runs
#     ./solution.py as __main__.
#
#   python -u -s -c <this> serve PRELOAD
#     A warm interpreter (a fork server) for one runner slot: imports the comma-separated
#     PRELOAD modules once, says it is ready, then serves requests on stdin, a Unix socket
#     held by the runner. A request is a 4-byte big-endian length and a JSON object, with the
#     script's output descriptor attached (SCM_RIGHTS). The server forks; the child leaves
#     the server's loop (nothing of it stays on the stack), takes the output as fds 1 and 2,
#     starts its own session, enters the slot's network namespace when asked, moves to the
#     request's directory, replaces its whole environment, reseeds the random generators, and
#     then runs exactly what a cold start runs. The server itself never runs a script, so
#     every child starts from the same clean copy. It replies {"pid": ...} after the fork and
#     {"code": ..., "utime": ..., "stime": ..., "maxrss": ...} once the child has ended.
#
#   python -u -s -c <this> serve-stdio PRELOAD
#     The same fork server inside a warm container, run as the container's root with only
#     the capabilities to change uid: requests are JSON lines on stdin, and everything it
#     says goes to stdout in frames (a kind byte, a 4-byte big-endian length, the payload):
#     "o" frames carry the script's output, which it relays from a pipe of its own, and "c"
#     frames carry the replies above. The script runs as the request's uid and cannot write to
#     the server's stdout, so it cannot forge a frame. Once the script has ended, every
#     process of its uid is killed; its working/ (which the runner reads in between) and its
#     files in /tmp and /dev/shm are removed before the next script of the container starts.
#
# In both modes an uncaught exception prints a traceback that starts at the solution's own
# frames (the bootstrap's frames are cut) and exits with 1.
import os
import sys


def _aide_limit_and_drop(mem, cpu, fsize, nproc, uid):
    import resource

    for name, value in (
        ("RLIMIT_AS", mem),
        ("RLIMIT_CPU", cpu),
        ("RLIMIT_FSIZE", fsize),
        ("RLIMIT_NPROC", nproc),
    ):
        if value > 0:
            try:
                resource.setrlimit(getattr(resource, name), (value, value))
            except (ValueError, OSError):
                pass
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if uid >= 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _aide_exit_fast(code):
    """Ends a forked script as the interpreter's exit would (non-daemon threads joined, atexit
    handlers run, streams flushed) without tearing down the modules it shares with its
    server, which would cost more than the script itself."""
    import atexit
    import threading

    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    try:
        threading._shutdown()
    except AttributeError:
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code & 0xFF)


def _aide_run_solution(forked):
    import runpy
    import traceback

    sys.argv = ["solution.py"]
    try:
        runpy.run_path("solution.py", run_name="__main__")
        if forked:
            _aide_exit_fast(0)
    except SystemExit as exit:
        if forked:
            _aide_exit_fast(exit.code)
        raise
    except BaseException as exc:  # noqa: BLE001 - report everything the script raised
        tb = exc.__traceback__
        while tb is not None and not tb.tb_frame.f_code.co_filename.endswith("solution.py"):
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


def _aide_preload(names):
    """Imports `names` (comma-separated); returns those that failed."""
    import gc

    # What every fork needs itself, so that no child pays for importing it; runpy's first
    # run imports more still (tens of milliseconds), so it runs once on nothing.
    import resource, runpy, traceback  # noqa: F401,E401

    runpy.run_path(os.devnull)
    missing = _aide_import_all(names)
    # The preloaded objects are never collected: a fork's collections then leave their
    # pages shared instead of copying them.
    gc.freeze()
    return missing


def _aide_import_all(names):
    import importlib

    missing = []
    for name in filter(None, names.split(",")):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that fails to load is reported, not fatal
            missing.append(name)
    return missing


def _aide_reply(sock, **fields):
    import json

    sock.sendall(json.dumps(fields).encode() + b"\n")


def _aide_receive(sock):
    """One request and its output descriptor; None when the runner has gone."""
    import json
    import socket
    import struct

    head, fds, _, _ = socket.recv_fds(sock, 1 << 16, 1)
    if not head:
        return None
    while len(head) < 4 or len(head) < 4 + struct.unpack(">I", head[:4])[0]:
        more = sock.recv(1 << 16)
        if not more:
            return None
        head += more
    if len(fds) != 1:
        raise RuntimeError("a request came without its output descriptor")
    return json.loads(head[4:]), fds[0]


_AIDE_CLONE_NEWNET = 0x40000000


def _aide_libc_call(name, *args):
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        raise OSError(ctypes.get_errno(), name)


def _aide_slot_netns():
    """A network namespace of the slot's own, made once (unshare costs ~10 ms, entering one
    almost nothing): a helper enters a new one, and the server keeps it open by descriptor.
    Only a downed loopback is in it, and a script without capabilities cannot change that;
    what a script binds there dies with its processes."""
    ready_r, ready_w = os.pipe()
    holder = os.fork()
    if holder == 0:
        try:
            import time

            os.close(ready_r)
            _aide_libc_call("unshare", _AIDE_CLONE_NEWNET)
            os.write(ready_w, b"1")
            time.sleep(3600)  # until the server has opened the namespace and kills it
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError("the network namespace could not be made")
        return os.open(f"/proc/{holder}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.kill(holder, 9)
        os.waitpid(holder, 0)


def _aide_enter(request, out_fd, netns):
    """In the forked child: everything a cold start gets from the runner's spawn."""
    import signal

    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(0, "r", closefd=False)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    if netns is not None:
        _aide_libc_call("setns", netns, _AIDE_CLONE_NEWNET)
    os.closerange(3, 1 << 16)
    os.chdir(request["cwd"])
    if request["env"] is not None:
        os.environ.clear()
        os.environ.update(request["env"])
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _aide_say_failed(exc, out_fd):
    """A fork that could not set itself up says why in its output and exits with 125."""
    message = f"aide: the sandbox could not start: {exc!r}\n".encode()
    for fd in (out_fd, 2):
        try:
            os.write(fd, message)
            break
        except OSError:
            continue
    os._exit(125)


def _aide_serve(preload):
    """Serves fork requests; returns (in a child only) the limits the child must apply."""
    import socket

    sock = socket.socket(fileno=0)
    _aide_reply(sock, ready=True, missing=_aide_preload(preload))
    netns = None
    while True:
        received = _aide_receive(sock)
        if received is None:
            os._exit(0)
        request, out_fd = received
        if request["isolate_network"] and netns is None:
            netns = _aide_slot_netns()
        pid = os.fork()
        if pid == 0:
            try:
                sock.detach()
                _aide_enter(request, out_fd, netns if request["isolate_network"] else None)
                return request["limits"]
            except BaseException as exc:  # noqa: BLE001 - the runner reads it as output
                _aide_say_failed(exc, out_fd)
        os.close(out_fd)
        _aide_reply(sock, pid=pid)
        _, status, usage = os.wait4(pid, 0)
        _aide_reply(
            sock,
            code=os.waitstatus_to_exitcode(status),
            utime=usage.ru_utime,
            stime=usage.ru_stime,
            maxrss=usage.ru_maxrss,
        )


def _aide_write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _aide_frame(kind, payload):
    _aide_write_all(1, kind + len(payload).to_bytes(4, "big") + payload)


def _aide_control(**fields):
    import json

    _aide_frame(b"c", json.dumps(fields).encode())


def _aide_as_user(uid, work):
    """Runs work() in a child that has dropped to uid, and waits for it."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            work()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _aide_kill_everything_of(uid):
    """Kills every process of uid (the server is root, so only a process of uid itself may
    signal them) and reaps them: the server is the container's first process, so whatever
    the script left is re-parented to it."""
    import signal
    import time

    def kill_all():
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass

    for _ in range(1000):
        _aide_reap()
        left = [p for p in os.listdir("/proc") if p.isdigit() and _aide_owner(p) == uid]
        if not left:
            return
        if any(_aide_running(p) for p in left):
            _aide_as_user(uid, kill_all)
        time.sleep(0.002)


def _aide_reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _aide_owner(pid):
    try:
        return os.stat("/proc/" + pid).st_uid
    except OSError:
        return None


def _aide_running(pid):
    """Whether process pid is not (yet) a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _aide_clean_up_after(uid, cwd):
    """Removes what uid left: working/ (read by the runner since) and its files in /tmp and
    /dev/shm."""

    def remove():
        _aide_remove_entries(os.path.join(cwd, "working"))
        for scratch in ("/tmp", "/dev/shm"):
            _aide_remove_entries(scratch, uid)

    _aide_as_user(uid, remove)


def _aide_remove_entries(directory, uid=None):
    import shutil

    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            if uid is not None and os.lstat(path).st_uid != uid:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _aide_relay(pid, out_r, woken_r):
    """Relays the script's output as frames until it has ended; returns its wait4 result.
    woken_r becomes readable on SIGCHLD, so the end is seen at once even while a leftover
    process still holds the output pipe."""
    import select

    while True:
        ready, _, _ = select.select([out_r, woken_r], [], [], 1.0)
        if woken_r in ready:
            os.read(woken_r, 1 << 10)
        if out_r in ready:
            data = os.read(out_r, 1 << 16)
            if data:
                _aide_frame(b"o", data)
            else:
                return os.wait4(pid, 0)
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got == pid:
            return got, status, usage


def _aide_drain(out_r):
    """Relays what the script's processes left in the pipe (they are dead: EOF comes)."""
    while True:
        data = os.read(out_r, 1 << 16)
        if not data:
            return
        _aide_frame(b"o", data)


def _aide_write_script(cwd, code):
    """Replaces cwd/solution.py (root's, read-only) with code."""
    path = os.path.join(cwd, "solution.py")
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as out:
        out.write(code)
    os.chmod(partial, 0o444)
    os.replace(partial, path)


def _aide_serve_stdio(preload):
    """The warm container's server; returns (in a child only) the limits it must apply."""
    import json
    import signal

    woken_r, woken_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(woken_w)
    _aide_control(ready=True, missing=_aide_preload(preload))
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            os._exit(0)
        request = json.loads(line)
        uid = request["limits"][4]
        _aide_clean_up_after(uid, request["cwd"])
        if request.get("script") is not None:
            _aide_write_script(request["cwd"], request["script"])
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(out_r)
                _aide_enter(request, out_w, None)
                return request["limits"]
            except BaseException as exc:  # noqa: BLE001 - the runner reads it as output
                _aide_say_failed(exc, out_w)
        os.close(out_w)
        _aide_control(pid=pid)
        _, status, usage = _aide_relay(pid, out_r, woken_r)
        _aide_kill_everything_of(uid)
        _aide_drain(out_r)
        os.close(out_r)
        _aide_control(
            code=os.waitstatus_to_exitcode(status),
            utime=usage.ru_utime,
            stime=usage.ru_stime,
            maxrss=usage.ru_maxrss,
        )


def _aide_bootstrap():
    forked = sys.argv[1] in ("serve", "serve-stdio")
    if sys.argv[1] == "serve":
        limits = _aide_serve(sys.argv[2])
    elif sys.argv[1] == "serve-stdio":
        limits = _aide_serve_stdio(sys.argv[2])
    else:
        os.dup2(1, 2)
        limits = [int(a) for a in sys.argv[2:7]]
    _aide_limit_and_drop(*limits)
    _aide_run_solution(forked)


_aide_bootstrap()
