#!/usr/bin/env bash
# Builds the sandbox image (default tag aide-sandbox:py311) without any container registry:
# debootstrap a minimal Debian bookworm rootfs, pip-install requirements.txt into a venv at
# /opt/venv inside it (pip runs in a chroot, so wheels match the image's Python and libc
# exactly), strip it, and `docker import` it. Needs root, a Docker daemon, a Debian mirror and
# a Python package index.
#
# Usage: build-offline.sh [--force] [--no-check] [--tag TAG]
#   --force     rebuild even when the tag exists with the current requirements hash
#   --no-check  skip the smoke test (check.sh) after building
#   --tag TAG   image tag (default: $AIDE_SANDBOX_TAG or aide-sandbox:py311)
#
# Without --force it exits 0 at once when TAG exists and its labels say it was built from the
# current requirements.txt (label aide.sandbox.requirements-sha256) and recipe version.
#
# Environment:
#   AIDE_SANDBOX_TAG        image tag (default aide-sandbox:py311)
#   AIDE_SANDBOX_CACHE      cache dir for the base rootfs tarball and wheels
#                           (default /var/cache/aide-sandbox)
#   AIDE_SANDBOX_WORKDIR    where the temporary rootfs is assembled (default /var/tmp)
#   AIDE_SANDBOX_MIRROR     Debian mirror URL; default: the first bookworm entry found in
#                           /etc/apt/sources.list and /etc/apt/sources.list.d/
#   AIDE_SANDBOX_KEEP_NCCL  set to 1 to keep nvidia-nccl-cu12 (XGBoost's multi-GPU library,
#                           ~300 MB, useless in a GPU-less sandbox; dropped by default)
#   AIDE_SANDBOX_KEEP_TESTS set to 1 to keep the packages' own test suites (~135 MB; solutions
#                           never import them; dropped by default)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_TRUSTED_HOST, http(s)_proxy, no_proxy are passed
#   to pip inside the chroot; the host's CA bundle is made available to it during the build.
set -euo pipefail

# Bump RECIPE_VERSION when the image recipe below changes in a way that should force a rebuild,
# BASE_VERSION when the cached debootstrap base must be rebuilt too.
readonly RECIPE_VERSION=2
readonly BASE_VERSION=1
readonly SUITE=bookworm
readonly DEB_PACKAGES=python3,python3-venv,ca-certificates,libgomp1,tini
readonly SANDBOX_UID=10001
readonly VENV=/opt/venv

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly requirements="$here/requirements.txt"
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"

tag=${AIDE_SANDBOX_TAG:-aide-sandbox:py311}
force=0
check=1
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --if-missing) force=0 ;; # the default; accepted for explicitness
    --no-check) check=0 ;;
    --tag) tag=${2:?--tag needs a value}; shift ;;
    --tag=*) tag=${1#--tag=} ;;
    -h|--help) usage ;;
    *) bad_arg "$1" ;;
  esac
  shift
done

cache=${AIDE_SANDBOX_CACHE:-/var/cache/aide-sandbox}
workdir=${AIDE_SANDBOX_WORKDIR:-/var/tmp}

# Progress goes to the original stderr (fd 3), even from code whose stderr is redirected.
exec 3>&2
log_as build-offline 3
build_start=$SECONDS

[ -f "$requirements" ] || die "missing $requirements"
req_sha=$(sha256sum "$requirements" | cut -d' ' -f1)
require_docker

# --- up to date? ------------------------------------------------------------------------
label_of() { image_label "$tag" "$1"; }
exit_if_up_to_date() {
  [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1 || return 0
  local have_sha have_recipe
  have_sha=$(label_of aide.sandbox.requirements-sha256)
  have_recipe=$(label_of aide.sandbox.recipe-version)
  if [ "$have_sha" = "$req_sha" ] && [ "$have_recipe" = "$RECIPE_VERSION" ]; then
    log "$tag is up to date (requirements sha256 ${req_sha:0:12}, recipe $RECIPE_VERSION)"
    exit 0
  fi
  log "$tag exists but is stale (requirements sha256 '${have_sha:0:12}', recipe '$have_recipe'); rebuilding"
}
exit_if_up_to_date

require_root "debootstrap, chroot and mounts need it"
# One build at a time per cache; a build that waited may find the image already current.
lock_cache "$cache" || exit_if_up_to_date

# --- tools --------------------------------------------------------------------------------
phase "host tools"
ensure_debootstrap
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

# The mirror: explicit, or the host's own bookworm source (deb822 *.sources or one-line *.list).
mirror=${AIDE_SANDBOX_MIRROR:-$(host_mirror "$SUITE")}
[ -n "$mirror" ] || die "no $SUITE mirror found in the apt sources; set AIDE_SANDBOX_MIRROR"

mkdir -p "$cache" "$workdir"
rootfs=$(mktemp -d "$workdir/aide-sandbox-rootfs.XXXXXX")
mounts=()

# Unmount everything we mounted (innermost first), then remove the rootfs without ever
# crossing into another filesystem, and only if nothing is still mounted below it.
cleanup() {
  local rc=$? i
  set +e
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null ||
      log "warning: could not unmount ${mounts[i]}"
  done
  [ -n "${rootfs:-}" ] && rm -f "$rootfs.debootstrap.log"
  if [ -n "${rootfs:-}" ] && [ -d "$rootfs" ]; then
    local t=$SECONDS
    remove_rootfs "$rootfs" && log "removed the temporary rootfs in $((SECONDS - t))s"
  fi
  log_outcome "$rc" "$build_start" "build failed"
  exit "$rc"
}
on_exit cleanup

mount_in() { # mount_in <mount args...> <target>; records the target for cleanup
  local target=${*: -1}
  mount "$@"
  mounts+=("$target")
}

# --- base rootfs (cached) -------------------------------------------------------------------
phase "base rootfs"
base_tar=$(base_tar_path "$cache" "$BASE_VERSION" "$SUITE" "$arch" "$DEB_PACKAGES")
if [ -f "$base_tar" ]; then
  unpack_base "$rootfs" "$base_tar"
else
  debootstrap_base_into "$rootfs" "$base_tar" "$SUITE" "$arch" "$DEB_PACKAGES" "$mirror" ||
    die "debootstrap failed"
fi
pyver=$(chroot "$rootfs" /usr/bin/python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
case "$pyver" in 3.11.*) ;; *) die "expected Python 3.11 in the rootfs, found $pyver" ;; esac
log "rootfs Python $pyver"

# --- Python packages ----------------------------------------------------------------------
phase "python packages"
# /proc for pip, the few device nodes it touches, the host's resolver and CA bundle (egress may
# go through an intercepting proxy that only the host's bundle trusts), and a persistent wheel
# directory so reruns with a changed requirements.txt only fetch what is new.
mount_in -t proc proc "$rootfs/proc"
touched_devs=()
for dev in null zero random urandom; do
  [ -e "$rootfs/dev/$dev" ] || { touch "$rootfs/dev/$dev"; touched_devs+=("$rootfs/dev/$dev"); }
  mount_in --bind "/dev/$dev" "$rootfs/dev/$dev"
done
wheels="$cache/wheels/cp311-$arch"
mkdir -p "$wheels" "$rootfs/tmp/wheels"
mount_in --bind "$wheels" "$rootfs/tmp/wheels"
cp "$requirements" "$rootfs/tmp/requirements.txt"
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
host_ca=${PIP_CERT:-${REQUESTS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}}
pip_env=(PATH="$VENV/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root LANG=C.UTF-8
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=180
  PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1)
if [ -f "$host_ca" ]; then
  cp -L "$host_ca" "$rootfs/tmp/host-ca.pem"
  pip_env+=(PIP_CERT=/tmp/host-ca.pem)
fi
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST http_proxy https_proxy no_proxy \
  HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!v:-}" ] && pip_env+=("$v=${!v}")
done
in_root() { chroot "$rootfs" /usr/bin/env -i "${pip_env[@]}" "$@"; }

in_root python3 -m venv "$VENV"
pip_install_cached() {
  in_root pip install --quiet --no-index --find-links /tmp/wheels --only-binary=:all: \
    -r /tmp/requirements.txt
}
if pip_install_cached 2>/dev/null; then
  log "installed from cached wheels (no index access)"
else
  log "fetching wheels into $wheels"
  in_root pip download --quiet --only-binary=:all: --dest /tmp/wheels -r /tmp/requirements.txt
  pip_install_cached
fi
in_root python3 -c 'import numpy, pandas, scipy, sklearn, lightgbm, xgboost, statsmodels'
# Drop cached wheels that are no longer installed (left behind by a changed requirements.txt).
# Done before trimming nccl below, so its wheel stays cached for the offline path.
in_root pip freeze --all --exclude-editable | sed -n 's/==/ /p' |
  awk '{ n = tolower($1); gsub(/[-_.]+/, "_", n); print n "-" $2 }' >"$rootfs/tmp/keep"
for whl in "$wheels"/*.whl; do
  [ -e "$whl" ] || continue
  id=$(basename "$whl" | awk -F- '{ n = tolower($1); gsub(/[-_.]+/, "_", n); print n "-" $2 }')
  grep -qxF "$id" "$rootfs/tmp/keep" || { log "pruning unused cached wheel $(basename "$whl")"; rm -f "$whl"; }
done
if [ "${AIDE_SANDBOX_KEEP_NCCL:-0}" != 1 ] && in_root pip show --quiet nvidia-nccl-cu12 >/dev/null 2>&1; then
  log "dropping nvidia-nccl-cu12 (multi-GPU only; set AIDE_SANDBOX_KEEP_NCCL=1 to keep)"
  in_root pip uninstall --quiet --yes nvidia-nccl-cu12
fi

# --- finish the rootfs ----------------------------------------------------------------------
phase "finish rootfs"
for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}"; done
mounts=()
chroot "$rootfs" groupadd --gid "$SANDBOX_UID" sandbox
chroot "$rootfs" useradd --uid "$SANDBOX_UID" --gid "$SANDBOX_UID" --create-home \
  --home-dir /home/sandbox --shell /bin/sh sandbox
install -d -o "$SANDBOX_UID" -g "$SANDBOX_UID" -m 0755 "$rootfs/sandbox"
scrub_rootfs "$rootfs" sandbox
if [ "${AIDE_SANDBOX_KEEP_TESTS:-0}" != 1 ]; then
  find "$rootfs$VENV/lib" -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} +
fi
# Byte code (__pycache__) is kept on purpose: the root filesystem is read-only at run time
# and PYTHONDONTWRITEBYTECODE is set, so without it every solution would recompile the
# stdlib, numpy, pandas, scipy and sklearn on each import. See README.md for the numbers.
find "$rootfs" -xdev -type f -perm /6000 -exec chmod ug-s {} +
rm -f "${touched_devs[@]}"

# --- import -----------------------------------------------------------------------------------
phase "docker import"
old_id=$(image_id "$tag")
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
changes=(
  "ENV PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "ENV VIRTUAL_ENV=$VENV"
  "ENV LANG=C.UTF-8"
  "ENV PYTHONDONTWRITEBYTECODE=1"
  "ENV PYTHONUNBUFFERED=1"
  "ENV HOME=/home/sandbox"
  "USER $SANDBOX_UID"
  "WORKDIR /sandbox"
  'CMD ["python3"]'
  "LABEL org.opencontainers.image.title=aide-sandbox"
  "LABEL org.opencontainers.image.description=\"aide solution sandbox: Python $pyver with the aide ML package set\""
  "LABEL org.opencontainers.image.created=$created"
  "LABEL org.opencontainers.image.base.name=debian:$SUITE"
  "LABEL aide.sandbox.python=$pyver"
  "LABEL aide.sandbox.builder=offline"
  "LABEL aide.sandbox.recipe-version=$RECIPE_VERSION"
  "LABEL aide.sandbox.requirements-sha256=$req_sha"
)
import_rootfs "$rootfs" "$tag" "aide sandbox (offline build)" "${changes[@]}"
log_built "$tag" "$old_id"

if [ "$check" = 1 ]; then
  phase "smoke test"
  AIDE_SANDBOX_TAG=$tag "$here/check.sh"
fi
phase ""
