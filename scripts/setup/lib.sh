# shellcheck shell=bash
# Shared helpers for scripts/setup/*.sh. Source it; do not run it.

SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
REPO_ROOT="$(cd "$SETUP_DIR/../.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

# Logs of the daemons and builds this layer starts.
SETUP_LOG_DIR="${SHARDYARD_SETUP_LOG_DIR:-/tmp/shardyard-setup}"
mkdir -p "$SETUP_LOG_DIR"

log() { printf '[setup:%s %s] %s\n' "${SETUP_STEP:-?}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

host_codename() {
  # shellcheck disable=SC1091
  . /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-bookworm}"
}

# The Debian archive mirror this machine's apt already uses, read from
# /etc/apt/sources.list{,.d/*} (deb822 .sources and one-line .list). Picks the
# URI that serves the host's codename with component main, not -security.
# SHARDYARD_DEBIAN_MIRROR overrides.
debian_mirror() {
  if [ -n "${SHARDYARD_DEBIAN_MIRROR:-}" ]; then
    printf '%s\n' "${SHARDYARD_DEBIAN_MIRROR%/}"; return
  fi
  local codename mirror=""
  codename="$(host_codename)"
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    mirror="$(awk -v cn="$codename" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " cn " ") && (" " comps " ") ~ / main / && uris != "") {
          split(uris, u, " "); print u[1]; found = 1; exit
        }
        types = ""; suites = ""; comps = ""; uris = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { key = $1; sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "Types") types = $0; else if (key == "Suites") suites = $0
        else if (key == "Components") comps = $0; else if (key == "URIs") uris = $0 }
      END { if (!found) flush() }' "$f")"
    [ -n "$mirror" ] && break
  done
  if [ -z "$mirror" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] || continue
      mirror="$(awk -v cn="$codename" '
        $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                      if ($(i+1) == cn) { for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit } } }' "$f")"
      [ -n "$mirror" ] && break
    done
  fi
  [ -n "$mirror" ] || die "no Debian mirror for '$codename' found in /etc/apt/sources*; set SHARDYARD_DEBIAN_MIRROR"
  printf '%s\n' "${mirror%/}"
}

# wait_for DESCRIPTION SECONDS CMD... : poll CMD every 0.5 s until it succeeds.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what"
    sleep 0.5
  done
}

# Daemons the setup scripts started, one file per daemon holding its pid, so
# teardown.sh stops only those (and never a daemon that was already running).
SETUP_STATE_DIR=/run/shardyard-setup
record_started() {  # record_started NAME PID
  mkdir -p "$SETUP_STATE_DIR"
  printf '%s\n' "$2" >"$SETUP_STATE_DIR/$1.pid"
}

# mmdebstrap without dpkg's fsyncs (its own eatmydata hook), when available.
EATMYDATA_HOOK=()  # used by docker.sh and apptainer.sh
if [ -d /usr/share/mmdebstrap/hooks/eatmydata ] && command -v eatmydata >/dev/null; then
  # shellcheck disable=SC2034
  EATMYDATA_HOOK=(--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata)
fi
