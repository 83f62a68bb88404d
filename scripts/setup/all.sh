#!/usr/bin/env bash
# Install and start everything the test suite needs on a fresh Debian 12 machine
# (root): apt packages, dockerd + local images, Slurm, Apptainer. What CI runs
# (via `make setup`) before the tests. Idempotent and safe to run again: each
# step skips what is already there or running. Prints each step's time.
#
# The Apptainer tree (a network-bound mmdebstrap) is built in the background
# while the Docker steps run; SHARDYARD_SETUP_SERIAL=1 runs strictly in order.
# Logs: $SHARDYARD_SETUP_LOG_DIR (default /tmp/shardyard-setup), /tmp/dockerd.log,
# /var/log/slurm/. Undo with scripts/setup/teardown.sh.
set -euo pipefail
SETUP_STEP=all
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

total_start=$(date +%s)
timings=()

run_step() {  # run_step NAME [ARGS...]
  local name="$1"; shift
  local t0; t0=$(date +%s)
  log "=== $name ==="
  if ! bash "$SETUP_DIR/$name.sh" "$@"; then
    log "step $name FAILED after $(( $(date +%s) - t0 ))s"
    exit 1
  fi
  timings+=("$(printf '%-18s %4ds' "$name${1:+ $1}" $(( $(date +%s) - t0 )))")
}

run_step apt

tree_pid=""
if [ "${SHARDYARD_SETUP_SERIAL:-0}" != 1 ]; then
  tree_log="$SETUP_LOG_DIR/apptainer-tree-bg.log"
  log "=== apptainer --tree-only (background, log: $tree_log) ==="
  tree_t0=$(date +%s)
  ( bash "$SETUP_DIR/apptainer.sh" --tree-only; rc=$?; date +%s >"$tree_log.end"; exit $rc ) \
    >"$tree_log" 2>&1 &
  tree_pid=$!
fi

run_step docker
run_step images
run_step slurm

if [ -n "$tree_pid" ]; then
  if wait "$tree_pid"; then
    cat "$tree_log" >&2
    timings+=("$(printf '%-18s %4ds (in the background, beside docker/images/slurm)' "apptainer tree" $(( $(cat "$tree_log.end") - tree_t0 )))")
  else
    cat "$tree_log" >&2
    die "apptainer --tree-only failed"
  fi
fi
run_step apptainer

log "=== done in $(( $(date +%s) - total_start ))s ==="
for t in "${timings[@]}"; do log "  $t"; done
