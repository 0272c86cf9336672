#!/usr/bin/env bash
# Installs (Debian packages) and starts the PostgreSQL and Redis servers the tests use,
# on 127.0.0.1 with the role aide/aide. Idempotent: reuses what is installed and running.
# Used by .ci/run and by developers without Docker Compose; needs root.
set -euo pipefail

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  pg_ctlcluster "$version" main start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'aide'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE ROLE aide LOGIN SUPERUSER PASSWORD 'aide'\""
echo "postgres $version ready on 127.0.0.1:5432"

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no >/dev/null
  for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
echo "redis ready on 127.0.0.1:6379"
