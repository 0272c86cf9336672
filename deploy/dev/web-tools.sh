#!/usr/bin/env bash
# Installs what the web UI's tests drive when missing: headless Chromium and chromedriver
# (Debian's packages) for the browser tests, and schemathesis (PyPI, in its own virtualenv
# at /var/cache/aide/schemathesis, pinned) for fuzzing the HTTP API against its OpenAPI
# document. Idempotent; prints where each is.
set -euo pipefail

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium chromium-driver >/dev/null || {
    apt-get update -q >/dev/null
    apt-get install -y -q chromium chromium-driver >/dev/null
  }
fi
echo "browser ready: $(command -v chromium), $(command -v chromedriver)"

SCHEMATHESIS_VERSION=4.32.5
venv=/var/cache/aide/schemathesis
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
echo "schemathesis ready: $venv/bin/st ($("$venv/bin/st" --version))"
