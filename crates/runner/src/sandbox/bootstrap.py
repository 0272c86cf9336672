# aide sandbox bootstrap: run by the runner as `python -u -c <this> MEM CPU FSIZE NPROC UID`
# in front of the solution. It merges stderr into stdout (one ordered stream), applies the
# rlimits it is given (0 = leave alone), drops to UID when it is >= 0 (the runner is root),
# then runs ./solution.py as __main__. An uncaught exception prints a traceback that starts
# at the solution's own frames (the bootstrap's frames are cut) and exits with 1.
import os
import sys


def _aide_bootstrap():
    import resource
    import runpy
    import traceback

    os.dup2(1, 2)
    mem, cpu, fsize, nproc, uid = (int(a) for a in sys.argv[1:6])
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


_aide_bootstrap()
