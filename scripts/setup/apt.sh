#!/usr/bin/env bash
# Install the Debian packages the test suite's infrastructure needs: Redis,
# Docker engine, mmdebstrap (base image + Apptainer tree), Slurm + munge,
# squashfs-tools, eatmydata (faster dpkg). Idempotent: does nothing (not even
# apt-get update) when every package is already installed. Never leaves a distro daemon running:
# tests start their own redis-server, and the other scripts start the rest.
set -euo pipefail
SETUP_STEP=apt
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

PACKAGES=(
  redis-server redis-tools
  docker.io containerd runc tini iptables
  mmdebstrap
  slurmctld slurmd slurm-client munge
  squashfs-tools eatmydata
  ca-certificates curl xz-utils zstd util-linux procps iproute2
  libmagic1
)

missing=()
for p in "${PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != installed ]; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  log "all ${#PACKAGES[@]} packages already installed; skipping apt-get"
else
  log "installing ${#missing[@]} packages: ${missing[*]}"
  # Keep package maintainer scripts from starting daemons (redis on 6379,
  # munge, slurm, docker): a policy-rc.d that says 101 ("action forbidden").
  # Debian's docker-style machines already ship one; add ours only if absent.
  policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_added=1
  fi
  trap 'if [ "$policy_added" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  apt-get update -qq
  install_pkgs() {
    "$@" -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
      >>"$SETUP_LOG_DIR/apt-install.log" 2>&1 \
      || { tail -n 40 "$SETUP_LOG_DIR/apt-install.log" >&2; die "apt-get install failed (log: $SETUP_LOG_DIR/apt-install.log)"; }
  }
  : >"$SETUP_LOG_DIR/apt-install.log"
  # eatmydata first: dpkg's fsync calls are most of an install's time on a VM
  # disk, and a half-installed fresh CI machine is simply thrown away.
  command -v eatmydata >/dev/null || install_pkgs apt-get install eatmydata
  install_pkgs eatmydata apt-get install "${missing[@]}"
  log "installed (log: $SETUP_LOG_DIR/apt-install.log)"
fi

# A package install on a systemd-less machine may still have started the
# distro's redis (e.g. without policy-rc.d). Tests own port 6379: stop it.
if [ -f /run/redis/redis-server.pid ] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then
  log "stopping the distro redis-server started by the package (pid $(cat /run/redis/redis-server.pid))"
  kill "$(cat /run/redis/redis-server.pid)" || true
fi
if command -v ss >/dev/null && ss -ltnH 'sport = :6379' | grep -q .; then
  log "WARNING: something listens on :6379 (not started by this script): $(ss -ltnpH 'sport = :6379')"
fi

for bin in redis-server dockerd mmdebstrap slurmctld slurmd sbatch munged mksquashfs unshare pivot_root; do
  command -v "$bin" >/dev/null || die "$bin not found after install"
done
log "ok: redis $(redis-server --version | awk '{print $3}'), dockerd $(dockerd --version | awk '{print $3}' | tr -d ,), slurm $(dpkg-query -W -f='${Version}' slurmctld), mmdebstrap $(mmdebstrap --version | awk '{print $2}')"
