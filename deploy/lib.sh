# Shell helpers shared by the deploy/ scripts; sourced, never executed:
#   source "$here/../lib.sh"   (here = the calling script's own directory)
# It owns: progress logging (log, die, phase, log_outcome), the scripts' --help and bad-argument
# handling, the common preconditions (Docker, root), the cleanup traps and the safe removal of a
# temporary rootfs, the per-cache build lock, the cached debootstrap base shared by the image
# builders (mirror lookup, debootstrap install, cache naming, building and caching it), the
# scrubbing of a finished rootfs, and `docker import` of a rootfs with replacement of the image
# it supersedes. It sets no shell options: callers keep their own `set -euo pipefail`.
# Globals it defines: LOG_NAME, LOG_FD, DIE_PREFIX (see log_as), phase_name and phase_start
# (see phase).
# shellcheck shell=bash

LOG_NAME=$(basename "$0" .sh)
LOG_FD=2
DIE_PREFIX=error
phase_name=""
phase_start=$SECONDS

# log_as <name> [<fd> [<die prefix>]]: log lines read "[<name> HH:MM:SS] ..." and go to <fd> (open; default 2); die says "<die prefix>: ..." (default error).
log_as() { LOG_NAME=$1; LOG_FD=${2:-2}; DIE_PREFIX=${3:-error}; }

# log <words...>: one timestamped progress line.
log() { printf '[%s %s] %s\n' "$LOG_NAME" "$(date -u +%H:%M:%S)" "$*" >&"$LOG_FD"; }

# die <words...>: log the message after DIE_PREFIX and exit 1.
die() { log "$DIE_PREFIX: $*"; exit 1; }

# phase <name>: log how long the previous phase took, then start <name> ("" ends the last one).
phase() {
  if [ -n "$phase_name" ]; then
    log "phase '$phase_name' took $((SECONDS - phase_start))s"
  fi
  phase_name=$1
  phase_start=$SECONDS
  [ -n "$phase_name" ] && log "phase '$phase_name'"
  return 0
}

# log_outcome <rc> <start> <failure words>: "done in Ns" when rc is 0, else "<failure words> (exit rc) after Ns".
log_outcome() {
  if [ "$1" = 0 ]; then
    log "done in $((SECONDS - $2))s"
  else
    log "$3 (exit $1) after $((SECONDS - $2))s"
  fi
}

# usage: print the calling script's header comment (line 2 up to `set -euo`) and exit 0.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }

# bad_arg <arg>: complain about an unknown argument and exit 2.
bad_arg() { echo "unknown argument: $1 (see --help)" >&2; exit 2; }

# require_docker: die unless the docker CLI is here and its daemon answers.
require_docker() {
  command -v docker >/dev/null || die "docker CLI not found"
  docker info >/dev/null 2>&1 || die "cannot reach the Docker daemon"
}

# require_root <why>: die unless running as root.
require_root() { [ "$(id -u)" = 0 ] || die "must run as root ($1)"; }

# on_exit <function>: run <function> at exit, and turn INT, TERM and HUP into exits (130, 143, 129) so it runs then too.
on_exit() {
  # shellcheck disable=SC2064 # the handler's name is fixed now, on purpose
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

# remove_rootfs <dir> [<path>...]: rm -rf them without crossing filesystems; 1, with a warning, while anything is mounted below <dir>.
remove_rootfs() {
  if awk -v r="$1/" 'index($2 "/", r) == 1 { bad = 1 } END { exit !bad }' /proc/self/mounts; then
    log "warning: mounts remain under $1; leaving it in place"
    return 1
  fi
  rm -rf --one-file-system "$@"
}

# lock_cache <dir>: hold <dir>/.lock (fd 9) so one build runs per cache; 1 when another build held it and we waited.
lock_cache() {
  mkdir -p "$1"
  exec 9>"$1/.lock" || die "cannot open $1/.lock"
  flock -n 9 && return 0
  log "another build holds $1/.lock; waiting"
  flock 9 || die "cannot lock $1/.lock"
  return 1
}

# apt_mirrors <suite>: the URIs of the host's apt sources for <suite> (deb822 *.sources, then one-line *.list), one a line.
apt_mirrors() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$1" '
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
      awk -v suite="$1" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
}

# host_mirror <suite>: the first http(s) or file mirror the host's apt sources give for <suite>; empty when none.
host_mirror() { apt_mirrors "$1" | grep -E '^(https?|file)://' | head -n1 || true; }

# ensure_debootstrap: install debootstrap with apt-get when it is missing (apt-get update only if the first try fails).
ensure_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
}

# base_tar_path <cache> <base version> <suite> <arch> <packages>: where the cached base for that recipe lives.
base_tar_path() {
  local key
  key=$(printf '%s\n' "$2" "$3" "$4" "$5" | sha256sum | cut -c1-16)
  printf '%s\n' "$1/base-$3-$4-$key.tar"
}

# unpack_base <rootfs> <tar>: fill <rootfs> from a cached base tarball.
unpack_base() {
  log "unpacking cached base $2"
  tar -C "$1" --numeric-owner -xpf "$2"
}

# debootstrap_base_into <rootfs> <tar> <suite> <arch> <packages> <mirror>: debootstrap a minbase into <rootfs>, cache it as <tar> and delete the other base-*.tar beside it; 1, after showing the log's tail, when debootstrap fails.
debootstrap_base_into() {
  local rootfs=$1 tar=$2 suite=$3 arch=$4 packages=$5 mirror=$6 keyring_args=()
  [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] &&
    keyring_args=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
  log "debootstrap $suite ($arch, minbase) with $packages from $mirror"
  if ! debootstrap --variant=minbase --arch="$arch" --include="$packages" \
    "${keyring_args[@]}" "$suite" "$rootfs" "$mirror" >"$rootfs.debootstrap.log" 2>&1; then
    tail -n 30 "$rootfs.debootstrap.log" >&"$LOG_FD"
    rm -f "$rootfs.debootstrap.log"
    return 1
  fi
  rm -f "$rootfs.debootstrap.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*
  log "caching base as $tar"
  tar -C "$rootfs" --numeric-owner -cf "$tar.tmp.$$" .
  mv "$tar.tmp.$$" "$tar"
  # Older bases for other recipes are dead weight.
  find "$(dirname "$tar")" -maxdepth 1 -name "base-*.tar" ! -name "$(basename "$tar")" -delete
}

# scrub_rootfs <rootfs> [<hostname>]: blank the host-specific files Docker provides at run time (and set /etc/hostname if given), then drop caches, logs, docs and locales.
scrub_rootfs() {
  local r=$1
  # Docker provides these at run time; the host's copies must not end up in the image.
  : >"$r/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$r/etc/hosts"
  [ -z "${2:-}" ] || printf '%s\n' "$2" >"$r/etc/hostname"
  rm -rf --one-file-system "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.cache "$r"/var/log/* \
    "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/cache/debconf/*-old \
    "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
    "$r"/usr/share/lintian "$r"/usr/share/locale/*
}

# image_id <tag>: the image's id, empty when there is none.
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# image_label <tag> <label>: the label's value, empty when the image or label is missing.
image_label() {
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# import_rootfs <rootfs> <tag> <message> [<Dockerfile change>...]: `docker import` the rootfs as <tag>.
import_rootfs() {
  local rootfs=$1 tag=$2 message=$3 c change_args=()
  shift 3
  for c in "$@"; do change_args+=(--change "$c"); done
  tar -C "$rootfs" --numeric-owner --one-file-system -cf - . |
    docker import "${change_args[@]}" --message "$message" - "$tag" >/dev/null
}

# log_built <tag> <old id>: remove the image <tag> had before (when unused), then log the new id and size.
log_built() {
  local tag=$1 old_id=$2 new_id size
  new_id=$(docker image inspect --format '{{.Id}}' "$tag")
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
    docker image rm "$old_id" >/dev/null 2>&1 || log "note: previous image $old_id is still in use; not removed"
  fi
  size=$(docker image inspect --format '{{.Size}}' "$tag")
  log "built $tag ($new_id, $((size / 1000000)) MB)"
}
