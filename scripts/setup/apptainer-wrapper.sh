#!/usr/bin/env bash
# /usr/local/bin/apptainer — runs Debian sid's apptainer from the userland tree
# that scripts/setup/apptainer.sh built (apptainer 1.4 needs glibc 2.38; bookworm
# has 2.36). It enters a private mount namespace, binds host paths into the tree
# at the same paths, pivot_roots into the tree and execs /usr/bin/apptainer with
# APPTAINER_NO_PRIVS=1 (this VM withholds a capability apptainer wants as root).
# Nothing it mounts is visible outside the namespace; it needs root.
#
# Host paths visible to apptainer (at the same path):
#   /proc /sys /dev /tmp /run/docker.sock, /etc/{passwd,group,hosts,resolv.conf},
#   /work /root /var/lib/shardyard /var/tmp /home /data /scratch (those that exist),
#   the current directory,
#   every dir in APPTAINER_WRAPPER_BINDS (colon-separated),
#   the source side of -B/--bind/--mount src:dst args and of APPTAINER_BIND /
#   SINGULARITY_BIND, and every path given as an argument (its directory, for
#   a file; its nearest existing parent, for an output still to be created) —
#   so `apptainer exec /any/x.sif ...` and `apptainer build /any/new.sif` work.
# These make host paths visible to apptainer itself. What the *container* sees
# is apptainer's business as usual: $HOME, the cwd, /tmp, /var/tmp by default,
# anything else with -B/--bind (whose source this wrapper then also binds).
# Image URIs: `build x.sif docker-daemon://IMG:TAG`; `exec docker-daemon:IMG:TAG`.
set -euo pipefail

TREE="${APPTAINER_WRAPPER_TREE:-/opt/apptainer-tree}"
if [ ! -x "$TREE/usr/bin/apptainer" ]; then
  echo "apptainer wrapper: no apptainer in $TREE; run scripts/setup/apptainer.sh" >&2
  exit 127
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "apptainer wrapper: needs root (unshare --mount, pivot_root)" >&2
  exit 1
fi

binds=()
add_bind() {  # add_bind PATH: bind PATH (a dir, or a file's dir, or for a
              # path still to be created, its nearest existing parent)
  local p="$1"
  [ -n "$p" ] || return 0
  case "$p" in /*) ;; *) return 0 ;; esac
  while [ ! -e "$p" ]; do p="$(dirname "$p")"; done
  [ -d "$p" ] || p="$(dirname "$p")"
  p="$(realpath -e "$p" 2>/dev/null)" || return 0
  # Never over the tree's own system dirs (an argument like /bin/sh or
  # /usr/bin/python names a path inside the container), nor the tree itself.
  case "$p" in
    /|"$TREE"|"$TREE"/*) return 0 ;;
    /usr|/usr/*|/bin|/bin/*|/sbin|/sbin/*|/lib|/lib/*|/lib32*|/lib64*|/libx32*) return 0 ;;
    /etc|/etc/*|/boot|/boot/*|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/run|/run/*) return 0 ;;
    /opt|/var|/var/lib|/var/lib/apptainer|/var/lib/apptainer/*|/var/cache|/var/log) return 0 ;;
  esac
  binds+=("$p")
}
add_bind_spec() {  # "src[:dst[:opts]]" (comma-separated list)
  local IFS=, spec
  for spec in $1; do add_bind "${spec%%:*}"; done
}

for d in /tmp /work /root /var/lib/shardyard /var/tmp /home /data /scratch; do add_bind "$d"; done
add_bind "$PWD"
IFS=: read -r -a extra <<<"${APPTAINER_WRAPPER_BINDS:-}"
for d in "${extra[@]}"; do add_bind "$d"; done
add_bind_spec "${APPTAINER_BIND:-}"
add_bind_spec "${SINGULARITY_BIND:-}"
prev=""
for a in "$@"; do
  case "$prev" in
    -B|--bind) add_bind_spec "$a" ;;
    --mount) s="${a#*src=}"; s="${s#*source=}"; add_bind "${s%%,*}" ;;
  esac
  case "$a" in
    --bind=*) add_bind_spec "${a#--bind=}" ;;
    /*) add_bind "${a%%:*}" ;;
    -*) ;;
    *) if [ -e "$a" ]; then add_bind "$(realpath -e "$a")"; fi ;;  # e.g. ../x.sif
  esac
  prev="$a"
done

# Parents first; drop paths already covered by a bound parent.
mapfile -t sorted < <(printf '%s\n' "${binds[@]}" | LC_ALL=C sort -u)
final=()
for p in "${sorted[@]}"; do
  covered=0
  for q in "${final[@]}"; do
    case "$p/" in "$q"/*) covered=1; break ;; esac
  done
  [ "$covered" = 1 ] || final+=("$p")
done

export APPTAINER_NO_PRIVS=1
# shellcheck disable=SC2016  # the script runs in the new namespace, with its own args
exec unshare --mount --propagation private -- /bin/bash -c '
  set -e
  tree="$1"; cwd="$2"; nb="$3"; shift 3
  mount --bind "$tree" "$tree"
  for d in /proc /sys /dev; do mount --rbind "$d" "$tree$d"; done
  i=0
  while [ "$i" -lt "$nb" ]; do
    d="$1"; shift; i=$((i + 1))
    mkdir -p "$tree$d"
    mount --rbind "$d" "$tree$d"
  done
  for f in /etc/passwd /etc/group /etc/hosts /etc/resolv.conf /run/docker.sock; do
    [ -e "$f" ] || continue
    [ -e "$tree$f" ] || { mkdir -p "$(dirname "$tree$f")"; : >"$tree$f"; }
    mount --bind "$f" "$tree$f"
  done
  cd "$tree"
  mkdir -p .oldroot
  pivot_root . .oldroot
  umount -l /.oldroot
  cd "$cwd" 2>/dev/null || cd /
  exec /usr/bin/apptainer "$@"
' apptainer-wrapper "$TREE" "$PWD" "${#final[@]}" "${final[@]}" "$@"
