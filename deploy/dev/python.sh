#!/usr/bin/env bash
# Installs the sandbox package set (deploy/sandbox/requirements.txt) into the host's python3
# when any of it is missing, so tests that execute generated solutions can run. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

if python3 - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
wanted = [l.split("==") for l in open("deploy/sandbox/requirements.txt") if "==" in l and not l.startswith("#")]
sys.exit(0 if all(md.version(n.strip()) == v.strip() for n, v in wanted) else 1)
PY
then
  echo "python packages ready"
  exit 0
fi
echo "installing the sandbox package set into $(command -v python3)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r deploy/sandbox/requirements.txt
echo "python packages ready"
