#!/usr/bin/env bash
# Stop what scripts/setup/all.sh started: testcontainers' leftover containers
# (label org.testcontainers.lang=python), slurmd, slurmctld, munged and dockerd.
# Only daemons the setup scripts started themselves are stopped (their pids are
# recorded in /run/shardyard-setup/); --all stops them whoever started them.
# Installed packages, images, the Apptainer tree and the SIF are kept, so a
# later all.sh is fast. Safe to run when nothing is running.
set -euo pipefail
SETUP_STEP=teardown
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

ALL=0
[ "${1:-}" = --all ] && ALL=1

# stop NAME PIDFILE COMM TIMEOUT
stop() {
  local name="$1" pidfile="$2" comm="$3" timeout="$4" pid=""
  if [ -f "$SETUP_STATE_DIR/$name.pid" ]; then
    pid="$(cat "$SETUP_STATE_DIR/$name.pid")"
  elif [ "$ALL" = 1 ] && [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile")"
  fi
  rm -f "$SETUP_STATE_DIR/$name.pid"
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    return 0
  fi
  # Guard against a recycled pid: only signal the daemon we mean.
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$comm" ]; then
    log "pid $pid is not $comm any more; leaving it"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$name did not stop in ${timeout}s; killing"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
}

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ids="$(docker ps -aq --filter label=org.testcontainers.lang=python)"
  if [ -n "$ids" ]; then
    log "removing $(echo "$ids" | wc -l) testcontainers container(s)"
    # shellcheck disable=SC2086
    docker rm -f -v $ids >/dev/null 2>&1 || true
  fi
  # compose projects of the integration tests (sy-it-*), if a test run was killed hard
  for project in $(docker compose ls -a --format json 2>/dev/null | grep -o '"Name":"sy-it-[^"]*"' | cut -d'"' -f4); do
    log "removing compose project $project"
    docker compose -p "$project" down -v --remove-orphans >/dev/null 2>&1 || true
  done
fi

if command -v scancel >/dev/null && scontrol ping >/dev/null 2>&1; then
  scancel --full --quiet "--jobname=shardyard-setup-check" 2>/dev/null || true
  # jobs of the integration tests (sy-it-*), if a test run was killed hard
  for job in $(squeue -h -o '%i %j' 2>/dev/null | awk '$2 ~ /^sy-it-/ {print $1}'); do
    scancel --full --quiet "$job" 2>/dev/null || true
  done
fi
stop slurmd /run/slurmd.pid slurmd 20
stop slurmctld /run/slurmctld.pid slurmctld 20
stop munged /run/munge/munged.pid munged 10
stop dockerd /var/run/docker.pid dockerd 60

log "done"
