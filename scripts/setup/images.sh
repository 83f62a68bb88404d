#!/usr/bin/env bash
# Build the project image shardyard:latest from docker/Dockerfile on the local
# base image (no registry in CI). Always runs `docker build`: with an unchanged
# tree every layer is cached and it takes seconds; a changed tree rebuilds.
# The host's extra CA certificates are copied into docker/certs/ (gitignored)
# so pip inside the build trusts the same TLS proxies as the host.
set -euo pipefail
SETUP_STEP=images
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE_IMAGE="${SHARDYARD_BASE_IMAGE:-shardyard-base:bookworm}"
IMAGE="${SHARDYARD_IMAGE:-shardyard:latest}"
BUILD_LOG="$SETUP_LOG_DIR/image-build.log"

docker info >/dev/null 2>&1 || die "dockerd not running: run scripts/setup/docker.sh first"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "$BASE_IMAGE missing: run scripts/setup/docker.sh first"

certs_dir="$REPO_ROOT/docker/certs"
mkdir -p "$certs_dir"
n=0
for crt in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
  [ -f "$crt" ] || continue
  dest="$certs_dir/$(basename "$crt")"
  cmp -s "$crt" "$dest" || cp "$crt" "$dest"   # unchanged file keeps the build cache
  n=$((n + 1))
done
log "$n extra CA certificate(s) in docker/certs/"

log "building $IMAGE FROM $BASE_IMAGE (log: $BUILD_LOG)"
start=$(date +%s)
if ! BUILDKIT_PROGRESS=plain docker build \
      -f "$REPO_ROOT/docker/Dockerfile" \
      --build-arg BASE_IMAGE="$BASE_IMAGE" \
      ${PIP_INDEX_URL:+--build-arg PIP_INDEX_URL="$PIP_INDEX_URL"} \
      ${PIP_EXTRA_INDEX_URL:+--build-arg PIP_EXTRA_INDEX_URL="$PIP_EXTRA_INDEX_URL"} \
      --target worker \
      -t "$IMAGE" \
      "$REPO_ROOT" >"$BUILD_LOG" 2>&1; then
  tail -n 40 "$BUILD_LOG" >&2
  die "docker build failed (log: $BUILD_LOG)"
fi

size=$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')
docker run --rm --entrypoint sh "$IMAGE" -c 'id -u | grep -qx 1000 && command -v shardyard >/dev/null && python -c "import blocks, dispatcher, worker"' \
  || die "$IMAGE smoke test failed (uid 1000, shardyard on PATH, packages importable)"
log "ok: $IMAGE ($size) built in $(( $(date +%s) - start ))s"
