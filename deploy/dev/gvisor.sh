#!/usr/bin/env bash
# Makes gVisor available to the local Docker daemon as the runtime `runsc` (the runner's
# --docker-runtime runsc; its test needs it under CI): installs Debian's runsc when missing,
# registers it in /etc/docker/daemon.json when it is not there, and has the daemon reload its
# configuration (SIGHUP: running containers are untouched). Idempotent; needs root.
# gVisor's own network stack is off (--network=none): sandboxes have no network anyway
# unless a runner allows it, and a runner that does should keep the default runtime.
set -euo pipefail
if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
  echo "gVisor (runsc) ready"
  exit 0
fi
command -v runsc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >/dev/null
config=/etc/docker/daemon.json
python3 - "$config" "$(command -v runsc)" <<'PY'
import json, os, sys
path, runsc = sys.argv[1], sys.argv[2]
config = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
config.setdefault("runtimes", {})["runsc"] = {"path": runsc, "runtimeArgs": ["--network=none"]}
tmp = path + ".aide-tmp"
with open(tmp, "w") as f:
    json.dump(config, f, indent=2)
os.replace(tmp, path)
PY
pid=$(pidof dockerd || true)
[ -n "$pid" ] || { echo "dockerd is not running: start it to load $config" >&2; exit 1; }
kill -HUP "$pid"
for _ in $(seq 50); do
  if docker info --format '{{json .Runtimes}}' | grep -q '"runsc"'; then
    echo "gVisor (runsc) ready"
    exit 0
  fi
  sleep 0.2
done
echo "dockerd did not load runsc from $config" >&2
exit 1
