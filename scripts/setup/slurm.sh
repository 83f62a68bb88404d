#!/usr/bin/env bash
# A one-node Slurm 22.05 cluster on this machine: write /etc/slurm/slurm.conf
# and cgroup.conf (real hostname, nproc CPUs, 85% of RAM), start munged (as
# user munge), slurmctld and slurmd, wait until the node is idle, and check a
# 4-task array. Idempotent: running daemons are kept unless the config changed.
#
# Facts for tests: partition "debug" (default), MaxArraySize=1001 (array
# indices 0..1000, so a 1500-task run must be split into several arrays),
# DefMemPerCPU=1024 (without it array tasks run one at a time), no accounting
# (no slurmdbd: `sacct` does not work; use squeue / scontrol show job).
# Logs: /var/log/slurm/slurmctld.log, /var/log/slurm/slurmd.log,
# /var/log/munge/munged.log.
set -euo pipefail
SETUP_STEP=slurm
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root

CONF_DIR=/etc/slurm
PARTITION=debug
MAX_ARRAY_SIZE="${SHARDYARD_SLURM_MAX_ARRAY_SIZE:-1001}"
LOG_DIR=/var/log/slurm

command -v slurmctld >/dev/null || die "slurm missing: run scripts/setup/apt.sh first"

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.85 }' /proc/meminfo)"

mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd

render_slurm_conf() {
  cat <<CONF
# Written by shardyard scripts/setup/slurm.sh: one node, for the test suite.
ClusterName=shardyard
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup,task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a per-CPU memory default every job asks for the whole node's memory
# and array tasks run one at a time.
DefMemPerCPU=1024
SchedulerType=sched/backfill
# Tests submit short arrays and wait for them: run the scheduling loops every
# second instead of every 30-60 s so a freed CPU is reused at once.
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
MailProg=/bin/true
# Array indices 0..MaxArraySize-1; shardyard splits bigger runs into several arrays.
MaxArraySize=${MAX_ARRAY_SIZE}
MaxJobCount=20000
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=${LOG_DIR}/slurmctld.log
SlurmdLogFile=${LOG_DIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=60
SlurmdTimeout=60
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
}

render_cgroup_conf() {
  cat <<CONF
# Written by shardyard scripts/setup/slurm.sh (cgroup v1, no systemd).
CgroupPlugin=cgroup/v1
CgroupAutomount=no
ConstrainCores=yes
ConstrainRAMSpace=yes
IgnoreSystemd=yes
CONF
}

changed=0
install_if_changed() {  # install_if_changed FILE < content
  local tmp; tmp="$(mktemp)"
  cat >"$tmp"
  if ! cmp -s "$tmp" "$1"; then
    install -m 0644 "$tmp" "$1"; changed=1
    log "wrote $1"
  fi
  rm -f "$tmp"
}
install_if_changed "$CONF_DIR/slurm.conf" < <(render_slurm_conf)
install_if_changed "$CONF_DIR/cgroup.conf" < <(render_cgroup_conf)

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {  # stop_pidfile NAME PIDFILE
  if pid_alive "$2"; then
    local pid; pid="$(cat "$2")"
    log "stopping $1 (pid $pid) to apply the new config"
    kill "$pid"
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$2"
}

# --- munge ------------------------------------------------------------------
MUNGE_PID=/run/munge/munged.pid
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  if command -v mungekey >/dev/null; then mungekey --create --keyfile=/etc/munge/munge.key --force
  else dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; fi
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
fi
if pid_alive "$MUNGE_PID" && munge -n </dev/null | unmunge >/dev/null 2>&1; then
  log "munged already running"
else
  rm -f "$MUNGE_PID"
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged
  wait_for "munged" 20 sh -c 'munge -n </dev/null | unmunge'
  record_started munged "$(cat "$MUNGE_PID")"
fi

# --- slurmctld / slurmd -----------------------------------------------------
if [ "$changed" = 1 ]; then
  stop_pidfile slurmd /run/slurmd.pid
  stop_pidfile slurmctld /run/slurmctld.pid
fi
if pid_alive /run/slurmctld.pid; then
  log "slurmctld already running"
else
  log "starting slurmctld (log: $LOG_DIR/slurmctld.log)"
  slurmctld -f "$CONF_DIR/slurm.conf"
  wait_for "slurmctld (see $LOG_DIR/slurmctld.log)" 30 scontrol ping
  record_started slurmctld "$(cat /run/slurmctld.pid)"
fi
if pid_alive /run/slurmd.pid; then
  log "slurmd already running"
else
  log "starting slurmd (log: $LOG_DIR/slurmd.log)"
  slurmd -f "$CONF_DIR/slurm.conf" -N "$host"
  wait_for "slurmd pid file" 10 test -s /run/slurmd.pid
  record_started slurmd "$(cat /run/slurmd.pid)"
fi

node_state() { sinfo -h -N -n "$host" -o '%T' 2>/dev/null | head -n1; }
node_idle() { case "$(node_state)" in idle|mixed|allocated|completing) return 0 ;; *) return 1 ;; esac; }
deadline=$(( $(date +%s) + 60 ))
until node_idle; do
  state="$(node_state)"
  case "$state" in
    down*|drain*|fail*)   # left over from an earlier run's state
      log "node $host is $state; resuming"
      scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] || die "node $host not idle after 60s (state: ${state:-none}; see $LOG_DIR/)"
  sleep 0.5
done
log "node $host $(node_state): CPUs=$cpus RealMemory=${mem_mb}MB, partition $PARTITION, MaxArraySize=$MAX_ARRAY_SIZE"

# --- smoke test: a 4-task array --------------------------------------------
if [ "${SHARDYARD_SETUP_SKIP_CHECKS:-0}" != 1 ]; then
  out="$(mktemp -d /tmp/shardyard-slurm-check.XXXXXX)"
  start=$(date +%s)
  job="$(sbatch --parsable --array=0-3 --time=2 -p "$PARTITION" -J shardyard-setup-check \
           -o "$out/%A_%a.out" --wrap 'sleep 1; hostname')" \
    || die "sbatch failed (logs in $LOG_DIR/)"
  job="${job%%;*}"
  # Poll ourselves: `sbatch --wait` polls at growing intervals and adds seconds.
  wait_for "array job $job" 120 sh -c "[ -z \"\$(squeue -h -j $job -o %i 2>/dev/null)\" ]"
  bad="$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | grep -vc 'JobState=COMPLETED' || true)"
  [ "$bad" = 0 ] || die "4-task array $job: $bad task(s) not COMPLETED (outputs in $out)"
  n="$(cat "$out"/*.out 2>/dev/null | grep -cx "$host" || true)"
  [ "$n" = 4 ] || die "4-task array: expected 4 outputs naming $host, got $n (see $out)"
  rm -rf "$out"
  log "ok: 4-task array of 'sleep 1; hostname' done in $(( $(date +%s) - start ))s"
fi
