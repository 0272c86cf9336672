#!/usr/bin/env bash
# Measures the task-data plane with release binaries on loopback (issue 9's numbers):
# `aide submit` of a synthetic task of $AIDE_BENCH_TASK_MIB MiB (default 1024) into a local
# aide-coordinator (upload throughput), the same submit again (nothing to upload), and the
# runner's cold fetch of the bundle (its "bundle materialized" log line) for that task and
# for house prices. Build first: cargo build --release -p aide-cli -p aide-coordinator
# -p aide-runner -p aide-gateway. Prints one line per number.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${CARGO_TARGET_DIR:-target}/release"
mib="${AIDE_BENCH_TASK_MIB:-1024}"
work="$(mktemp -d /var/tmp/aide-bench-XXXX)"
chmod 711 "$work"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

task="$work/synthetic"
mkdir -p "$task/data"
printf 'goal = "Predict y."\n[submission]\nrequired = false\n' >"$task/task.toml"
for i in $(seq 1 8); do
  head -c "$((mib * 1024 * 1024 / 8))" /dev/urandom >"$task/data/part-$i.bin"
done
printf 'x,y\n1,2\n3,4\n' >"$task/data/train.csv"

"$bin/aide-gateway" --listen 127.0.0.1:57052 >"$work/gateway.log" 2>&1 &
"$bin/aide-coordinator" --listen 127.0.0.1:57051 --database-url "sqlite:$work/aide.db" \
  --gateway http://127.0.0.1:57052 --data-dir "$work/data" --allow-process-runners \
  >"$work/coordinator.log" 2>&1 &
"$bin/aide-runner" --listen 127.0.0.1:57053 --coordinator http://127.0.0.1:57051 \
  --backend process --work-root "$work/runner" --cache-dir "$work/cache" \
  >"$work/runner.log" 2>&1 &
for port in 57051 57052 57053; do
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
sleep 1
# The coordinator's first start wrote an admin token; the client sends it.
export AIDE_TOKEN="$(cat "$work/data/bootstrap-admin-token")"

submit() { "$bin/aide" submit "$@" --server http://127.0.0.1:57051 --steps 1 2>"$work/submit.err"; }
t0=$(date +%s.%N); submit "$task" >/dev/null; t1=$(date +%s.%N)
bytes=$(du -sb "$task/data" | cut -f1)
awk -v b="$bytes" -v s="$(echo "$t1 - $t0" | bc)" \
  'BEGIN { printf "submit of a %.0f MiB task (hash + upload): %.2f s, %.0f MB/s\n", b/1048576, s, b/s/1e6 }'
t0=$(date +%s.%N); submit "$task" >/dev/null; t1=$(date +%s.%N)
printf 'unchanged re-submit (hash + nothing to upload): %.2f s (%s)\n' "$(echo "$t1 - $t0" | bc)" \
  "$(grep -o 'the server already holds.*' "$work/submit.err")"
submit data_dir=../shared/data/house_prices goal="Predict SalePrice." >/dev/null
for _ in $(seq 1 600); do
  [ "$(grep -c 'bundle materialized' "$work/runner.log" || true)" -ge 2 ] && break
  sleep 0.5
done
grep 'bundle materialized' "$work/runner.log" | sed 's/\x1b\[[0-9;]*m//g' |
  sed -E 's/.*bundle materialized//' | sed 's/^/runner cold fetch:/'
echo "(a warm fetch is a stat per file: see cargo bench -p aide-bundle --bench materialize)"
