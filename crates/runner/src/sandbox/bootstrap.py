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
#     starts its own session, enters a fresh network namespace when asked, moves to the
#     request's directory, replaces its whole environment, reseeds the random generators, and
#     then runs exactly what a cold start runs. The server itself never runs a script, so
#     every child starts from the same clean copy. It replies {"pid": ...} after the fork and
#     {"code": ..., "utime": ..., "stime": ..., "maxrss": ...} once the child has ended.
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


def _aide_run_solution():
    import runpy
    import traceback

    sys.argv = ["solution.py"]
    try:
        runpy.run_path("solution.py", run_name="__main__")
    except SystemExit:
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


def _aide_enter(request, out_fd):
    """In the forked child: everything a cold start gets from the runner's spawn."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.closerange(3, 1 << 16)
    if request["isolate_network"]:
        import ctypes

        clone_newnet = 0x40000000
        if ctypes.CDLL(None, use_errno=True).unshare(clone_newnet) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()


def _aide_serve(preload):
    """Serves fork requests; returns (in a child only) the limits the child must apply."""
    import socket

    sock = socket.socket(fileno=0)
    _aide_reply(sock, ready=True, missing=_aide_preload(preload))
    while True:
        received = _aide_receive(sock)
        if received is None:
            os._exit(0)
        request, out_fd = received
        pid = os.fork()
        if pid == 0:
            try:
                sock.detach()
                _aide_enter(request, out_fd)
                return request["limits"]
            except BaseException as exc:  # noqa: BLE001 - the runner reads it as output
                os.write(out_fd, f"aide: the sandbox could not start: {exc!r}\n".encode())
                os._exit(125)
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


def _aide_bootstrap():
    if sys.argv[1] == "serve":
        limits = _aide_serve(sys.argv[2])
    else:
        os.dup2(1, 2)
        limits = [int(a) for a in sys.argv[2:7]]
    _aide_limit_and_drop(*limits)
    _aide_run_solution()


_aide_bootstrap()
