"""Compares the search policies through `aide bench` arms (greedy, mcts, evolutionary) with
the offline baseline author: the first --tasks tasks of make_tasks.py × --seeds seeds × the
three policies, run on this machine. Prints, per policy:

- the best score per task, mean ± SEM over seeds (graded on the held-back answers);
- the mean rank of the policy over every (task, seed) pair (1 = best; ties share the mean);
- orchestration time per node: a node's life (created → reviewed) minus its executions'
  spans and its model calls' latency, mean and p50 over the policy's nodes; and, apart, the
  dispatch and sandbox time (an execution's span minus the script's own run time: waiting
  for a runner slot, starting the sandbox, collecting files).

    python3 deploy/bench/policies.py --aide target/release/aide [--tasks 10] [--seeds 3]
        [--steps 10] [--slots 2] [--work DIR]

The baseline author is not an LLM: the comparison shows that the policies' machinery works
end to end, not which policy wins with a real model.
"""

import argparse
import json
import math
import pathlib
import sqlite3
import statistics
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
POLICIES = ["greedy", "mcts", "evolutionary"]
LOWER_IS_BETTER = {"rmse", "rmsle", "mae", "log_loss"}
GENERATOR_VENV = pathlib.Path("/var/cache/aide/bench-gen")


def generator_python():
    """The interpreter make_tasks.py needs (scikit-learn and statsmodels), made once."""
    python = GENERATOR_VENV / "bin" / "python"
    check = [str(python), "-c", "import sklearn, statsmodels"]
    if not python.exists() or subprocess.run(check, capture_output=True).returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", str(GENERATOR_VENV)], check=True)
        subprocess.run([str(GENERATOR_VENV / "bin" / "pip"), "install", "--quiet",
                        "scikit-learn", "pandas", "statsmodels"], check=True)
    return str(python)


def mean_sem(values):
    if not values:
        return None
    mean = statistics.fmean(values)
    sem = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, sem


def ranks(scores, lower_is_better):
    """Rank of each arm's score (1 = best, ties share their mean rank, missing = last)."""
    present = {arm: s for arm, s in scores.items() if s is not None}
    ordered = sorted(present, key=lambda arm: present[arm], reverse=not lower_is_better)
    out, i = {}, 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and present[ordered[j + 1]] == present[ordered[i]]:
            j += 1
        for arm in ordered[i:j + 1]:
            out[arm] = (i + j) / 2 + 1
        i = j + 1
    for arm in scores:
        out.setdefault(arm, float(len(scores)))
    return out


def orchestration_per_node(db, sweep_id):
    """Per arm, per reviewed node, in ms: the coordinator's share (the node's life minus its
    executions' spans and its model calls' latency) and the dispatch share (the executions'
    spans minus the scripts' own wall time: waiting for a runner slot, starting the sandbox,
    collecting its files)."""
    rows = db.execute(
        """
        SELECT c.arm_idx, n.updated_at - n.created_at,
               COALESCE((SELECT SUM(e.finished_at - e.started_at) FROM executions e
                         WHERE e.node_id = n.id AND e.finished_at IS NOT NULL), 0),
               COALESCE((SELECT SUM(e.wall_secs) FROM executions e WHERE e.node_id = n.id), 0),
               COALESCE((SELECT SUM(l.latency_ms) FROM llm_calls l WHERE l.node_id = n.id), 0)
        FROM sweep_cells c JOIN nodes n ON n.run_id = c.run_id
        WHERE c.sweep_id = ? AND n.stage = 'reviewed'
        """,
        (sweep_id,),
    ).fetchall()
    per_arm = {}
    for arm, life_ms, span_ms, wall_secs, llm_ms in rows:
        coordinator = max(0.0, life_ms - span_ms - llm_ms)
        dispatch = max(0.0, span_ms - wall_secs * 1000)
        per_arm.setdefault(arm, []).append((coordinator, dispatch))
    return per_arm


def mean_p50(values):
    return f"{statistics.fmean(values):.1f} ms ({statistics.median(values):.1f} ms)" if values else "—"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--aide", required=True)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--work", type=pathlib.Path, default=None)
    args = parser.parse_args()
    work = args.work or pathlib.Path(tempfile.mkdtemp(prefix="aide-policies-", dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [generator_python(), str(HERE / "make_tasks.py"), str(work), "--seeds", str(args.seeds),
         "--steps", str(args.steps), "--cells-at-once", str(args.slots),
         "--tasks", str(args.tasks), "--arms", ",".join(POLICIES)],
        check=True,
    )
    subprocess.run(
        [sys.executable, str(HERE / "sweep.py"), "--aide", args.aide, "--work", str(work),
         "--slots", str(args.slots)],
        check=True,
    )
    db = sqlite3.connect(work / "bench" / "bench.db")
    (sweep_id,) = db.execute("SELECT id FROM sweeps ORDER BY created_at DESC LIMIT 1").fetchone()
    tasks = (work / "competitions.txt").read_text().split()
    metrics = dict(
        line.replace('"', "").split(" = ")
        for line in (work / "spec.toml").read_text().splitlines()
        if line.startswith('"') and " = " in line
    )
    scores = {}  # (task, seed) -> {arm: score}
    for task_idx, arm_idx, seed, grade in db.execute(
        "SELECT task_idx, arm_idx, seed, grade FROM sweep_cells WHERE sweep_id = ?", (sweep_id,)
    ):
        score = json.loads(grade).get("score") if grade else None
        scores.setdefault((task_idx, seed), {})[POLICIES[arm_idx]] = score
    print(f"\nsweep {sweep_id}: {len(tasks)} tasks × {args.seeds} seeds × {len(POLICIES)} policies, "
          f"{args.steps} steps each, baseline author (not an LLM)\n")
    print("| task | metric | " + " | ".join(POLICIES) + " |")
    print("|---|---|" + "---|" * len(POLICIES))
    rank_sums = {p: [] for p in POLICIES}
    for task_idx, task in enumerate(tasks):
        metric = metrics.get(task, "?")
        cells = []
        for policy in POLICIES:
            values = [s[policy] for (t, _), s in scores.items() if t == task_idx and s.get(policy) is not None]
            estimate = mean_sem(values)
            cells.append("—" if estimate is None else f"{estimate[0]:.4f} ± {estimate[1]:.4f}")
        for (t, _), s in scores.items():
            if t == task_idx:
                for policy, rank in ranks({p: s.get(p) for p in POLICIES}, metric in LOWER_IS_BETTER).items():
                    rank_sums[policy].append(rank)
        print(f"| {task} | {metric} | " + " | ".join(cells) + " |")
    orchestration = orchestration_per_node(db, sweep_id)
    print("\n| policy | mean rank | orchestration per node, mean (p50) | dispatch and sandbox per node, mean (p50) | nodes |")
    print("|---|---|---|---|---|")
    for arm_idx, policy in enumerate(POLICIES):
        shares = orchestration.get(arm_idx, [])
        rank = statistics.fmean(rank_sums[policy]) if rank_sums[policy] else float("nan")
        coordinator = mean_p50([c for c, _ in shares])
        dispatch = mean_p50([d for _, d in shares])
        print(f"| {policy} | {rank:.2f} | {coordinator} | {dispatch} | {len(shares)} |")


if __name__ == "__main__":
    main()
