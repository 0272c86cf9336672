#!/usr/bin/env bash
# Builds the sandbox image from the Dockerfile (needs access to a registry for the Python base
# image). Without one, use build-offline.sh, which produces the same tag.
#
# Usage: build.sh [docker build args...]   e.g. build.sh --build-arg KEEP_TESTS=1
# Environment: AIDE_SANDBOX_TAG (default aide-sandbox:py311), AIDE_SANDBOX_CHECK=0 skips the
# smoke test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tag=${AIDE_SANDBOX_TAG:-aide-sandbox:py311}
sha=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
start=$SECONDS
docker build --tag "$tag" --build-arg REQUIREMENTS_SHA256="$sha" "$@" "$here"
echo "built $tag in $((SECONDS - start))s"
if [ "${AIDE_SANDBOX_CHECK:-1}" != 0 ]; then
  AIDE_SANDBOX_TAG=$tag "$here/check.sh"
fi
