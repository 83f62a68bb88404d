#!/usr/bin/env bash
# docker2sif.sh IMAGE OUT.sif — turn a local Docker image into an Apptainer SIF
# fast. `apptainer build x.sif docker-daemon://IMAGE` re-compresses every layer
# into its OCI cache, unpacks them to disk and then squashes (75 s for the
# 650 MB project image on a quiet 2-core machine, minutes under load). This
# streams `docker export` straight into mksquashfs (-tar, squashfs-tools 4.6
# from the Apptainer tree), appends the /.singularity.d metadata apptainer
# itself generates (env from the image's ENV, runscript from ENTRYPOINT/CMD)
# and wraps the squashfs in a SIF with `apptainer sif`: about 10x faster.
# --slow (or SHARDYARD_DOCKER2SIF_SLOW=1) uses plain `apptainer build` instead;
# any failure of the fast path falls back to it as well.
# Needs root, dockerd, and scripts/setup/apptainer.sh's tree + wrapper.
set -euo pipefail
SETUP_STEP=docker2sif
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

slow="${SHARDYARD_DOCKER2SIF_SLOW:-0}"
if [ "${1:-}" = --slow ]; then slow=1; shift; fi
[ $# -eq 2 ] || die "usage: docker2sif.sh [--slow] IMAGE OUT.sif"
IMAGE="$1"
OUT="$(realpath -m "$2")"
TREE="${APPTAINER_WRAPPER_TREE:-/opt/apptainer-tree}"
COMP=(-comp zstd -Xcompression-level 3)

docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no local image $IMAGE"
mkdir -p "$(dirname "$OUT")"

slow_build() {
  apptainer build --force --mksquashfs-args "${COMP[*]}" "$OUT" "docker-daemon://$IMAGE"
}
if [ "$slow" = 1 ]; then slow_build; exit 0; fi

# squashfs-tools 4.6 (for -tar) from the tree, run with the tree's own glibc
# through its dynamic loader, so it reads and writes host paths directly.
tree_mksquashfs() {
  "$TREE/lib64/ld-linux-x86-64.so.2" \
    --library-path "$TREE/lib/x86_64-linux-gnu:$TREE/usr/lib/x86_64-linux-gnu" \
    "$TREE/usr/bin/mksquashfs" "$@"
}

# Scratch space next to the output (same filesystem: the final mv is a rename).
work="$(mktemp -d "$(dirname "$OUT")/.docker2sif.XXXXXX")"
cleanup() {
  # The container id is in a file: fast_build runs in a subshell.
  if [ -s "$work/cid" ]; then docker rm -f "$(cat "$work/cid")" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

fast_build() {
  # 1. The metadata apptainer puts in every image, from a scratch build.
  local skel="$work/skel" add="$work/add"
  python3 - "$IMAGE" >"$work/skel.def" <<'PY'
import json, shlex, subprocess, sys
cfg = json.loads(subprocess.check_output(
    ["docker", "image", "inspect", "-f", "{{json .Config}}", sys.argv[1]]))
ep = cfg.get("Entrypoint") or []
cmd = cfg.get("Cmd") or []
q = lambda xs: " ".join(shlex.quote(x) for x in xs)
print("Bootstrap: scratch\n\n%runscript")
if ep:
    print(f'    if [ $# -gt 0 ]; then exec {q(ep)} "$@"; fi')
    print(f"    exec {q(ep + cmd)}")
elif cmd:
    print(f'    if [ $# -gt 0 ]; then exec "$@"; fi')
    print(f"    exec {q(cmd)}")
else:
    print('    exec /bin/sh "$@"')
PY
  apptainer --quiet build --force --sandbox "$skel" "$work/skel.def" >/dev/null
  # Same format as apptainer's own 10-docker2singularity.sh: PATH is set,
  # everything else only defaults (the host's value wins, as with docker://).
  python3 - "$IMAGE" >"$skel/.singularity.d/env/10-docker2singularity.sh" <<'PY'
import json, subprocess, sys
env = json.loads(subprocess.check_output(
    ["docker", "image", "inspect", "-f", "{{json .Config.Env}}", sys.argv[1]])) or []
esc = lambda v: v.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
print("#!/bin/sh")
for kv in env:
    k, _, v = kv.partition("=")
    if k == "PATH":
        print(f'export PATH="{esc(v)}"')
    else:
        print(f'export {k}="${{{k}:-"{esc(v)}"}}"')
PY
  chmod 0755 "$skel/.singularity.d/env/10-docker2singularity.sh"
  mkdir -p "$add"
  cp -a "$skel/.singularity.d" "$add/"
  for l in .exec .run .shell .test environment singularity; do cp -a "$skel/$l" "$add/"; done

  # 2. The image's filesystem, streamed: no layer cache, no unpacked copy.
  docker create --cidfile "$work/cid" "$IMAGE" >/dev/null
  docker export "$(cat "$work/cid")" \
    | tree_mksquashfs - "$work/rootfs.sqfs" -tar "${COMP[@]}" -noappend -quiet -no-progress
  # 3. Append the metadata (same compressor, read from the existing image).
  tree_mksquashfs "$add" "$work/rootfs.sqfs" -quiet -no-progress >/dev/null

  # 4. Wrap it: a SIF whose primary system partition is that squashfs.
  rm -f "$work/out.sif"
  apptainer sif new "$work/out.sif" >/dev/null
  apptainer sif add --datatype 4 --partfs 1 --parttype 2 --partarch 2 --groupid 1 \
    "$work/out.sif" "$work/rootfs.sqfs" >/dev/null
  rm -f "$work/rootfs.sqfs"
  apptainer exec "$work/out.sif" /bin/sh -c 'test -x /.singularity.d/runscript'
  mv -f "$work/out.sif" "$OUT"
}

# Not `if ! fast_build`: errexit is ignored inside a tested command.
set +e
( set -e; fast_build )
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  log "WARNING: fast path failed ($rc); falling back to apptainer build docker-daemon://$IMAGE"
  slow_build
fi
