#!/usr/bin/env bash
# Installs grpcio-tools into the host's python3 when missing: a test generates a Python client
# from proto/ and calls the API with it (the API seen from another ecosystem). Idempotent.
set -euo pipefail
if python3 -c 'import grpc_tools.protoc' 2>/dev/null; then
  echo "grpcio-tools ready"
  exit 0
fi
echo "installing grpcio-tools into $(command -v python3)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore grpcio-tools
echo "grpcio-tools ready"
