"""Runs a sweep with `aide bench` on this machine and prints what it cost: wall time, cells
per hour, runner slot utilisation (execution time over slots × wall time), and the CPU time
and peak memory of the aide process (coordinator, gateway and runner in one process; the
scripts it runs are children and not counted). Then prints the sweep's Markdown report.

    python3 sweep.py --aide target/release/aide --work DIR [--slots 2]

DIR holds spec.toml (make_tasks.py writes it); the sweep's database goes to DIR/bench.
"""

import argparse
import os
import pathlib
import sqlite3
import subprocess
import time


def sample(pid):
    """(cpu seconds, peak resident bytes) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return cpu, peak


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--aide", required=True)
    parser.add_argument("--work", required=True, type=pathlib.Path)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    data = args.work / "bench"
    command = [args.aide, "bench", "--data-dir", str(data), "--slots", str(args.slots),
               "run", str(args.work / "spec.toml")]
    print("$", " ".join(command), flush=True)
    log = open(args.work / "bench.log", "w")
    started = time.time()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    cpu, peak = 0.0, 0
    while child.poll() is None:
        try:
            cpu, peak = sample(child.pid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        time.sleep(1)
    sweep_id = child.stdout.read().strip().splitlines()[-1]
    elapsed = time.time() - started
    print(f"aide bench exited {child.returncode} after {elapsed:.0f} s (log: {args.work / 'bench.log'})")
    db = sqlite3.connect(data / "bench.db")
    created, finished, status = db.execute(
        "SELECT created_at, finished_at, status FROM sweeps WHERE id = ?", (sweep_id,)
    ).fetchone()
    wall = ((finished or int(time.time() * 1000)) - created) / 1000
    cells = dict(db.execute(
        "SELECT status, COUNT(*) FROM sweep_cells WHERE sweep_id = ? GROUP BY status", (sweep_id,)
    ).fetchall())
    executed, executions = db.execute(
        "SELECT COALESCE(SUM(e.wall_secs), 0), COUNT(*) FROM executions e "
        "JOIN runs r ON r.id = e.run_id WHERE r.sweep_id = ?", (sweep_id,)
    ).fetchone()
    done = cells.get("graded", 0) + cells.get("failed", 0)
    print(f"sweep {sweep_id}: {status}, cells {cells}")
    print(f"wall time            {wall:.0f} s ({wall / 3600:.2f} h)")
    print(f"cells per hour       {done / wall * 3600:.1f}")
    print(f"executions           {executions} ({executed:.0f} s of script time)")
    print(f"slot utilisation     {100 * executed / (args.slots * wall):.1f} % of {args.slots} slots")
    print(f"aide process CPU     {cpu:.1f} s ({100 * cpu / wall:.1f} % of one core)")
    print(f"aide process peak RSS {peak / 2**20:.0f} MiB")
    report = subprocess.run(
        [args.aide, "bench", "--data-dir", str(data), "report", sweep_id,
         "--out", str(args.work / "report")],
        capture_output=True, text=True,
    )
    print(report.stdout)


if __name__ == "__main__":
    main()
