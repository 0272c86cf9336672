#!/usr/bin/env bash
# Makes the TLS material of deploy/k8s with `aide certs`, and the Secret manifests that
# carry it, in deploy/secrets/k8s-<namespace>/ (ignored by git; mode 0700):
#   certs/ca.pem, certs/ca.key          the cluster CA (made unless already there)
#   certs/aide-coordinator.{pem,key}    aide://coordinator/aide-coordinator
#   certs/aide-gateway.{pem,key}        aide://gateway/aide-gateway
#   certs/aide-runner-<i>.{pem,key}     aide://runner/aide-runner-<i>, i < --runners
#   tls-secrets.yaml                    Secrets aide-coordinator-tls, aide-gateway-tls,
#                                       aide-runner-tls (apply it: kubectl apply -f …)
# Each certificate names the DNS names its peers dial inside the namespace (the Services
# aide-coordinator and aide-gateway, and <pod>.aide-runner for each runner pod), plus
# localhost and 127.0.0.1 (`aide certs` adds them: kubectl port-forward works). Nothing is
# overwritten; a rerun with a larger --runners only adds the missing runners. To sign with
# a CA you already have (deploy/secrets/certs of docker-compose.yml, say), copy its ca.pem
# and ca.key into certs/ first.
#   deploy/k8s/secrets.sh [--namespace aide] [--runners 16] [--host NAME]... [--aide PATH]
#   (--host: more names clients reach the coordinator at, e.g. its public DNS name)
set -euo pipefail
cd "$(dirname "$0")/../.."
aide=$(command -v aide || true)
namespace=aide
runners=16
hosts=()
usage() { echo "usage: $0 [--namespace NS] [--runners N] [--host NAME]... [--aide PATH]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --namespace) namespace=${2:?}; shift 2 ;;
    --runners) runners=${2:?}; shift 2 ;;
    --host) hosts+=(--host "${2:?}"); shift 2 ;;
    --aide) aide=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
[[ $runners =~ ^[1-9][0-9]*$ ]] || { echo "--runners: a number of runner pods, at least 1" >&2; exit 2; }
[ -n "$aide" ] || aide=target/release/aide
[ -x "$aide" ] || { echo "no aide binary: cargo build --release -p aide-cli, or pass --aide PATH" >&2; exit 2; }
kubectl=$(command -v kubectl || echo /var/cache/aide/k8s-tools/bin/kubectl)
[ -x "$kubectl" ] || { echo "no kubectl (deploy/k8s/validate.sh installs one)" >&2; exit 2; }

dir=deploy/secrets/k8s-$namespace
certs=$dir/certs
mkdir -p "$certs"
chmod 0700 deploy/secrets "$dir"
[ -e "$certs/ca.pem" ] || "$aide" certs init --dir "$certs"

# Names in the namespace: the short one (what the manifests dial), then the qualified ones.
names() { # base
  echo "--host $1 --host $1.$namespace.svc --host $1.$namespace.svc.cluster.local"
}
issue() { # role name host-args...
  local role=$1 name=$2; shift 2
  [ -e "$certs/$name.pem" ] || "$aide" certs issue --dir "$certs" --role "$role" --name "$name" "$@"
}
# shellcheck disable=SC2046 # names() prints separate words on purpose
issue coordinator aide-coordinator $(names aide-coordinator) --host "aide-coordinator.$namespace" "${hosts[@]}"
# shellcheck disable=SC2046
issue gateway aide-gateway $(names aide-gateway)
runner_files=()
for ((i = 0; i < runners; i++)); do
  pod=aide-runner-$i
  # shellcheck disable=SC2046
  issue runner "$pod" $(names "$pod.aide-runner")
  runner_files+=(--from-file="$pod.crt=$certs/$pod.pem" --from-file="$pod.key=$certs/$pod.key")
done

out=$dir/tls-secrets.yaml
umask 077
{
  for svc in coordinator gateway; do
    "$kubectl" create secret generic "aide-$svc-tls" --namespace "$namespace" \
      --type kubernetes.io/tls --dry-run=client -o yaml \
      --from-file="tls.crt=$certs/aide-$svc.pem" --from-file="tls.key=$certs/aide-$svc.key" \
      --from-file="ca.crt=$certs/ca.pem"
    echo ---
  done
  "$kubectl" create secret generic aide-runner-tls --namespace "$namespace" \
    --dry-run=client -o yaml "${runner_files[@]}" --from-file="ca.crt=$certs/ca.pem"
} >"$out.partial"
mv "$out.partial" "$out"
echo "made $out (namespace $namespace, $runners runner certificates):"
echo "  kubectl apply -f $out"
echo "clients trust $certs/ca.pem (aide … --ca, or AIDE_CA)"
