#!/usr/bin/env bash
# Apptainer on bookworm: build a Debian sid userland tree holding apptainer 1.4
# at /opt/apptainer-tree (once), install the /usr/local/bin/apptainer wrapper
# (scripts/setup/apptainer-wrapper.sh: private mount namespace + pivot_root into
# the tree), then build the project SIF from the local Docker image (with
# docker2sif.sh, a fast docker-export -> squashfs path) and exec in it.
#   SIF: /var/lib/shardyard/sif/shardyard.sif from the image shardyard:latest
#   and apptainer/shardyard.def (when present), rebuilt when either changes
#   (recorded beside it in shardyard.sif.image-id / .def-sha256, as sif.sh does).
# Idempotent: the tree, the wrapper and an up-to-date SIF are kept.
# --tree-only: stop after the tree and the wrapper (all.sh runs that part in
# the background while Docker images build, then runs the rest).
set -euo pipefail
SETUP_STEP=apptainer
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

TREE="${APPTAINER_WRAPPER_TREE:-/opt/apptainer-tree}"
WRAPPER=/usr/local/bin/apptainer
IMAGE="${SHARDYARD_IMAGE:-shardyard:latest}"
SIF_DIR=/var/lib/shardyard/sif
SIF="$SIF_DIR/shardyard.sif"

command -v mmdebstrap >/dev/null || die "mmdebstrap missing: run scripts/setup/apt.sh first"

# --- sid tree ---------------------------------------------------------------
if [ -x "$TREE/usr/bin/apptainer" ]; then
  log "tree $TREE already has $("$TREE/usr/bin/apptainer" --version 2>/dev/null || echo apptainer)"
else
  mirror="$(debian_mirror)"
  tmp="$TREE.tmp.$$"
  rm -rf "$TREE".tmp.*
  log "building sid tree with mmdebstrap from $mirror (log: $SETUP_LOG_DIR/apptainer-tree.log)"
  # sid's Release files look expired to this VM's clock: skip Valid-Until.
  if ! mmdebstrap --variant=apt "${EATMYDATA_HOOK[@]}" \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --include=apptainer,squashfs-tools,squashfuse,fuse2fs,e2fsprogs,ca-certificates,mount \
        sid "$tmp" "deb $mirror sid main" >"$SETUP_LOG_DIR/apptainer-tree.log" 2>&1; then
    tail -n 30 "$SETUP_LOG_DIR/apptainer-tree.log" >&2
    rm -rf "$tmp"
    die "mmdebstrap of the sid tree failed"
  fi
  # Trust the same extra CAs as the host (apptainer pulls over HTTPS, if ever).
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$tmp/usr/local/share/ca-certificates/"
    chroot "$tmp" update-ca-certificates >/dev/null 2>&1 || log "WARNING: update-ca-certificates in the tree failed"
  fi
  rm -rf "$TREE"
  mv "$tmp" "$TREE"
  log "built $TREE ($(du -sh "$TREE" | cut -f1))"
fi

# Apptainer binds /etc/localtime from the "host" (the tree) into containers;
# the minimal tree has no tzdata, so give it the real host's zone file.
if [ ! -e "$TREE/etc/localtime" ] && [ -e /etc/localtime ]; then
  cp -L /etc/localtime "$TREE/etc/localtime"
fi

# --- wrapper ----------------------------------------------------------------
if cmp -s "$SETUP_DIR/apptainer-wrapper.sh" "$WRAPPER"; then
  log "wrapper $WRAPPER up to date"
else
  install -m 0755 "$SETUP_DIR/apptainer-wrapper.sh" "$WRAPPER"
  log "installed wrapper $WRAPPER"
fi
version="$(apptainer --version)" || die "'apptainer --version' failed through the wrapper"
log "$version"

# --- SIF from the local Docker image ----------------------------------------
if [ "${1:-}" = --tree-only ]; then
  exit 0
fi
if [ "${SHARDYARD_SETUP_SKIP_CHECKS:-0}" = 1 ]; then
  log "skipping the SIF build (SHARDYARD_SETUP_SKIP_CHECKS=1)"
  exit 0
fi
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "WARNING: $IMAGE not built (run scripts/setup/images.sh); checking with shardyard-base:bookworm"
  IMAGE=shardyard-base:bookworm
  SIF="$SIF_DIR/shardyard-base.sif"
fi
mkdir -p "$SIF_DIR"
image_id="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
# With apptainer/shardyard.def (the project's SIF recipe) the SIF is built from
# it, and recorded as scripts/setup/sif.sh records it (OUT.image-id and
# OUT.def-sha256), so sif.sh and this script each accept the other's SIF.
DEF="$REPO_ROOT/apptainer/shardyard.def"
def_args=()
def_sha=""
if [ "$IMAGE" != shardyard-base:bookworm ] && [ -f "$DEF" ]; then
  def_args=(--def "$DEF")
  def_sha="$(sha256sum "$DEF" | cut -d' ' -f1)"
fi
if [ -s "$SIF" ] && [ "$(cat "$SIF.image-id" 2>/dev/null)" = "$image_id" ] \
   && { [ -z "$def_sha" ] || [ "$(cat "$SIF.def-sha256" 2>/dev/null)" = "$def_sha" ]; }; then
  log "$SIF up to date with $IMAGE${def_sha:+ and $(basename "$DEF")}"
else
  log "building $SIF from $IMAGE${def_sha:+ and $(basename "$DEF")} with docker2sif.sh (log: $SETUP_LOG_DIR/sif-build.log)"
  start=$(date +%s)
  rm -f "$SIF.image-id" "$SIF.def-sha256"
  if ! bash "$SETUP_DIR/docker2sif.sh" "${def_args[@]}" "$IMAGE" "$SIF.tmp" >"$SETUP_LOG_DIR/sif-build.log" 2>&1; then
    tail -n 30 "$SETUP_LOG_DIR/sif-build.log" >&2
    rm -f "$SIF.tmp"
    die "building the SIF failed"
  fi
  if grep -q 'fast path failed' "$SETUP_LOG_DIR/sif-build.log"; then
    log "WARNING: docker2sif fell back to apptainer build (see $SETUP_LOG_DIR/sif-build.log)"
  fi
  mv -f "$SIF.tmp" "$SIF"
  printf '%s\n' "$image_id" >"$SIF.image-id"
  if [ -n "$def_sha" ]; then printf '%s\n' "$def_sha" >"$SIF.def-sha256"; fi
  log "built $SIF ($(du -h "$SIF" | cut -f1)) in $(( $(date +%s) - start ))s"
fi
if [ "$IMAGE" = shardyard-base:bookworm ]; then
  out="$(apptainer exec "$SIF" python3 -c 'print(1)')"
else
  out="$(apptainer exec "$SIF" python -c 'import blocks, dispatcher, worker; print(1)')"
fi
[ "$out" = 1 ] || die "apptainer exec in $SIF printed '$out', expected 1"
log "ok: apptainer exec $SIF works"
