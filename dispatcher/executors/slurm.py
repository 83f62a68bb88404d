"""Run a spec on a Slurm cluster: enqueue the run, then sbatch arrays of workers.

``shardyard slurm SPEC --workers N ...`` (:func:`launch`) does, in order:

1. with ``--start-redis``, submit a Slurm job that runs Redis (:func:`serve_redis`, in the
   Apptainer image or the venv) with its data in ``redis_dir`` and wait until it answers;
   with ``--redis URL`` use that server;
2. submit the run (:func:`dispatcher.submit.submit_run`: validate, store, enqueue shards);
3. write ``logging_dir/launch_script.slurm`` (:func:`render_worker_script`) and submit it as
   one or more sbatch arrays: one array element = one worker, ``python -m worker
   --exit-when-idle``, so shards are not tied to array indices. Arrays above the cluster's
   ``MaxArraySize`` are split (:func:`array_chunks`).

An element that is preempted, cancelled (``scancel``), requeued or reaches its time limit
gets SIGTERM (or ``--signal=B:USR1`` shortly before the limit, forwarded by the script):
the worker gives its running shard back to the queue without using an attempt. After an
idle exit the element asks :func:`keep_working` whether shards of the run still run
elsewhere (their completion may enqueue a next stage) and, if so, starts the worker again.

The Redis URL never appears on a command line or in the script: workers read it from a
mode-600 file (``logging_dir/slurm/redis.url``, or ``redis_dir/url`` written by the Redis
job). The Redis job stops itself once none of the worker arrays registered with it
(``redis_dir/clients``) is pending or running; its AOF stays in ``redis_dir``, so
launching the same run again resumes it.

Everything is rendered and validated in plain Python (:class:`SlurmOptions`), so the
scripts are unit-tested without a cluster; :class:`Slurm` wraps the four commands used
(``sbatch``, ``squeue``, ``scancel``, ``scontrol``) and is replaced by a fake in tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from blocks.errors import ShardyardError
from blocks.spec import PipelineSpec
from dispatcher.state import StateStore, check_redis_url, check_run_id
from dispatcher.submit import Send, SubmitResult, submit_run
from dispatcher.task import DEFAULT_QUEUE

LAUNCH_SCRIPT = "launch_script.slurm"
SLURM_DIR = "slurm"  # logging_dir/slurm: logs/, jobs.json, redis.url, redis.slurm, redis/
JOBS_FILE = "jobs.json"
URL_FILE = "redis.url"
REDIS_SCRIPT = "redis.slurm"
DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's own default
_TIME = re.compile(r"^(?:(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?|(\d+)(?::(\d+)(?::(\d+))?)?)$")
_NAME = re.compile(r"^[A-Za-z0-9_.,:+@%-]+$")
_ALIVE_STATES = ("PENDING", "CONFIGURING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED")


class SlurmError(ShardyardError):
    """A Slurm command failed, or the Redis job did not come up."""


class SlurmConfigError(SlurmError):
    """An option of ``shardyard slurm`` cannot be used (exit code 2, nothing submitted)."""

    exit_code = 2


# -- options ---------------------------------------------------------------------------
def time_limit_seconds(value: str) -> int | None:
    """Seconds of a Slurm ``--time`` value (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``,
    ``D-HH:MM``, ``D-HH:MM:SS``); None for ``UNLIMITED``/``INFINITE``."""
    text = value.strip()
    if text.upper() in ("UNLIMITED", "INFINITE"):
        return None
    m = _TIME.match(text)
    if m is None:
        raise SlurmConfigError(
            f"--time {value!r}: use MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
        )
    if m.group(1) is not None:
        days, hours, minutes, seconds = (int(g or 0) for g in m.group(1, 2, 3, 4))
    else:
        parts = [int(g) for g in m.group(5, 6, 7) if g is not None]
        days = 0
        if len(parts) == 1:
            hours, minutes, seconds = 0, parts[0], 0
        elif len(parts) == 2:
            hours, (minutes, seconds) = 0, parts
        else:
            hours, minutes, seconds = parts
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise SlurmConfigError(f"--time {value!r} must be longer than zero")
    return total


def group_sbatch_args(raw: str | Sequence[str]) -> list[str]:
    """``"--account=a --constraint gpu -x n1"`` -> ``["--account=a", "--constraint gpu",
    "-x n1"]``: one ``#SBATCH`` directive per option (its values follow it)."""
    tokens = shlex.split(raw) if isinstance(raw, str) else [t for t in raw if t]
    out: list[str] = []
    for token in tokens:
        if "\n" in token or "\r" in token:
            raise SlurmConfigError(f"--sbatch-args: no newlines allowed ({token!r})")
        if token.startswith("-"):
            out.append(token)
        elif out:
            out[-1] = f"{out[-1]} {shlex.quote(token)}"
        else:
            raise SlurmConfigError(f"--sbatch-args must start with an option, not {token!r}")
    return out


def array_chunks(workers: int, max_array_size: int) -> list[int]:
    """Sizes of the arrays that give ``workers`` elements when one array may hold at most
    ``max_array_size`` (indices ``0..MaxArraySize-1``): 2500 and 1001 -> [1001, 1001, 498]."""
    if workers < 1 or max_array_size < 1:
        raise SlurmConfigError("workers and the maximum array size must be at least 1")
    return [min(max_array_size, workers - start) for start in range(0, workers, max_array_size)]


@dataclass(frozen=True)
class SlurmOptions:
    """Everything that goes into the sbatch scripts. Paths must be absolute (see
    :meth:`resolved`); :meth:`validate` raises :class:`SlurmConfigError` naming the option."""

    workers: int
    time: str
    logging_dir: str
    workdir: str
    job_name: str
    partition: str | None = None
    cpus_per_task: int = 1
    mem_per_cpu_gb: float | None = None
    qos: str | None = None
    sbatch_args: tuple[str, ...] = ()
    max_array_size: int | None = None
    env_command: str | None = None
    venv_path: str | None = None
    condaenv: str | None = None
    image: str | None = None
    binds: tuple[str, ...] = ()
    apptainer: str = "apptainer"
    concurrency: int | None = None
    exit_when_idle: float = 60.0
    queue: str = DEFAULT_QUEUE
    plugins: tuple[str, ...] = ()
    signal_seconds: int = 90
    redis_dir: str | None = None
    redis_mem_gb: float | None = None
    redis_time: str | None = None

    @property
    def slurm_dir(self) -> Path:
        return Path(self.logging_dir) / SLURM_DIR

    @property
    def script_path(self) -> Path:
        return Path(self.logging_dir) / LAUNCH_SCRIPT

    @property
    def worker_concurrency(self) -> int:
        return self.concurrency or self.cpus_per_task

    def resolved(self) -> SlurmOptions:
        """A copy with absolute paths (jobs start in ``workdir``, not where we are)."""

        def absolute(path: str | None) -> str | None:
            return None if path is None else os.path.abspath(os.path.expanduser(path))

        image = self.image
        if image is not None and "://" not in image:
            image = absolute(image)
        return replace(
            self,
            logging_dir=absolute(self.logging_dir) or self.logging_dir,
            workdir=absolute(self.workdir) or self.workdir,
            venv_path=absolute(self.venv_path),
            redis_dir=absolute(self.redis_dir),
            image=image,
        )

    def validate(self) -> None:
        if self.workers < 1:
            raise SlurmConfigError("--workers must be at least 1")
        if self.cpus_per_task < 1:
            raise SlurmConfigError("--cpus-per-task must be at least 1")
        if self.concurrency is not None and self.concurrency < 1:
            raise SlurmConfigError("--concurrency must be at least 1")
        for name, gb in (
            ("--mem-per-cpu-gb", self.mem_per_cpu_gb),
            ("--redis-mem-gb", self.redis_mem_gb),
        ):
            if gb is not None and not gb > 0:
                raise SlurmConfigError(f"{name} must be positive")
        if self.max_array_size is not None and self.max_array_size < 1:
            raise SlurmConfigError("--max-array-size must be at least 1")
        if not self.exit_when_idle > 0:
            raise SlurmConfigError("--exit-when-idle must be positive")
        time_limit_seconds(self.time)
        if self.redis_time is not None:
            time_limit_seconds(self.redis_time)
        for name, value in (
            ("--partition", self.partition),
            ("--qos", self.qos),
            ("--job-name", self.job_name),
            ("--queue", self.queue),
        ):
            if value is not None and not _NAME.match(value):
                raise SlurmConfigError(f"{name} {value!r}: letters, digits and _.,:+@%- only")
        if not self.apptainer.strip() or "\n" in self.apptainer:
            raise SlurmConfigError("--apptainer must be a command, e.g. apptainer or singularity")
        if self.venv_path and self.condaenv:
            raise SlurmConfigError("give --venv-path or --condaenv, not both")
        if self.image and (self.venv_path or self.condaenv):
            raise SlurmConfigError(
                "--image runs the workers in the Apptainer image: drop --venv-path/--condaenv"
            )
        if "://" in self.logging_dir:
            raise SlurmConfigError(
                f"logging dir {self.logging_dir!r}: Slurm writes its logs and scripts there, "
                "so it must be a path on a file system the nodes share (not a URL)"
            )
        for bind in self.binds:
            if not bind or "," in bind or "\n" in bind:
                raise SlurmConfigError(f"--bind {bind!r}: one SRC[:DST[:OPTS]] per --bind")
        group_sbatch_args(self.sbatch_args)

    # -- pieces of the scripts ----------------------------------------------------------
    def directives(self, *, kind: str) -> list[str]:
        """``#SBATCH`` lines shared by the worker and the Redis scripts (``kind``)."""
        logs = self.slurm_dir / "logs"
        lines = [f"--job-name={self.job_name if kind == 'worker' else self.job_name + '-redis'}"]
        if self.partition:
            lines.append(f"--partition={self.partition}")
        limit = self.time if kind == "worker" else (self.redis_time or self.time)
        lines.append(f"--time={limit}")
        if kind == "worker":
            lines.append(f"--cpus-per-task={self.cpus_per_task}")
            if self.mem_per_cpu_gb is not None:
                lines.append(f"--mem-per-cpu={round(self.mem_per_cpu_gb * 1024)}M")
            lines.append(f"--output={logs}/worker_%A_%a.out")
        else:
            lines.append("--cpus-per-task=1")
            if self.redis_mem_gb is not None:
                lines.append(f"--mem={round(self.redis_mem_gb * 1024)}M")
            lines.append(f"--output={logs}/redis_%j.out")
        if self.qos:
            lines.append(f"--qos={self.qos}")
        lines += ["--open-mode=append", f"--chdir={self.workdir}", "--requeue"]
        seconds = time_limit_seconds(limit)
        lead = self.signal_seconds if seconds is None else min(self.signal_seconds, seconds // 4)
        if lead >= 10:
            lines.append(f"--signal=B:USR1@{lead}")
        return [f"#SBATCH {shlex.quote(x) if ' ' in x else x}" for x in lines] + [
            f"#SBATCH {x}" for x in group_sbatch_args(self.sbatch_args)
        ]

    def environment(self) -> list[str]:
        """Shell lines that make ``python``/``shardyard`` (or ``apptainer``) available."""
        lines: list[str] = []
        if self.env_command:
            lines.append(self.env_command.strip())
        if self.venv_path:
            lines.append(f"source {shlex.quote(self.venv_path)}/bin/activate")
        if self.condaenv:
            lines.append('eval "$(conda shell.bash hook)"')
            lines.append(f"conda activate {shlex.quote(self.condaenv)}")
        if self.image:
            binds = [self.logging_dir]
            if self.redis_dir and not self.redis_dir.startswith(self.logging_dir.rstrip("/") + "/"):
                binds.append(self.redis_dir)
            unique = ",".join(dict.fromkeys([*binds, *self.binds]))
            # "singularity", or "apptainer --nv": a command with its own options
            runtime = " ".join(shlex.quote(part) for part in shlex.split(self.apptainer))
            lines.append(
                f"SY_RUN=({runtime} exec --bind {shlex.quote(unique)} {shlex.quote(self.image)})"
            )
        else:
            lines.append("SY_RUN=()")
        return lines


# -- scripts -----------------------------------------------------------------------------
_WORKER_BODY = r"""set -uo pipefail

# -- environment
{environment}

# -- Redis: the URL (with its password) is read from a mode-600 file, never from argv
SY_URL_FILE={url_file}
for _ in $(seq 1 120); do [ -s "$SY_URL_FILE" ] && break; sleep 5; done
if [ ! -s "$SY_URL_FILE" ]; then
  echo "[shardyard] no Redis URL in $SY_URL_FILE after 10 minutes" >&2
  exit 1
fi
SHARDYARD_REDIS_URL="$(cat "$SY_URL_FILE")"
export SHARDYARD_REDIS_URL

# -- preemption, scancel, requeue, time limit: SIGTERM/SIGUSR1 make the worker give its
# running shard back to the queue (no attempt used); then this element ends.
SY_STOP=0
SY_CHILD=""
sy_stop() {{
  SY_STOP=1
  if [ -n "$SY_CHILD" ]; then kill -TERM "$SY_CHILD" 2>/dev/null || true; fi
}}
trap sy_stop TERM USR1 INT
sy_wait() {{  # `wait` returns early when a trapped signal arrives: wait for the real end
  local rc=0
  wait "$SY_CHILD" || rc=$?
  while kill -0 "$SY_CHILD" 2>/dev/null; do rc=0; wait "$SY_CHILD" || rc=$?; done
  SY_CHILD=""
  return "$rc"
}}

SY_NAME="sy-${{SLURM_ARRAY_JOB_ID:-${{SLURM_JOB_ID:-0}}}}_${{SLURM_ARRAY_TASK_ID:-0}}@%h"
while :; do
  "${{SY_RUN[@]}}" python -m worker --queue {queue} --concurrency {concurrency} \
    --exit-when-idle {idle} --hostname "$SY_NAME"{plugins} &
  SY_CHILD=$!
  rc=0
  sy_wait || rc=$?
  if [ "$SY_STOP" = 1 ]; then
    echo "[shardyard] stopped by a signal; running shards went back to the queue"
    exit 0
  fi
  if [ "$rc" -ne 0 ]; then
    echo "[shardyard] worker exited with status $rc" >&2
    exit "$rc"
  fi
  # Idle: keep going only while shards of this run still run elsewhere (the last one of
  # a stage enqueues the next stage).
  "${{SY_RUN[@]}}" shardyard slurm-continue {run_id} || break
  echo "[shardyard] run {run_id} not complete and shards still running: worker again"
done
"""

_REDIS_BODY = r"""set -uo pipefail

# -- environment
{environment}

# Redis for shardyard run(s) using {redis_dir}: data (AOF), password and URL live there.
SY_REDIS_DIR={redis_dir}
"${{SY_RUN[@]}}" shardyard slurm-redis --dir "$SY_REDIS_DIR" &
SY_SERVER=$!
trap 'kill -TERM "$SY_SERVER" 2>/dev/null || true' TERM USR1 INT

sy_job_alive() {{  # any element of job $1 pending or running? (unknown answer: yes)
  local out rc=0
  out="$(squeue -h -j "$1" -o %T 2>&1)" || rc=$?
  if [ "$rc" -ne 0 ]; then
    case "$out" in *"Invalid job id"*) return 1 ;; *) return 0 ;; esac
  fi
  [ -n "$out" ]
}}
sy_clients_alive() {{
  local id
  while read -r id; do
    [ -n "$id" ] || continue
    if sy_job_alive "$id"; then return 0; fi
  done <"$SY_REDIS_DIR/clients"
  return 1
}}

# Stop once none of the worker jobs registered in clients is pending or running.
while kill -0 "$SY_SERVER" 2>/dev/null; do
  sleep {poll} &
  wait $! 2>/dev/null || true
  if [ -s "$SY_REDIS_DIR/clients" ] && ! sy_clients_alive; then
    echo "[shardyard] no worker job left: stopping Redis"
    kill -TERM "$SY_SERVER" 2>/dev/null || true
    break
  fi
done
rc=0
wait "$SY_SERVER" || rc=$?
while kill -0 "$SY_SERVER" 2>/dev/null; do rc=0; wait "$SY_SERVER" || rc=$?; done
exit "$rc"
"""


def _header(title: str, notes: Sequence[str]) -> list[str]:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return ["#!/bin/bash", f"# {title} (written by `shardyard slurm`, {stamp})"] + [
        f"# {n}" if n else "#" for n in notes
    ]


def render_worker_script(
    opts: SlurmOptions, *, run_id: str, url_file: str, chunks: Sequence[int]
) -> str:
    """The array script (``launch_script.slurm``): each element runs one worker."""
    check_run_id(run_id)
    script = opts.script_path
    submits = [f"#   sbatch --array=0-{k - 1} {script}" for k in chunks]
    notes = [
        f"Workers for run {run_id}: each array element runs `python -m worker` on queue",
        f"{opts.queue}; shards are not tied to array indices. Submitted as:",
        *[s[2:] for s in submits],
        "More workers can be added at any time with another sbatch of this file.",
    ]
    plugins = f" --plugins {shlex.quote(','.join(opts.plugins))}" if opts.plugins else ""
    body = _WORKER_BODY.format(
        environment="\n".join(opts.environment()),
        url_file=shlex.quote(url_file),
        queue=shlex.quote(opts.queue),
        concurrency=opts.worker_concurrency,
        idle=f"{opts.exit_when_idle:g}",
        plugins=plugins,
        run_id=shlex.quote(run_id),
    )
    lines = [
        *_header("shardyard worker array", notes),
        *opts.directives(kind="worker"),
        f"#SBATCH --array=0-{chunks[0] - 1}",
        "",
        body,
    ]
    return "\n".join(lines)


def render_redis_script(opts: SlurmOptions, *, poll: float = 15) -> str:
    """The Redis job: ``shardyard slurm-redis`` plus a watchdog that stops it when no
    registered worker job is left."""
    if not opts.redis_dir:
        raise SlurmConfigError("the Redis job needs a redis dir")
    notes = [f"Redis for shardyard runs; state in {opts.redis_dir}."]
    body = _REDIS_BODY.format(
        environment="\n".join(opts.environment()),
        redis_dir=shlex.quote(opts.redis_dir),
        poll=f"{poll:g}",
    )
    return "\n".join(
        [*_header("shardyard Redis job", notes), *opts.directives(kind="redis"), "", body]
    )


# -- files -------------------------------------------------------------------------------
def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only (URLs, passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_text(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_jobs(logging_dir: str | Path) -> dict[str, Any]:
    """``logging_dir/slurm/jobs.json``: every launch of the run (arrays, Redis job)."""
    path = Path(logging_dir) / SLURM_DIR / JOBS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"launches": []}
    return (
        data
        if isinstance(data, dict) and isinstance(data.get("launches"), list)
        else {"launches": []}
    )


def record_launch(logging_dir: str | Path, launch: dict[str, Any]) -> None:
    data = read_jobs(logging_dir)
    data["launches"].append(launch)
    write_text(Path(logging_dir) / SLURM_DIR / JOBS_FILE, json.dumps(data, indent=2) + "\n")


# -- Slurm commands ----------------------------------------------------------------------
class Slurm:
    """``sbatch``, ``squeue``, ``scancel`` and ``scontrol``, with errors as SlurmError."""

    def _run(self, args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                list(args), capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError:
            raise SlurmError(f"{args[0]} not found: run this on a Slurm login node") from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{' '.join(args[:2])} did not answer in {timeout:g} s") from None

    def sbatch(self, args: Sequence[str]) -> str:
        """Submit; returns the job id."""
        out = self._run(["sbatch", "--parsable", *args])
        if out.returncode != 0:
            raise SlurmError(f"sbatch {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout.strip().split(";")[0]

    def states(self, job_id: str) -> list[str] | None:
        """States of the job's pending/running elements ([] when none); None when
        squeue could not tell (slurmctld unreachable)."""
        out = self._run(["squeue", "-h", "-j", job_id, "-o", "%T"])
        if out.returncode != 0:
            return [] if "Invalid job id" in out.stderr else None
        return [line.strip() for line in out.stdout.splitlines() if line.strip()]

    def alive(self, job_id: str) -> bool:
        states = self.states(job_id)
        return states is None or any(s in _ALIVE_STATES for s in states)

    def scancel(self, job_id: str) -> None:
        self._run(["scancel", job_id])

    def max_array_size(self) -> int:
        """The cluster's MaxArraySize (``scontrol show config``), else Slurm's default."""
        try:
            out = self._run(["scontrol", "show", "config"], timeout=30)
        except SlurmError:
            return DEFAULT_MAX_ARRAY_SIZE
        m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out.stdout, re.MULTILINE)
        return int(m.group(1)) if m else DEFAULT_MAX_ARRAY_SIZE


# -- Redis as a Slurm job ------------------------------------------------------------------
def serve_redis(
    redis_dir: str | Path,
    *,
    host: str | None = None,
    port: int = 0,
    timeout: float = 60.0,
    ready: Callable[[str], None] | None = None,
) -> int:
    """Run ``redis-server`` on all interfaces with the password of ``redis_dir/password``,
    AOF in ``redis_dir``; once it answers, publish ``redis_dir/url`` (mode 600). SIGTERM,
    SIGINT or SIGUSR1 shut it down cleanly (AOF fsynced). Returns Redis's exit status."""
    import redis

    from dispatcher.executors.embedded import redis_server_binary

    folder = Path(redis_dir).resolve()
    password = (folder / "password").read_text(encoding="utf-8").strip()
    if not password:
        raise SlurmError(f"{folder / 'password'} is empty")
    if not port:
        with socket.socket() as sock:
            sock.bind(("0.0.0.0", 0))
            port = int(sock.getsockname()[1])
    conf = "\n".join(
        [
            "bind 0.0.0.0",
            f"port {port}",
            f"requirepass {password}",
            f"dir {folder}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            "daemonize no",
            f"logfile {folder / 'redis.log'}",
            "",
        ]
    )
    write_private(folder / "redis.conf", conf)
    proc = subprocess.Popen([redis_server_binary(), str(folder / "redis.conf")])

    def stop(sig: int, frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(sig, stop)
    url = f"redis://:{password}@{host or socket.gethostname()}:{port}/0"
    local = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2)
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        try:
            if local.ping():
                break
        except redis.RedisError:
            if time.monotonic() > deadline:
                proc.terminate()
                break
            time.sleep(0.1)
    url_file = folder / "url"
    if proc.poll() is None:
        write_private(url_file, url)
        if ready is not None:
            ready(url)
    code = proc.wait()
    with contextlib.suppress(OSError):
        if url_file.read_text(encoding="utf-8") == url:
            url_file.unlink()
    return code


def _ping(url: str, insecure: bool) -> bool:
    import redis

    check_redis_url(url, insecure=insecure)
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def ensure_redis(
    opts: SlurmOptions,
    slurm: Slurm,
    *,
    timeout: float = 600.0,
    insecure: bool = False,
    log: Callable[[str], None] = print,
) -> tuple[str, str, bool]:
    """A running Redis job for ``opts.redis_dir``: reuse the live one, else submit one and
    wait until it answers. Returns ``(url, job_id, started_now)``."""
    assert opts.redis_dir
    folder = Path(opts.redis_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "password").exists():
        write_private(folder / "password", secrets.token_hex(24) + "\n")
    url_file, job_file = folder / "url", folder / "job"
    if job_file.exists() and url_file.exists():
        job = job_file.read_text(encoding="utf-8").strip()
        url = url_file.read_text(encoding="utf-8").strip()
        if job and "RUNNING" in (slurm.states(job) or []) and _ping(url, insecure):
            log(f"reusing Redis job {job} ({folder})")
            return url, job, False
    with contextlib.suppress(FileNotFoundError):
        url_file.unlink()  # a stale URL of a Redis job that is gone
    # a new job starts with no clients (old ones are gone: its watchdog would stop it)
    write_text(folder / "clients", "")
    script = opts.slurm_dir / REDIS_SCRIPT
    write_text(script, render_redis_script(opts), 0o755)
    job = slurm.sbatch([str(script)])
    write_text(job_file, job + "\n")
    log(f"Redis job {job} submitted; waiting for it to answer ({folder / 'url'})")
    deadline = time.monotonic() + timeout
    while True:
        if url_file.exists():
            url = url_file.read_text(encoding="utf-8").strip()
            if url and _ping(url, insecure):
                return url, job, True
        states = slurm.states(job)
        if states == []:
            tail = _tail(opts.slurm_dir / "logs" / f"redis_{job}.out")
            raise SlurmError(f"Redis job {job} ended before Redis answered: {tail}")
        if time.monotonic() > deadline:
            slurm.scancel(job)
            raise SlurmError(
                f"Redis job {job} did not answer within {timeout:g} s (state: {states}); "
                "cancelled it"
            )
        time.sleep(1.0)


def _tail(path: Path, chars: int = 1500) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:].strip() or "(empty log)"
    except OSError:
        return f"(no log at {path})"


# -- the run's progress, seen from an idle array element ---------------------------------
def keep_working(store: StateStore, run_id: str) -> bool:
    """Should an element whose worker went idle start it again? Yes while the run is not
    complete and some shard of it (or of a run it waits for) is running: that shard's
    completion may enqueue more work. No when complete, cancelled, or nothing runs (a run
    left with failed shards is resumed by ``shardyard requeue`` or a new launch)."""
    status = store.status(run_id)
    if status.get("complete") or store.is_cancelled(run_id):
        return False
    if any(s["running"] for s in status["stages"]):
        return True
    record = store.get_run(run_id)
    for dep in (record.options.get("depends") or []) if record else []:
        dep_status = store.status(dep)
        if not dep_status.get("complete") and any(s["running"] for s in dep_status["stages"]):
            return True
    return False


# -- launching -------------------------------------------------------------------------------
@dataclass
class LaunchResult:
    """What ``shardyard slurm`` did (or, with ``dry_run``, would do)."""

    run_id: str
    script: Path
    sbatch_commands: list[list[str]] = field(default_factory=list)
    array_jobs: list[str] = field(default_factory=list)
    redis_job: str | None = None
    redis_started: bool = False
    url_file: str = ""
    submitted: SubmitResult | None = None


def dependency_jobs(store: StateStore, depends: Sequence[str], slurm: Slurm) -> list[str]:
    """Worker arrays of the runs in ``depends`` that are still pending or running (read
    from their logging dirs' ``slurm/jobs.json``): our arrays start after them."""
    jobs: list[str] = []
    for dep in depends:
        record = store.get_run(dep)
        logging_dir = record.options.get("logging_dir") if record else None
        if not logging_dir or "://" in str(logging_dir):
            continue
        for launch in read_jobs(logging_dir)["launches"]:
            jobs += [str(j) for j in launch.get("arrays", []) if slurm.alive(str(j))]
    return list(dict.fromkeys(jobs))


def launch(
    spec: PipelineSpec,
    opts: SlurmOptions,
    *,
    run_id: str | None = None,
    redis_url: str | None = None,
    start_redis: bool = False,
    depends: Sequence[str] = (),
    force: bool = False,
    insecure: bool = False,
    dry_run: bool = False,
    redis_timeout: float = 600.0,
    slurm: Slurm | None = None,
    store: StateStore | None = None,
    send: Send | None = None,
    log: Callable[[str], None] = print,
) -> LaunchResult:
    """Enqueue ``spec`` and submit the worker arrays (see the module docstring).

    ``slurm``, ``store`` and ``send`` replace the Slurm commands, the state store of the
    Redis URL and the Celery sender (unit tests)."""
    rid = check_run_id(run_id or spec.name)
    opts = opts.resolved()
    if start_redis and not opts.redis_dir:
        opts = replace(opts, redis_dir=str(opts.slurm_dir / "redis"))
    opts.validate()
    if bool(redis_url) == bool(start_redis):
        raise SlurmConfigError("give --redis URL (or SHARDYARD_REDIS_URL) or --start-redis")
    if redis_url:
        check_redis_url(redis_url, insecure=insecure)
    if opts.image and "://" not in opts.image and not dry_run and not Path(opts.image).is_file():
        raise SlurmConfigError(f"--image {opts.image}: no such file (build it: see apptainer/)")
    slurm = slurm or Slurm()
    max_size = opts.max_array_size or (
        DEFAULT_MAX_ARRAY_SIZE if dry_run else slurm.max_array_size()
    )
    chunks = array_chunks(opts.workers, max_size)
    url_file = (
        str(Path(opts.redis_dir) / "url")
        if start_redis and opts.redis_dir
        else str(opts.slurm_dir / URL_FILE)
    )
    (opts.slurm_dir / "logs").mkdir(parents=True, exist_ok=True)
    script = opts.script_path
    write_text(
        script, render_worker_script(opts, run_id=rid, url_file=url_file, chunks=chunks), 0o755
    )
    result = LaunchResult(run_id=rid, script=script, url_file=url_file)
    result.sbatch_commands = [[f"--array=0-{k - 1}", str(script)] for k in chunks]
    if dry_run:
        if start_redis:
            write_text(opts.slurm_dir / REDIS_SCRIPT, render_redis_script(opts), 0o755)
        return result

    if start_redis:
        url, job, started = ensure_redis(
            opts, slurm, timeout=redis_timeout, insecure=insecure, log=log
        )
        result.redis_job, result.redis_started = job, started
    else:
        assert redis_url
        url = redis_url
        write_private(Path(url_file), url)
    try:
        store = store or StateStore.from_url(url, insecure=insecure)
        if send is None:
            from dispatcher.executors.celery import make_sender

            send = make_sender(url, queue=opts.queue, insecure=insecure)
        result.submitted = submit_run(
            store,
            spec,
            run_id=rid,
            queue=opts.queue,
            force=force,
            send=send,
            options={"logging_dir": opts.logging_dir},
            depends=depends,
        )
        if result.submitted.complete:
            log(f"{rid}: already complete; no workers submitted")
            if result.redis_started and result.redis_job:
                slurm.scancel(result.redis_job)
            return result
        after = dependency_jobs(store, result.submitted.waiting_for, slurm)
    except BaseException:
        if result.redis_started and result.redis_job:
            slurm.scancel(result.redis_job)  # started for this launch only: do not leave it
        raise
    extra = [f"--dependency=afterany:{':'.join(after)}"] if after else []
    try:
        for command in result.sbatch_commands:
            result.array_jobs.append(slurm.sbatch([*extra, *command]))
            if start_redis and opts.redis_dir:
                # register at once: the Redis job stops when none of its clients is alive
                with open(Path(opts.redis_dir) / "clients", "a", encoding="utf-8") as fh:
                    fh.write(result.array_jobs[-1] + "\n")
    except BaseException:
        if result.redis_started and result.redis_job and not result.array_jobs:
            slurm.scancel(result.redis_job)  # no client will ever stop it
        raise
    record_launch(
        opts.logging_dir,
        {
            "time": time.time(),
            "run_id": rid,
            "arrays": result.array_jobs,
            "array_sizes": chunks,
            "redis_job": result.redis_job,
            "url_file": url_file,
            "script": str(script),
            "dependency": after,
        },
    )
    return result
