"""``shardyard run``: a spec on this machine, with local worker processes.

:func:`run_spec` starts an embedded Redis (or uses ``redis_url``), submits the spec,
starts ``workers`` processes of ``python -m worker`` (the same worker as in containers
and Slurm jobs), follows the run with a progress bar, stops the workers, merges stats
into ``logging_dir/stats.json`` and returns a :class:`RunResult`.

The embedded state lives in ``logging_dir/.shardyard`` (a local logging dir; a remote one
keeps its state under ``~/.cache/shardyard``), so running the same spec again finds what
is done and runs the rest; ranks that failed for good get their attempts back first.

Workers get the Redis URL through ``SHARDYARD_REDIS_URL`` (not argv, where other local
users could read the password), write their logs to ``logging_dir/workers.log``, and die
with this process (``PR_SET_PDEATHSIG``) if it is killed. They are stopped by this process
when the run is complete or stuck, not by ``--exit-when-idle``: a worker idle while the
last shard of a stage runs would otherwise leave before the next stage is enqueued.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from blocks.errors import ShardyardError
from blocks.spec import PipelineSpec
from dispatcher.errors import RunConflictError
from dispatcher.executors.base import failures_of, run_stats
from dispatcher.executors.celery import make_sender
from dispatcher.executors.embedded import EmbeddedRedis, _die_with_parent
from dispatcher.progress import current, watch_run
from dispatcher.state import StateStore, check_run_id
from dispatcher.submit import enqueue_stage, requeue, submit_run
from dispatcher.task import DEFAULT_QUEUE

STATE_DIR = ".shardyard"
#: seconds a planned-but-unenqueued next stage may wait for its worker before we enqueue it
NEXT_STAGE_GRACE = 10.0


def state_dir_for(logging_dir: str, run_id: str | None) -> Path:
    """Where the embedded Redis of a logging dir keeps its data."""
    if "://" not in logging_dir:
        return Path(logging_dir) / STATE_DIR
    digest = hashlib.sha256(logging_dir.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "shardyard" / "state" / digest


@dataclass
class RunResult:
    """The end of a ``shardyard run``."""

    run_id: str
    logging_dir: str
    status: dict[str, Any]
    failures: dict[str, str] = field(default_factory=dict)
    stats_path: str | None = None
    log_path: str | None = None

    @property
    def complete(self) -> bool:
        return bool(self.status.get("complete"))

    def summary(self) -> list[str]:
        lines = [f"{self.run_id}: {'complete' if self.complete else 'NOT complete'}"]
        for s in self.status.get("stages", []):
            lines.append(f"  {s['name']}: {s['done']}/{s['tasks']} done, {s['failed']} failed")
        for where, error in list(self.failures.items())[:10]:
            lines.append(f"  failed {where}: {error}")
        if self.stats_path:
            lines.append(f"stats: {self.stats_path}")
        if not self.complete:
            lines.append(
                f"inspect: shardyard failed {self.run_id} --logging-dir {self.logging_dir}"
                + (f"; worker log: {self.log_path}" if self.log_path else "")
            )
        return lines


class LocalWorkers:
    """``count`` processes of ``python -m worker`` on one Redis and queue."""

    def __init__(
        self,
        url: str,
        *,
        count: int,
        queue: str = DEFAULT_QUEUE,
        plugins: Sequence[str] = (),
        insecure: bool = False,
        log_path: Path | None = None,
        exit_when_idle: float | None = None,
    ) -> None:
        self.url = url
        self.count = max(1, count)
        self.queue = queue
        self.plugins = [p for p in plugins if p]
        self.insecure = insecure
        self.log_path = log_path
        self.exit_when_idle = exit_when_idle
        self.procs: list[subprocess.Popen[bytes]] = []
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "worker", "--queue", self.queue, "--concurrency", "1"]
        if self.plugins:
            cmd += ["--plugins", ",".join(self.plugins)]
        if self.exit_when_idle is not None:
            cmd += ["--exit-when-idle", str(self.exit_when_idle)]
        return cmd

    def start(self) -> LocalWorkers:
        env = dict(os.environ, SHARDYARD_REDIS_URL=self.url)
        if self.insecure:
            env["SHARDYARD_INSECURE"] = "1"
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        out: Any = self._log if self._log is not None else subprocess.DEVNULL
        for i in range(self.count):
            cmd = [*self.command(), "--hostname", f"sy-local-{os.getpid()}-{i}@%h"]
            self.procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
                )
            )
        return self

    def alive(self) -> int:
        return sum(1 for p in self.procs if p.poll() is None)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (warm shutdown: a running shard is given back), then SIGKILL."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalWorkers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_for(redis_url: str | None, logging_dir: str) -> Iterator[str]:
    """The given Redis, or an embedded one persisted beside the logging dir."""
    if redis_url:
        yield redis_url
        return
    with EmbeddedRedis(state_dir_for(logging_dir, None)) as server:
        yield server.url


class _NextStageNudge:
    """Enqueue a stage whose predecessor completed but whose shards never came (the worker
    that completed it died before enqueueing). Duplicates are harmless."""

    def __init__(self, store: StateStore, run_id: str, send: Any) -> None:
        self.store, self.run_id, self.send = store, run_id, send
        self._since: dict[str, float] = {}

    def __call__(self, status: dict[str, Any]) -> None:
        stage = current(status)
        if stage is None or self.store.stage_plan_header(self.run_id, stage["name"]) is not None:
            return
        names = [s["name"] for s in status["stages"]]
        if names.index(stage["name"]) == 0:
            return
        since = self._since.setdefault(stage["name"], time.monotonic())
        if time.monotonic() - since >= NEXT_STAGE_GRACE:
            enqueue_stage(self.store, self.run_id, stage["name"], self.send)


def run_spec(
    spec: PipelineSpec,
    *,
    run_id: str | None = None,
    workers: int | None = None,
    redis_url: str | None = None,
    logging_dir: str | None = None,
    queue: str = DEFAULT_QUEUE,
    force: bool = False,
    plugins: Sequence[str] = (),
    insecure: bool = False,
    progress: bool = True,
    poll: float = 0.5,
) -> RunResult:
    """Run ``spec`` to completion (or until stuck) on local workers; see the module doc."""
    rid = check_run_id(run_id or spec.name)
    logdir = logging_dir or spec.logging_dir or os.path.join("logs", rid)
    local_log = None if "://" in logdir else Path(logdir) / "workers.log"
    with redis_for(redis_url, logdir) as url:
        store = StateStore.from_url(url, insecure=insecure)
        record = store.get_run(rid)
        if record is not None and record.spec_hash != spec.spec_hash() and not force:
            raise RunConflictError(rid, record.spec_hash, spec.spec_hash())  # before any worker
        already_done = (
            record is not None
            and record.spec_hash == spec.spec_hash()
            and bool(store.status(rid).get("complete"))
        )
        workers_pool = LocalWorkers(
            url,
            count=workers or os.cpu_count() or 1,
            queue=queue,
            plugins=[*spec.plugins, *plugins],
            insecure=insecure,
            log_path=local_log,
        )
        with contextlib.ExitStack() as stack:
            if not already_done:  # start them first: they boot while we plan and enqueue
                stack.enter_context(workers_pool)
            send = make_sender(url, queue=queue, insecure=insecure)
            submitted = submit_run(
                store,
                spec,
                run_id=rid,
                queue=queue,
                force=force,
                send=send,
                options={"logging_dir": logdir},
            )
            if submitted.waiting_for:
                raise ShardyardError(
                    f"run {rid!r} waits for {', '.join(submitted.waiting_for)}: run those first"
                )
            if not submitted.complete:
                requeue(store, rid, send, failed=True)  # running again retries failed ranks
                watch_run(
                    store,
                    rid,
                    poll=poll,
                    progress=progress,
                    keep_going=lambda _status: workers_pool.alive() > 0,
                    on_poll=_NextStageNudge(store, rid, send),
                )
        run_stats(store, rid, logdir)
        status = store.status(rid)
        failures = failures_of(store, rid)
        if not status.get("complete") and not failures:
            failures = {"run": "workers stopped before the run completed"}
        stats_path = (
            os.path.join(logdir, "stats.json") if "://" not in logdir else f"{logdir}/stats.json"
        )
        return RunResult(
            run_id=rid,
            logging_dir=logdir,
            status=status,
            failures=failures,
            stats_path=stats_path,
            log_path=str(local_log) if local_log else None,
        )
