#!/usr/bin/env bash
# Makes what docker-compose.yml needs to be secure, in deploy/secrets/ (never committed):
# random passwords for PostgreSQL and Redis, and a cluster CA with a certificate for each
# service (`aide certs`), named as the services reach each other on the compose network.
# Run it once, as root (the coordinator and the gateway run as uid 10002 and must read their
# keys), before the first `docker compose up`. It never overwrites: delete deploy/secrets/
# to start over (clients then need the new ca.pem).
#   sudo deploy/secrets.sh [--aide PATH_TO_AIDE] [--host NAME]...   (--host: more names the
#   coordinator is reached at by clients, e.g. the server's DNS name)
set -euo pipefail
cd "$(dirname "$0")/.."
aide=$(command -v aide || true)
hosts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --aide) aide=$2; shift 2 ;;
    --host) hosts+=(--host "$2"); shift 2 ;;
    *) echo "usage: $0 [--aide PATH] [--host NAME]..." >&2; exit 2 ;;
  esac
done
[ -n "$aide" ] || aide=target/release/aide
[ -x "$aide" ] || { echo "no aide binary: cargo build --release -p aide-cli, or pass --aide PATH" >&2; exit 2; }

dir=deploy/secrets
mkdir -p "$dir/certs"
chmod 0700 "$dir"
for name in postgres-password redis-password; do
  if [ ! -e "$dir/$name" ]; then
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/$name"
    # Readable by the database's own user in its container; on the host the 0700
    # directory keeps everyone else out.
    chmod 0644 "$dir/$name"
    echo "made $dir/$name"
  fi
done
if [ ! -e "$dir/certs/ca.pem" ]; then
  "$aide" certs init --dir "$dir/certs"
fi
issue() { # role name host...
  local role=$1 name=$2; shift 2
  [ -e "$dir/certs/$name.pem" ] || "$aide" certs issue --dir "$dir/certs" --role "$role" --name "$name" "$@"
}
issue coordinator coordinator --host coordinator "${hosts[@]}"
issue gateway gateway --host gateway
issue runner runner --host runner
# The coordinator and the gateway run as user aide (10002): they must read their own keys.
if [ "$(id -u)" = 0 ]; then
  chown 10002:10002 "$dir/certs/coordinator.key" "$dir/certs/gateway.key"
else
  echo "not root: chown 10002 $dir/certs/coordinator.key $dir/certs/gateway.key before docker compose up" >&2
fi
echo "secrets ready in $dir; clients trust $dir/certs/ca.pem (aide ... --ca, or AIDE_CA)"
