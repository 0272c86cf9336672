#!/usr/bin/env bash
# Checks deploy/monitoring: the alert rules parse (promtool check rules), their unit tests
# pass (promtool test rules), and the dashboard and the rules agree with the code
# (check_dashboard.py: panel ids, grid, datasource variable, metric names against the Rust
# sources, alert annotations and tests, PromQL of every panel). Prints one `ok:` line per
# check passed and a `FAIL:` line with the details per check failed, runs every check, and
# exits 1 when any failed.
#
# Needs promtool and a Python 3 with PyYAML. Missing ones are installed from Debian's
# packages (`prometheus` for /usr/bin/promtool, `python3-yaml`), as root or through sudo;
# `apt-get update` runs only when an install fails without it. PROMTOOL=/path/to/promtool
# uses a promtool you have instead. On a host with systemd, installing Debian's
# `prometheus` also enables and starts a Prometheus server: stop it with
# `systemctl disable --now prometheus` if you do not want it.
#
# Usage: deploy/monitoring/check.sh

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

fail() {
    echo "FAIL: $*"
    exit 1
}

# Installs Debian packages quietly; `apt-get update` first only if the install fails.
apt_install() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || fail "cannot install $*: not root and no sudo"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null || fail "cannot install $*: no apt-get (install it by hand)"
    local install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-install-recommends "$@")
    if ! "${install[@]}" >"$log" 2>&1; then
        "${sudo[@]}" apt-get update -q >>"$log" 2>&1 || true
        "${install[@]}" >>"$log" 2>&1 || { cat "$log" >&2; fail "apt-get install $*"; }
    fi
}

# promtool
promtool="${PROMTOOL:-}"
if [ -z "$promtool" ]; then
    if ! command -v promtool >/dev/null; then
        apt_install prometheus
        command -v promtool >/dev/null || fail "the prometheus package brought no promtool"
    fi
    promtool="$(command -v promtool)"
fi
[ -x "$promtool" ] || fail "promtool $promtool is not executable"

# A Python 3 with PyYAML: the one on PATH, else Debian's with python3-yaml.
python=""
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import yaml' 2>/dev/null; then
        python="$candidate"
        break
    fi
done
if [ -z "$python" ]; then
    apt_install python3 python3-yaml
    /usr/bin/python3 -c 'import yaml' 2>/dev/null || fail "python3-yaml did not install"
    python=/usr/bin/python3
fi

cd "$here"
failed=0

if "$promtool" check rules alerts.yaml >"$log" 2>&1; then
    echo "ok: alerts.yaml parses ($(grep -o '[0-9]* rules found' "$log"))"
else
    echo "FAIL: promtool check rules alerts.yaml"
    sed 's/^/    /' "$log"
    failed=1
fi

if "$promtool" test rules alerts.test.yaml >"$log" 2>&1; then
    echo "ok: alert unit tests pass ($(grep -c '^  - name:' alerts.test.yaml) test groups)"
else
    echo "FAIL: promtool test rules alerts.test.yaml"
    sed 's/^/    /' "$log"
    failed=1
fi

PROMTOOL="$promtool" "$python" check_dashboard.py || failed=1

[ "$failed" = 0 ] || fail "deploy/monitoring has problems (above)"
