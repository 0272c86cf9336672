#!/usr/bin/env bash
# Builds the aide services image (default tags aide-services:<version> and aide-services:latest)
# without any container registry: `cargo build --release` the three service binaries on this
# host, lay them into a minimal Debian bookworm rootfs (a cached debootstrap minbase with
# ca-certificates), and `docker import` it. Same contents, user, environment and labels as
# Dockerfile. Needs root (debootstrap, chroot), a Docker daemon, a Rust toolchain and, the first
# time only, a Debian mirror.
#
# Usage: build-offline.sh [--force] [--no-cargo] [--tag TAG] [--base-only]
#   --force     rebuild even when the image's label says it holds the current binaries
#   --no-cargo  do not run cargo; use the binaries already in $CARGO_TARGET_DIR/release
#   --tag TAG   image tag (default: $AIDE_SERVICES_TAG or aide-services:<workspace version>);
#               the image is also tagged aide-services:latest unless TAG is given
#   --base-only only make sure the cached base rootfs exists (build-deps-offline.sh uses it)
#
# Without --force it exits 0 (after the cargo build, which is a no-op when nothing changed) when
# the image exists and its label aide.services.binaries-sha256 equals the sha256 of the three
# binaries, and its recipe version is current.
#
# Environment:
#   CARGO_TARGET_DIR        where cargo puts the binaries (default <repo>/target)
#   CARGO                   the cargo to run (default: cargo on PATH, else ~/.cargo/bin/cargo)
#   AIDE_SERVICES_TAG       image tag (see --tag)
#   AIDE_SERVICES_CACHE     cache dir for the base rootfs tarball (default /var/cache/aide-services)
#   AIDE_SANDBOX_CACHE      the sandbox builder's cache (default /var/cache/aide-sandbox): its
#                           debootstrap base is used when no own base is cached and debootstrap
#                           cannot run (no mirror); it is larger (it carries Python)
#   AIDE_SERVICES_WORKDIR   where the temporary rootfs is assembled (default /var/tmp)
#   AIDE_SERVICES_MIRROR    Debian mirror URL (default: the host's bookworm apt source)
set -euo pipefail

# Bump RECIPE_VERSION when the image recipe changes in a way that should force a rebuild
# (keep aide.services.recipe-version in Dockerfile in step), BASE_VERSION when the cached base
# must be rebuilt too.
readonly RECIPE_VERSION=2
readonly BASE_VERSION=1
readonly SUITE=bookworm
readonly DEB_PACKAGES=ca-certificates
readonly AIDE_UID=10002
readonly BINARIES=(aide-coordinator aide-gateway aide-runner)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
readonly here repo
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"

version=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' "$repo/Cargo.toml" | head -n1)
[ -n "$version" ] || version=latest
tag=${AIDE_SERVICES_TAG:-aide-services:$version}
also_latest=1
[ -n "${AIDE_SERVICES_TAG:-}" ] && also_latest=0
force=0
cargo_build=1
base_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --no-cargo) cargo_build=0 ;;
    --base-only) base_only=1 ;;
    --tag) tag=${2:?--tag needs a value}; also_latest=0; shift ;;
    --tag=*) tag=${1#--tag=}; also_latest=0 ;;
    -h|--help) usage ;;
    *) bad_arg "$1" ;;
  esac
  shift
done

cache=${AIDE_SERVICES_CACHE:-/var/cache/aide-services}
sandbox_cache=${AIDE_SANDBOX_CACHE:-/var/cache/aide-sandbox}
workdir=${AIDE_SERVICES_WORKDIR:-/var/tmp}
target_dir=${CARGO_TARGET_DIR:-$repo/target}

exec 3>&2
log_as services-offline 3
build_start=$SECONDS

require_docker

# --- binaries -------------------------------------------------------------------------------
phase "cargo build"
[ "$base_only" = 1 ] && cargo_build=0
if [ "$cargo_build" = 1 ]; then
  cargo=${CARGO:-$(command -v cargo || echo "$HOME/.cargo/bin/cargo")}
  [ -x "$cargo" ] || die "cargo not found (set CARGO, or build first and pass --no-cargo)"
  (cd "$repo" && CARGO_TARGET_DIR=$target_dir "$cargo" build --release --locked \
    -p aide-gateway -p aide-runner -p aide-coordinator) ||
    die "cargo build failed"
fi
bins=()
[ "$base_only" = 1 ] || for b in "${BINARIES[@]}"; do
  [ -x "$target_dir/release/$b" ] || die "missing $target_dir/release/$b (build it, or drop --no-cargo)"
  bins+=("$target_dir/release/$b")
done
bin_sha=none
[ "$base_only" = 1 ] || bin_sha=$(cat "${bins[@]}" | sha256sum | cut -d' ' -f1)

# --- up to date? ------------------------------------------------------------------------------
phase "check"
label_of() { image_label "$tag" "$1"; }
up_to_date() {
  [ "$force" = 0 ] && docker image inspect "$tag" >/dev/null 2>&1 || return 1
  [ "$(label_of aide.services.binaries-sha256)" = "$bin_sha" ] &&
    [ "$(label_of aide.services.recipe-version)" = "$RECIPE_VERSION" ]
}
tag_latest() {
  if [ "$also_latest" = 1 ] && [ "$tag" != aide-services:latest ]; then
    docker tag "$tag" aide-services:latest
  fi
}
if [ "$base_only" = 0 ] && up_to_date; then
  tag_latest
  log "$tag is up to date (binaries sha256 ${bin_sha:0:12}, recipe $RECIPE_VERSION)"
  phase ""
  log "done in $((SECONDS - build_start))s"
  exit 0
fi

require_root "debootstrap and chroot need it"
mkdir -p "$workdir"
if ! lock_cache "$cache"; then
  if up_to_date; then tag_latest; log "$tag was built meanwhile"; exit 0; fi
fi

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
rootfs=$(mktemp -d "$workdir/aide-services-rootfs.XXXXXX")
cleanup() {
  local rc=$?
  set +e
  if [ -n "${rootfs:-}" ] && [ -d "$rootfs" ]; then
    remove_rootfs "$rootfs" "$rootfs.debootstrap.log"
  fi
  log_outcome "$rc" "$build_start" "build failed"
  exit "$rc"
}
on_exit cleanup

# --- base rootfs (cached) ---------------------------------------------------------------------
phase "base rootfs"
debootstrap_base() { # debootstrap_base <tarball>; 1 when it cannot
  local mirror
  mirror=${AIDE_SERVICES_MIRROR:-$(host_mirror "$SUITE")}
  [ -n "$mirror" ] || { log "no $SUITE mirror in the apt sources (set AIDE_SERVICES_MIRROR)"; return 1; }
  ensure_debootstrap || return 1
  debootstrap_base_into "$rootfs" "$1" "$SUITE" "$arch" "$DEB_PACKAGES" "$mirror"
}
base_tar=$(base_tar_path "$cache" "$BASE_VERSION" "$SUITE" "$arch" "$DEB_PACKAGES")
base_name="debian:$SUITE (minbase)"
if [ -f "$base_tar" ]; then
  unpack_base "$rootfs" "$base_tar"
elif ! debootstrap_base "$base_tar"; then
  sandbox_base=$(find "$sandbox_cache" -maxdepth 1 -name "base-$SUITE-$arch-*.tar" 2>/dev/null | head -n1 || true)
  [ -n "$sandbox_base" ] || die "debootstrap failed and no sandbox base is cached in $sandbox_cache"
  log "debootstrap failed; using the sandbox builder's base $sandbox_base (larger: it carries Python)"
  find "$rootfs" -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} +
  tar -C "$rootfs" --numeric-owner -xpf "$sandbox_base"
  base_name="debian:$SUITE (aide-sandbox base)"
fi
[ -f "$rootfs/etc/ssl/certs/ca-certificates.crt" ] || die "the base has no CA bundle"
if [ "$base_only" = 1 ]; then
  phase ""
  exit 0
fi

# --- the image's contents ---------------------------------------------------------------------
phase "assemble"
for b in "${bins[@]}"; do
  install -m 0755 "$b" "$rootfs/usr/local/bin/"
  if command -v strip >/dev/null; then strip "$rootfs/usr/local/bin/$(basename "$b")"; fi
done
# Every shared library the binaries link must be in the base (glibc and libgcc only, today).
missing=$(chroot "$rootfs" /usr/bin/ldd "${BINARIES[@]/#//usr/local/bin/}" 2>&1 | grep 'not found' || true)
[ -z "$missing" ] || die "libraries missing in the rootfs: $missing"
chroot "$rootfs" /usr/local/bin/aide-coordinator --help >/dev/null || die "aide-coordinator does not start in the rootfs"
chroot "$rootfs" groupadd --gid "$AIDE_UID" aide
chroot "$rootfs" useradd --uid "$AIDE_UID" --gid "$AIDE_UID" --home-dir /var/lib/aide \
  --no-create-home --shell /usr/sbin/nologin aide
install -d -o "$AIDE_UID" -g "$AIDE_UID" -m 0755 "$rootfs/var/lib/aide" "$rootfs/var/lib/aide/runs"
# The data directory (blobs, the bootstrap token) is private to the service user; a named
# volume mounted there starts with this owner and mode.
install -d -o "$AIDE_UID" -g "$AIDE_UID" -m 0700 "$rootfs/var/lib/aide/data"
scrub_rootfs "$rootfs" aide
find "$rootfs" -xdev -type f -perm /6000 -exec chmod ug-s {} +

# --- import -----------------------------------------------------------------------------------
phase "docker import"
old_id=$(image_id "$tag")
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
revision=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
changes=(
  "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "ENV AIDE_COORDINATOR_LISTEN=0.0.0.0:50051"
  "ENV AIDE_GATEWAY_LISTEN=0.0.0.0:50052"
  "ENV AIDE_RUNNER_LISTEN=0.0.0.0:50053"
  "ENV AIDE_OUTPUT_DIR=/var/lib/aide/runs"
  "ENV LANG=C.UTF-8"
  "USER $AIDE_UID"
  "WORKDIR /var/lib/aide"
  "EXPOSE 50051 50052 50053"
  'CMD ["aide-coordinator", "--help"]'
  "LABEL org.opencontainers.image.title=aide-services"
  "LABEL org.opencontainers.image.description=\"aide services: aide-coordinator, aide-gateway, aide-runner\""
  "LABEL org.opencontainers.image.created=$created"
  "LABEL org.opencontainers.image.version=$version"
  "LABEL org.opencontainers.image.revision=$revision"
  "LABEL org.opencontainers.image.base.name=\"$base_name\""
  "LABEL aide.services.builder=offline"
  "LABEL aide.services.recipe-version=$RECIPE_VERSION"
  "LABEL aide.services.binaries-sha256=$bin_sha"
)
import_rootfs "$rootfs" "$tag" "aide services (offline build)" "${changes[@]}"
tag_latest
log_built "$tag" "$old_id"

phase "smoke test"
for b in "${BINARIES[@]}"; do
  docker run --rm --network none "$tag" "$b" --help >/dev/null || die "$b --help failed in $tag"
done
[ "$(docker run --rm --network none "$tag" id -u)" = "$AIDE_UID" ] || die "$tag does not run as $AIDE_UID"
log "the three binaries start in $tag as uid $AIDE_UID"
phase ""
