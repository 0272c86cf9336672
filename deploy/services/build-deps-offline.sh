#!/usr/bin/env bash
# Builds aide-deps:bookworm, a stand-in for the postgres:16 and redis:7 images on hosts that
# cannot pull them: Debian bookworm's PostgreSQL 15 and Redis 7.0 in one image, from the same
# cached minbase rootfs as build-offline.sh plus apt-get in a chroot. docker-compose.yml uses it
# with AIDE_POSTGRES_IMAGE=aide-deps:bookworm AIDE_REDIS_IMAGE=aide-deps:bookworm (smoke.sh
# does). Its entrypoint follows the official images where compose relies on them: with the
# command "postgres" (the default) it creates the cluster in /var/lib/postgresql/data on first
# start from POSTGRES_USER / POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) / POSTGRES_DB and runs the server as user
# postgres; "redis-server ..." runs as user redis with protected mode off; anything else is
# run as is. For development and smoke tests; production should use the official images.
#
# Usage: build-deps-offline.sh [--force]   (root, Docker, a Debian mirror)
# Environment: AIDE_SERVICES_CACHE, AIDE_SERVICES_WORKDIR, AIDE_SERVICES_MIRROR as build-offline.sh;
#   AIDE_DEPS_TAG (default aide-deps:bookworm).
set -euo pipefail

readonly RECIPE_VERSION=2
readonly SUITE=bookworm
readonly PACKAGES="postgresql-15 redis-server redis-tools"
readonly PGBIN=/usr/lib/postgresql/15/bin

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
# shellcheck source=SCRIPTDIR/../lib.sh
source "$here/../lib.sh"
tag=${AIDE_DEPS_TAG:-aide-deps:bookworm}
force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  -h|--help) usage ;;
  *) bad_arg "$1" ;;
esac
cache=${AIDE_SERVICES_CACHE:-/var/cache/aide-services}
workdir=${AIDE_SERVICES_WORKDIR:-/var/tmp}

log_as deps-offline
start=$SECONDS

require_docker
have=$(image_label "$tag" aide.deps.recipe-version)
if [ "$force" = 0 ] && [ "$have" = "$RECIPE_VERSION" ]; then
  log "$tag is up to date (recipe $RECIPE_VERSION)"
  exit 0
fi
require_root "chroot and mounts need it"

# The minimal base comes from build-offline.sh's cache; have it build one if there is none.
base_tar=$(find "$cache" -maxdepth 1 -name "base-$SUITE-*.tar" 2>/dev/null | head -n1 || true)
if [ -z "$base_tar" ]; then
  log "no cached base in $cache; creating it"
  "$here/build-offline.sh" --base-only
  base_tar=$(find "$cache" -maxdepth 1 -name "base-$SUITE-*.tar" | head -n1 || true)
  [ -n "$base_tar" ] || die "still no cached base in $cache"
fi

mkdir -p "$workdir"
rootfs=$(mktemp -d "$workdir/aide-deps-rootfs.XXXXXX")
mounted=0
cleanup() {
  local rc=$?
  set +e
  [ "$mounted" = 1 ] && { umount "$rootfs/proc" || umount -l "$rootfs/proc"; }
  remove_rootfs "$rootfs"
  log_outcome "$rc" "$start" "failed"
  exit "$rc"
}
on_exit cleanup

tar -C "$rootfs" --numeric-owner -xpf "$base_tar"
mount -t proc proc "$rootfs/proc"
mounted=1
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
# No service may start inside the chroot, and the package must not create a cluster of its own.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
mkdir -p "$rootfs/etc/postgresql-common/createcluster.d"
echo "create_main_cluster = false" >"$rootfs/etc/postgresql-common/createcluster.d/aide.conf"
apt_env=(DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin)
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!v:-}" ] && apt_env+=("$v=${!v}")
done
log "apt-get install $PACKAGES"
# shellcheck disable=SC2086 # PACKAGES is a word list
if ! chroot "$rootfs" /usr/bin/env -i "${apt_env[@]}" sh -c \
  "apt-get update -q && apt-get install -y -q --no-install-recommends $PACKAGES" >"$rootfs.apt.log" 2>&1; then
  tail -n 30 "$rootfs.apt.log" >&2
  rm -f "$rootfs.apt.log"
  die "apt-get failed in the chroot"
fi
rm -f "$rootfs.apt.log"
umount "$rootfs/proc"
mounted=0

cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<EOF
#!/bin/sh
# aide-deps entrypoint: see deploy/services/build-deps-offline.sh.
set -eu
PGBIN=$PGBIN
EOF
cat >>"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
case "${1:-}" in
  postgres)
    PGDATA=${PGDATA:-/var/lib/postgresql/data}
    export PGDATA
    if [ "$(id -u)" = 0 ]; then
      mkdir -p "$PGDATA" /run/postgresql
      chown postgres:postgres "$PGDATA" /run/postgresql
      chmod 0700 "$PGDATA"
      exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
    fi
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      # As the official image: the password may come from a (secret) file.
      if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
      fi
      user=${POSTGRES_USER:-postgres}
      db=${POSTGRES_DB:-$user}
      pwfile=$(mktemp)
      printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile"
      "$PGBIN/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
      rm -f "$pwfile"
      echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
      if [ "$db" != postgres ]; then
        "$PGBIN/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
        "$PGBIN/createdb" -U "$user" -h /run/postgresql "$db"
        "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
      fi
      echo "aide-deps: created the cluster (user $user, database $db)"
    fi
    shift
    exec "$PGBIN/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
    ;;
  redis-server)
    shift
    if [ "$(id -u)" = 0 ]; then
      exec setpriv --reuid=redis --regid=redis --init-groups redis-server "$@" --protected-mode no
    fi
    exec redis-server "$@" --protected-mode no
    ;;
  *) exec "$@" ;;
esac
EOF
chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"
rm -f "$rootfs/usr/sbin/policy-rc.d"
# ssl-cert made a snakeoil key pair at install time; the server does not use TLS here.
rm -f "$rootfs/etc/ssl/private/ssl-cert-snakeoil.key" "$rootfs/etc/ssl/certs/ssl-cert-snakeoil.pem"
scrub_rootfs "$rootfs"

import_rootfs "$rootfs" "$tag" "aide deps (offline build)" \
  "ENV PATH=$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  "ENV LANG=C.UTF-8" \
  'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
  'CMD ["postgres"]' \
  "EXPOSE 5432 6379" \
  "LABEL org.opencontainers.image.title=aide-deps" \
  "LABEL org.opencontainers.image.description=\"PostgreSQL 15 and Redis 7.0 from Debian $SUITE, for development\"" \
  "LABEL aide.deps.recipe-version=$RECIPE_VERSION"
log "built $tag ($(($(docker image inspect --format '{{.Size}}' "$tag") / 1000000)) MB)"
