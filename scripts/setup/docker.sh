#!/usr/bin/env bash
# Start the Docker engine and provide what CI's Docker tests need without any
# registry: the compose v2 + buildx CLI plugins (from Debian trixie .debs), the
# local base image shardyard-base:bookworm (mmdebstrap | docker import) and a
# redis image shardyard-redis:7 that behaves like the official one.
# Idempotent: each part is skipped when already there / running.
set -euo pipefail
SETUP_STEP=docker
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

BASE_IMAGE="${SHARDYARD_BASE_IMAGE:-shardyard-base:bookworm}"
REDIS_IMAGE="${SHARDYARD_REDIS_IMAGE:-shardyard-redis:7}"
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

command -v dockerd >/dev/null || die "dockerd missing: run scripts/setup/apt.sh first"

# --- engine -----------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  log "dockerd already running"
else
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid   # stale pid file from a killed dockerd blocks a new one
  fi
  log "starting dockerd (log: $DOCKERD_LOG)"
  setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  wait_for "dockerd (see $DOCKERD_LOG)" 60 docker info
  record_started dockerd "$(cat /var/run/docker.pid)"
  log "dockerd ready (pid $(cat /var/run/docker.pid))"
fi

# --- compose v2 + buildx plugins --------------------------------------------
# Not packaged for bookworm; trixie's static Go binaries run fine here. Fetched
# with a private APT_CONFIG so the host's sources stay untouched.
if docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
  log "compose/buildx plugins present: $(docker compose version --short), buildx $(docker buildx version | awk '{print $2}')"
else
  mirror="$(debian_mirror)"
  adir=/var/cache/shardyard-setup/apt-trixie
  log "fetching docker-compose + docker-buildx from trixie ($mirror)"
  rm -rf "$adir"; mkdir -p "$adir"/{lists/partial,archives/partial,debs,root}
  : >"$adir/status"
  cat >"$adir/apt.conf" <<CONF
Dir::Etc::SourceList "$adir/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$adir/lists";
Dir::State::status "$adir/status";
Dir::Cache "$adir";
Dir::Cache::archives "$adir/archives";
APT::Architecture "$(dpkg --print-architecture)";
Acquire::Languages "none";
APT::Sandbox::User "root";
CONF
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$adir/sources.list"
  APT_CONFIG="$adir/apt.conf" apt-get update -qq
  (cd "$adir/debs" && APT_CONFIG="$adir/apt.conf" apt-get download -qq docker-compose docker-buildx)
  for deb in "$adir"/debs/*.deb; do dpkg -x "$deb" "$adir/root"; done
  mkdir -p "$PLUGIN_DIR"
  for p in docker-compose docker-buildx; do
    src="$(find "$adir/root" -type f -name "$p" -path '*cli-plugins*' | head -n1)"
    [ -n "$src" ] || die "$p binary not found in the trixie .deb"
    install -m 0755 "$src" "$PLUGIN_DIR/$p"
  done
  rm -rf "$adir/root" "$adir/lists"
  docker compose version >/dev/null || die "docker compose still not working"
  log "installed $PLUGIN_DIR: compose $(docker compose version --short), buildx $(docker buildx version | awk '{print $2}')"
fi

# --- base image -------------------------------------------------------------
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "$BASE_IMAGE already present"
else
  mirror="$(debian_mirror)"
  log "building $BASE_IMAGE with mmdebstrap from $mirror (log: $SETUP_LOG_DIR/base-image.log)"
  # The tarball streams straight into docker import; no rootfs on disk.
  # Python image conventions: python3 is on PATH, UTF-8 locale.
  if ! mmdebstrap --variant=apt --include=ca-certificates,python3,python3-venv,python3-pip "${EATMYDATA_HOOK[@]}" \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        bookworm - "deb $mirror bookworm main" 2>"$SETUP_LOG_DIR/base-image.log" \
      | docker import \
          --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
          --change 'ENV LANG=C.UTF-8' \
          --change 'CMD ["/bin/bash"]' \
          --message "mmdebstrap bookworm + python3 (shardyard setup)" \
          - "$BASE_IMAGE" >/dev/null; then
    tail -n 30 "$SETUP_LOG_DIR/base-image.log" >&2
    docker image rm -f "$BASE_IMAGE" >/dev/null 2>&1 || true
    die "building $BASE_IMAGE failed"
  fi
  docker run --rm "$BASE_IMAGE" python3 -c 'import ssl, venv, ensurepip' \
    || { docker image rm -f "$BASE_IMAGE" >/dev/null 2>&1; die "$BASE_IMAGE has no working python3"; }
  log "built $BASE_IMAGE ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
fi

# --- redis image ------------------------------------------------------------
if docker image inspect "$REDIS_IMAGE" >/dev/null 2>&1; then
  log "$REDIS_IMAGE already present"
else
  log "building $REDIS_IMAGE (log: $SETUP_LOG_DIR/redis-image.log)"
  docker build -q --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$REDIS_IMAGE" \
      "$SETUP_DIR/redis" >"$SETUP_LOG_DIR/redis-image.log" 2>&1 \
    || { tail -n 30 "$SETUP_LOG_DIR/redis-image.log" >&2; die "building $REDIS_IMAGE failed"; }
  log "built $REDIS_IMAGE"
fi

docker compose version >/dev/null
log "ok: $(docker version -f 'engine {{.Server.Version}}'), compose $(docker compose version --short), images: $BASE_IMAGE $REDIS_IMAGE"
