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
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

cache=${AIDE_SANDBOX_CACHE:-/var/cache/aide-sandbox}
workdir=${AIDE_SANDBOX_WORKDIR:-/var/tmp}

# Progress goes to the original stderr (fd 3), even from code whose stderr is redirected.
exec 3>&2
log() { printf '[build-offline %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&3; }
die() { log "error: $*"; exit 1; }

build_start=$SECONDS
phase_name=""
phase_start=$SECONDS
phase() {
  if [ -n "$phase_name" ]; then
    log "phase '$phase_name' took $((SECONDS - phase_start))s"
  fi
  phase_name=$1
  phase_start=$SECONDS
  [ -n "$phase_name" ] && log "phase '$phase_name'"
  return 0
}

[ -f "$requirements" ] || die "missing $requirements"
req_sha=$(sha256sum "$requirements" | cut -d' ' -f1)
command -v docker >/dev/null || die "docker CLI not found"
docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon"

# --- up to date? ------------------------------------------------------------------------
label_of() {
  docker image inspect --format "{{ index .Config.Labels \"$1\" }}" "$tag" 2>/dev/null || true
}
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

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mounts need it)"
# One build at a time per cache; a build that waited may find the image already current.
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  log "another build holds $cache/.lock; waiting"
  flock 9
  exit_if_up_to_date
fi

# --- tools --------------------------------------------------------------------------------
phase "host tools"
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
fi
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

# The mirror: explicit, or the host's own bookworm source (deb822 *.sources or one-line *.list).
find_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uri != "") {
          print uri; found = 1; exit
        }
        types = suites = uri = enabled = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "types:"   { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
      tolower($1) == "suites:"  { suites = $0; sub(/^[^:]*:[ \t]*/, "", suites) }
      tolower($1) == "uris:"    { uri = $2 }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { if (!found) flush() }
    ' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
}
mirror=${AIDE_SANDBOX_MIRROR:-$(find_mirror | grep -E '^(https?|file)://' | head -n1 || true)}
[ -n "$mirror" ] || die "no $SUITE mirror found in the apt sources; set AIDE_SANDBOX_MIRROR"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
keyring_args=()
[ -f "$keyring" ] && keyring_args=(--keyring="$keyring")

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
    if awk -v r="$rootfs/" 'index($2 "/", r) == 1 { bad = 1 } END { exit !bad }' /proc/self/mounts; then
      log "warning: mounts remain under $rootfs; leaving it in place"
    else
      local t=$SECONDS
      rm -rf --one-file-system "$rootfs"
      log "removed the temporary rootfs in $((SECONDS - t))s"
    fi
  fi
  if [ "$rc" = 0 ]; then
    log "done in $((SECONDS - build_start))s"
  else
    log "build failed (exit $rc) after $((SECONDS - build_start))s"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mount_in() { # mount_in <mount args...> <target>; records the target for cleanup
  local target=${*: -1}
  mount "$@"
  mounts+=("$target")
}

# --- base rootfs (cached) -------------------------------------------------------------------
phase "base rootfs"
base_key=$(printf '%s\n' "$BASE_VERSION" "$SUITE" "$arch" "$DEB_PACKAGES" | sha256sum | cut -c1-16)
base_tar="$cache/base-$SUITE-$arch-$base_key.tar"
if [ -f "$base_tar" ]; then
  log "unpacking cached base $base_tar"
  tar -C "$rootfs" --numeric-owner -xpf "$base_tar"
else
  log "debootstrap $SUITE ($arch, minbase) with $DEB_PACKAGES"
  debootstrap --variant=minbase --arch="$arch" --include="$DEB_PACKAGES" \
    "${keyring_args[@]}" "$SUITE" "$rootfs" "$mirror" >"$rootfs.debootstrap.log" 2>&1 ||
    { tail -n 30 "$rootfs.debootstrap.log" >&2; rm -f "$rootfs.debootstrap.log"; die "debootstrap failed"; }
  rm -f "$rootfs.debootstrap.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  log "caching base as $base_tar"
  tar -C "$rootfs" --numeric-owner -cf "$base_tar.tmp.$$" .
  mv "$base_tar.tmp.$$" "$base_tar"
  # Older bases for other recipes are dead weight.
  find "$cache" -maxdepth 1 -name "base-*.tar" ! -name "$(basename "$base_tar")" -delete
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
# Docker provides these at run time; the host's copies must not end up in the image.
: >"$rootfs/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$rootfs/etc/hosts"
printf 'sandbox\n' >"$rootfs/etc/hostname"
rm -rf --one-file-system "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.cache "$rootfs"/var/log/* \
  "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/lintian "$rootfs"/usr/share/locale/*
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
old_id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
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
change_args=()
for c in "${changes[@]}"; do change_args+=(--change "$c"); done
tar -C "$rootfs" --numeric-owner --one-file-system -cf - . |
  docker import "${change_args[@]}" --message "aide sandbox (offline build)" - "$tag" >/dev/null
new_id=$(docker image inspect --format '{{.Id}}' "$tag")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || log "note: previous image $old_id is still in use; not removed"
fi
size=$(docker image inspect --format '{{.Size}}' "$tag")
log "built $tag ($new_id, $((size / 1000000)) MB)"

if [ "$check" = 1 ]; then
  phase "smoke test"
  AIDE_SANDBOX_TAG=$tag "$here/check.sh"
fi
phase ""
