#!/usr/bin/env bash
# The full chaos battery (issue 13's figures): 20 runs x 10 steps (baseline author) on two
# coordinator replicas, three Docker runners and a gateway over a PostgreSQL and a Redis of
# the battery's own, while a runner is killed (SIGKILL) every 10 s and started 5 s later,
# and once each a replica is killed and restarted, Redis is stopped for 30 s and PostgreSQL
# is restarted, at moments drawn from AIDE_CHAOS_SEED (default 2026). Then the same
# workload without faults, for the wall-time reference. Prints the figures of both runs.
# Needs what `cargo test` needs (deploy/dev/services.sh, the sandbox image); takes about
# half an hour on two cores. A short version runs in `cargo test` (one fault of each kind).
set -euo pipefail
cd "$(dirname "$0")/../.."
export AIDE_TEST_POSTGRES_URL="${AIDE_TEST_POSTGRES_URL:-postgres://aide:aide@127.0.0.1:5432/postgres}"
export AIDE_TEST_REDIS_URL="${AIDE_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export CI="${CI:-1}" # a missing service fails the battery instead of skipping it
exec cargo test -p aide-coordinator --test it -- --ignored --exact chaos::full_battery \
  --nocapture
