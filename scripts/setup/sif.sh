#!/usr/bin/env bash
# Build the project's Apptainer image from apptainer/shardyard.def, which bootstraps from
# the local Docker image (docker-daemon://shardyard:latest) and adds the Apptainer side:
# %environment, %runscript (python -m worker), %test, %labels, %help.
# Through docker2sif.sh --def (docker export streamed into mksquashfs, the def's
# metadata applied, %test run: ~10x faster, same result) when it is there;
# SHARDYARD_SIF_SLOW=1 uses plain `apptainer build OUT apptainer/shardyard.def`.
#
#   bash scripts/setup/sif.sh [--force] [IMAGE [OUT.sif]]
#   default IMAGE: $SHARDYARD_IMAGE or shardyard:latest
#   default OUT:   /var/lib/shardyard/sif/shardyard.sif
#
# Skipped when OUT was built from the same Docker image ID and the same .def (both
# recorded beside it: OUT.image-id, OUT.def-sha256); --force rebuilds. The image ID
# record has the format scripts/setup/apptainer.sh checks, so that script keeps this
# SIF. Needs root, dockerd, and the apptainer wrapper of scripts/setup/apptainer.sh.
set -euo pipefail
SETUP_STEP=sif
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

force=0
if [ "${1:-}" = --force ]; then force=1; shift; fi
IMAGE="${1:-${SHARDYARD_IMAGE:-shardyard:latest}}"
OUT="$(realpath -m "${2:-/var/lib/shardyard/sif/shardyard.sif}")"
DEF="$REPO_ROOT/apptainer/shardyard.def"
BUILD_LOG="$SETUP_LOG_DIR/sif-def-build.log"

command -v apptainer >/dev/null || die "apptainer missing: run scripts/setup/apptainer.sh first"
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no local image $IMAGE: run scripts/setup/images.sh"

image_id="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
def_sha="$(sha256sum "$DEF" | cut -d' ' -f1)"
if [ "$force" = 0 ] && [ -s "$OUT" ] \
   && [ "$(cat "$OUT.image-id" 2>/dev/null)" = "$image_id" ] \
   && [ "$(cat "$OUT.def-sha256" 2>/dev/null)" = "$def_sha" ]; then
  log "$OUT up to date with $IMAGE and $(basename "$DEF")"
  exit 0
fi

mkdir -p "$(dirname "$OUT")"
log "building $OUT from $DEF on docker-daemon:$IMAGE (log: $BUILD_LOG)"
start=$(date +%s)
rm -f "$OUT.image-id" "$OUT.def-sha256"
# The .def's %test runs at the end of the build: a SIF that cannot import shardyard
# or find its redis-server is never installed.
build() {
  if [ -f "$SETUP_DIR/docker2sif.sh" ] && [ "${SHARDYARD_SIF_SLOW:-0}" != 1 ]; then
    bash "$SETUP_DIR/docker2sif.sh" --def "$DEF" "$IMAGE" "$OUT.tmp"
  else
    apptainer build --force --build-arg "IMAGE=$IMAGE" \
      --mksquashfs-args "-comp zstd -Xcompression-level 3" "$OUT.tmp" "$DEF"
  fi
}
if ! build >"$BUILD_LOG" 2>&1; then
  tail -n 30 "$BUILD_LOG" >&2
  rm -f "$OUT.tmp"
  die "apptainer build of $DEF failed"
fi
mv -f "$OUT.tmp" "$OUT"
printf '%s\n' "$image_id" >"$OUT.image-id"
printf '%s\n' "$def_sha" >"$OUT.def-sha256"
log "ok: $OUT ($(du -h "$OUT" | cut -f1)) built in $(( $(date +%s) - start ))s"
