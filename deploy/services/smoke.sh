#!/usr/bin/env bash
# End-to-end smoke test of the compose deployment (docker-compose.yml): brings the stack up as
# project aide-smoke on spare 127.0.0.1 ports, waits for every service to be healthy, submits
# examples/diabetes with --steps 2 through the coordinator's API with the aide CLI and waits
# for the run to complete (offline baseline author: provider keys are not passed on), checks
# that no sandbox container is left, then `down -v`. Prints the time of each phase.
#
# Usage: smoke.sh [--keep]     --keep leaves the stack up (remove it with the printed command)
#
# Needs the images aide-services:latest and aide-sandbox:py311 (see README: "Team deployment
# with Docker Compose"). Where postgres:16 / redis:7 are not present and cannot be pulled it
# uses aide-deps:bookworm, building it with build-deps-offline.sh (root) when missing.
# Environment: AIDE_CLI (the aide binary; default $CARGO_TARGET_DIR/release/aide, built with
# cargo when missing), AIDE_SMOKE_PROJECT (default aide-smoke), AIDE_SMOKE_PORT_BASE (default
# 55000: coordinator +51, postgres +432, redis +379), AIDE_SMOKE_TIMEOUT (seconds the run may
# take, default 600).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
readonly here repo
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
keep=0
case "${1:-}" in
  "") ;;
  --keep) keep=1 ;;
  -h|--help) usage ;;
  *) bad_arg "$1" ;;
esac

project=${AIDE_SMOKE_PROJECT:-aide-smoke}
port_base=${AIDE_SMOKE_PORT_BASE:-55000}
run_timeout=${AIDE_SMOKE_TIMEOUT:-600}
target_dir=${CARGO_TARGET_DIR:-$repo/target}

log_as smoke 2 FAILED
start=$SECONDS

if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  die "neither 'docker compose' nor docker-compose is installed"
fi

# --- prerequisites ------------------------------------------------------------------------------
phase "prerequisites"
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
have_image aide-services:latest ||
  die "no image aide-services:latest (sudo deploy/services/build-offline.sh, or docker compose build)"
have_image aide-sandbox:py311 || die "no image aide-sandbox:py311 (sudo deploy/sandbox/build-offline.sh)"
pg_image=postgres:16
redis_image=redis:7
if ! have_image "$pg_image" || ! have_image "$redis_image"; then
  if ! have_image aide-deps:bookworm; then
    log "postgres:16 / redis:7 are not here; building the offline stand-in aide-deps:bookworm"
    "$here/build-deps-offline.sh"
  fi
  have_image "$pg_image" || pg_image=aide-deps:bookworm
  have_image "$redis_image" || redis_image=aide-deps:bookworm
fi
log "postgres image $pg_image, redis image $redis_image"

cli=${AIDE_CLI:-$target_dir/release/aide}
if [ ! -x "$cli" ]; then
  log "building the aide CLI (cargo build --release -p aide-cli)"
  (cd "$repo" && CARGO_TARGET_DIR=$target_dir cargo build --release -p aide-cli) || die "cargo build failed"
fi
"$cli" submit --help >/dev/null 2>&1 || die "$cli has no 'submit' command"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
coord_port=$((port_base + 51))
for p in "$coord_port" $((port_base + 432)) $((port_base + 379)); do
  port_free "$p" || die "port $p is in use (set AIDE_SMOKE_PORT_BASE)"
done

work=$(mktemp -d /var/tmp/aide-smoke.XXXXXX)
mkdir -p "$work/work" "$work/tasks"
compose() {
  (cd "$repo" && env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY \
    -u OPENROUTER_API_KEY -u OPENAI_BASE_URL \
    PWD="$repo" AIDE_WORK_DIR="$work/work" AIDE_TASKS_DIR="$work/tasks" \
    AIDE_COORDINATOR_PORT="$coord_port" AIDE_POSTGRES_PORT=$((port_base + 432)) \
    AIDE_REDIS_PORT=$((port_base + 379)) AIDE_POSTGRES_IMAGE="$pg_image" \
    AIDE_REDIS_IMAGE="$redis_image" \
    "${compose_cmd[@]}" -p "$project" -f "$repo/docker-compose.yml" "$@")
}

ok=0
finish() {
  local rc=$?
  set +e
  if [ "$ok" != 1 ]; then
    log "service logs (last 40 lines each):"
    compose logs --no-color --tail 40 >&2
  fi
  if [ "$keep" = 1 ]; then
    log "left running; remove with: (cd $repo && ${compose_cmd[*]} -p $project down -v) && rm -rf $work"
  else
    phase "down"
    compose down -v --remove-orphans >/dev/null 2>&1 || log "warning: compose down failed"
    rm -rf --one-file-system "$work"
  fi
  phase ""
  if [ "$rc" = 0 ] && [ "$ok" = 1 ]; then
    log "PASSED in $((SECONDS - start))s"
  else
    log "FAILED (exit $rc) after $((SECONDS - start))s"
  fi
  exit "$rc"
}
on_exit finish

# --- up -------------------------------------------------------------------------------------------
phase "up"
# The stack is TLS with passwords; deploy/secrets.sh makes them once (kept for the next run).
"$repo/deploy/secrets.sh" --aide "$cli" >&2 || die "deploy/secrets.sh failed"
export AIDE_CA="$repo/deploy/secrets/certs/ca.pem"
compose up -d --no-build >&2 || die "compose up failed"

phase "healthy"
deadline=$((SECONDS + 120))
for svc in postgres redis gateway coordinator runner; do
  while :; do
    id=$(compose ps -q "$svc" 2>/dev/null || true)
    status=$([ -n "$id" ] && docker inspect --format '{{.State.Health.Status}}' "$id" 2>/dev/null || echo none)
    [ "$status" = healthy ] && break
    [ "$SECONDS" -lt "$deadline" ] || die "$svc is not healthy after 120s (status: $status)"
    sleep 1
  done
  log "$svc healthy after $((SECONDS - phase_start))s"
done
# The runner serves before it has registered; wait for its registration in the coordinator.
runner_id=$(compose ps -q runner)
until docker logs "$runner_id" 2>&1 | grep -q 'registered with the coordinator'; do
  [ "$SECONDS" -lt "$deadline" ] || die "the runner did not register with the coordinator"
  sleep 1
done
log "runner registered"

# --- a run --------------------------------------------------------------------------------------
phase "run (examples/diabetes, 2 steps)"
server="https://127.0.0.1:$coord_port"
# The deployment's first admin token, written by the coordinator into its data volume.
AIDE_TOKEN=$(compose exec -T coordinator cat /var/lib/aide/data/bootstrap-admin-token) \
  || die "no bootstrap admin token in the coordinator's data volume"
export AIDE_TOKEN
out="$work/submit.out"
rc=0
timeout "$run_timeout" "$cli" submit "$repo/examples/diabetes" --server "$server" --steps 2 \
  --watch >"$out" || rc=$?
cat "$out" >&2
[ "$rc" = 0 ] || die "aide submit --watch exited $rc"
run_id=$(head -n1 "$out" | tr -d '[:space:]')
log "run $run_id completed"
"$cli" status "$run_id" --server "$server" >&2 || die "aide status failed"

phase "checks"
left=$(docker ps -aq --filter "label=aide.run=$run_id")
[ -z "$left" ] || die "sandbox containers left behind: $left"
outputs=$(compose exec -T coordinator ls "/var/lib/aide/runs/$run_id" 2>/dev/null | tr '\n' ' ' || true)
log "outputs in the coordinator's volume: ${outputs:-none}"
ok=1
