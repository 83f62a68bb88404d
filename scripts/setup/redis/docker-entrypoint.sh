#!/bin/sh
# Mirrors the official redis image's entrypoint (see Dockerfile beside it).
set -eu

# `docker run IMG --appendonly yes` or `docker run IMG /etc/redis.conf`
case "${1:-}" in
  -*|*.conf) set -- redis-server "$@" ;;
esac

if [ "${1:-}" = redis-server ]; then
  # The official image compiles protected-mode's default to "no"; Debian's
  # binary defaults to "yes", which refuses clients from other containers when
  # no password is set. Say "no" unless the args or the config file decide.
  decided=no
  for a in "$@"; do
    case "$a" in --protected-mode) decided=yes ;; esac
  done
  if [ "$decided" = no ] && [ $# -ge 2 ] && [ -f "$2" ] && grep -Eq '^[[:space:]]*protected-mode' "$2"; then
    decided=yes
  fi
  if [ "$decided" = no ]; then
    set -- "$@" --protected-mode no
  fi
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
