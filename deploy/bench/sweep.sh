#!/usr/bin/env bash
# The sweep benchmark of issue 11: 20 tasks made from datasets inside Python wheels
# (make_tasks.py, MLE-bench layout, synthetic leaderboards) × $SEEDS seeds (default 3) with
# the baseline author, run by `aide bench` on this machine with $SLOTS runner slots (default
# 2, as many cells at once); prints wall time, cells per hour, slot utilisation, the aide process's CPU and memory,
# and the report. Build first: cargo build --release -p aide-cli. $STEPS sets the steps per
# run (default 4); $AIDE_BENCH_WORK keeps the work directory somewhere of your choosing.
set -euo pipefail
cd "$(dirname "$0")/../.."
aide="${CARGO_TARGET_DIR:-target}/release/aide"
[ -x "$aide" ] || { echo "build first: cargo build --release -p aide-cli" >&2; exit 2; }
venv=/var/cache/aide/bench-gen
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sklearn, statsmodels' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check scikit-learn pandas statsmodels
fi
work="${AIDE_BENCH_WORK:-$(mktemp -d /var/tmp/aide-sweep-XXXX)}"
mkdir -p "$work"
"$venv/bin/python" deploy/bench/make_tasks.py "$work" --seeds "${SEEDS:-3}" \
  --steps "${STEPS:-4}" --cells-at-once "${SLOTS:-2}"
python3 deploy/bench/sweep.py --aide "$aide" --work "$work" --slots "${SLOTS:-2}"
