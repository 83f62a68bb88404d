"""Run a pipeline on this machine: DataTrove's ``LocalPipelineExecutor``, on the run state.

The pipeline becomes a spec and a run in an embedded Redis kept in
``logging_dir/.shardyard`` (see :mod:`dispatcher.executors.embedded`), and each rank runs
through the same runner as on a cluster (:func:`worker.runner.run_shard`: claim, lease,
blocks, commit, complete). So ``skip_completed`` means "ranks done in this logging dir",
stats merge into ``logging_dir/stats.json``, and nothing is written per task.

Python objects that a spec cannot carry: functions (lambdas included) that are not
registered are registered here under a stable name derived from where they sit
(``__local__.pipeline[1].LambdaFilter.filter_function``), and ranks run in processes
**forked** from this one, which inherit that registry and any block class defined in the
calling script. Nothing is pickled. Other live objects (an fsspec filesystem object in a
``(path, fs)`` folder) cannot be named and are refused with a SpecError: give
``(path, storage_options)`` instead. ``workers=1`` runs the ranks in this process, one
after the other (easy to debug).
"""

from __future__ import annotations

import heapq
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blocks import registry
from blocks.errors import SpecError
from blocks.metrics import PipelineStats
from blocks.spec import PipelineSpec
from dispatcher.errors import ShardFailedError
from dispatcher.executors.base import callables_in, finish, pipeline_spec
from dispatcher.executors.embedded import EmbeddedRedis
from dispatcher.progress import RunWatcher
from dispatcher.state import StateStore
from dispatcher.submit import requeue, submit_run
from dispatcher.task import ShardTask

STATE_DIR = ".shardyard"
_EXIT = {"completed": 0, "skipped": 0, "failed": 1, "cancelled": 1, "stale": 1}
_RETRY = 75  # the shard should run again (retryable failure, lease lost, busy, preempted)


def register_local_functions(pipeline: Sequence[Any]) -> list[str]:
    """Register every unregistered callable of the pipeline under a stable local name."""
    names = []
    for path, fn in callables_in(pipeline):
        if registry.function_name(fn) is None:
            # the qualname in the name lets a re-run in this process replace the function
            name = f"__local__.{path}:{getattr(fn, '__qualname__', type(fn).__name__)}"
            try:
                registry.register_function(name)(fn)
            except AttributeError:  # builtins take no attributes
                raise SpecError(
                    f"cannot name {fn!r} for the workers: wrap it in a def", path=path
                ) from None
            names.append(name)
    return names


class LocalPipelineExecutor:
    """Run ``tasks`` ranks of a pipeline with ``workers`` processes on this machine.

    Same arguments as DataTrove's (``workers=-1``: as many as tasks); ``run()`` returns the
    merged :class:`PipelineStats` of every rank (done now or before) and raises
    :class:`dispatcher.executors.base.RunFailedError` when ranks failed for good.
    ``max_attempts`` defaults to 1 as in DataTrove (a failing rank fails the run); running
    again in the same logging dir runs the ranks not done, failed ones included.
    """

    def __init__(
        self,
        pipeline: Sequence[Any],
        tasks: int = 1,
        workers: int = -1,
        logging_dir: str | None = None,
        skip_completed: bool = True,
        randomize_start_duration: float = 0.0,
        *,
        name: str = "local",
        sharding: str = "round_robin",
        target_shard_bytes: int = 256 * 1024 * 1024,
        max_attempts: int = 1,
        lease_seconds: float = 60.0,
        progress: bool | None = None,
    ) -> None:
        self.pipeline = list(pipeline)
        self.tasks = tasks
        self.workers = tasks if workers == -1 else max(1, workers)
        self.logging_dir = logging_dir
        self.skip_completed = skip_completed
        self.lease_seconds = lease_seconds
        self.progress = sys.stderr.isatty() if progress is None else progress
        register_local_functions(self.pipeline)
        self.spec: PipelineSpec = pipeline_spec(
            self.pipeline,
            name=name,
            tasks=tasks,
            logging_dir=logging_dir,
            sharding=sharding,
            target_shard_bytes=target_shard_bytes,
            max_attempts=max_attempts,
            randomize_start_duration=randomize_start_duration,
        )
        self.run_id = f"{name}-{self.spec.spec_hash()[:12]}"
        self.randomize_start_duration = randomize_start_duration

    @property
    def world_size(self) -> int:
        return self.tasks

    def state_dir(self) -> str | None:
        if self.logging_dir is None or "://" in self.logging_dir:
            return None  # a temporary state (remote logging dirs keep stats.json only)
        return str(Path(self.logging_dir) / STATE_DIR)

    # -- one rank -------------------------------------------------------------------
    def _run_rank(self, store: StateStore, message: str) -> int:
        """Run one rank through the runner; returns a process exit code."""
        from worker.runner import run_shard

        task = ShardTask.decode(message)
        if self.randomize_start_duration > 0:
            time.sleep(random.uniform(0, self.randomize_start_duration))
        try:
            outcome = run_shard(
                task, store, worker_id=f"local:{os.getpid()}", lease_seconds=self.lease_seconds
            )
        except ShardFailedError as err:
            return _RETRY if err.retryable else 1
        return _EXIT.get(outcome.status, _RETRY)

    def _fork_rank(self, url: str, message: str) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:  # the child: its own connection, the parent's registry and classes
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = self._run_rank(StateStore.from_url(url), message)
        except BaseException as err:  # report, never fall back into the parent's code
            print(f"rank failed outside the runner: {err!r}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    # -- the run --------------------------------------------------------------------
    def run(self) -> PipelineStats:
        import worker.runner  # noqa: F401  (imported once here, not in every forked rank)

        state_dir = self.state_dir()
        if state_dir is None:
            with tempfile.TemporaryDirectory(prefix="shardyard-local-") as tmp:
                return self._run(Path(tmp) / STATE_DIR)
        return self._run(Path(state_dir))

    def _run(self, state_dir: Path) -> PipelineStats:
        with EmbeddedRedis(state_dir) as server:
            store = StateStore.from_url(server.url)
            if not self.skip_completed:
                store.delete_run(self.run_id)
            messages: list[str] = []

            def send(_queue: str, message: str) -> None:
                messages.append(message)

            submit_run(
                store,
                self.spec,
                run_id=self.run_id,
                send=send,
                options={"logging_dir": self.logging_dir} if self.logging_dir else {},
            )
            requeue(store, self.run_id, send, failed=True)  # a new run retries failed ranks
            watcher = RunWatcher(store, self.run_id, enabled=self.progress)
            try:
                self._schedule(server.url, store, _Queue(messages), watcher)
            finally:
                watcher.close()
            return finish(store, self.run_id, self.logging_dir)

    def _schedule(self, url: str, store: StateStore, queue: _Queue, watcher: RunWatcher) -> None:
        """Run every queued rank, ``workers`` at a time; a rank that must run again (busy,
        retryable failure, lost lease, killed process) comes back after a backoff."""
        running: dict[int, str] = {}
        last_poll = 0.0
        try:
            while queue or running:
                while queue.ready() and (self.workers == 1 or len(running) < self.workers):
                    message = queue.pop()
                    if self.workers == 1:
                        if self._run_rank(store, message) == _RETRY:
                            queue.retry(message)
                    else:
                        running[self._fork_rank(url, message)] = message
                pid, status = os.waitpid(-1, os.WNOHANG) if running else (0, 0)
                if pid:
                    message = running.pop(pid)
                    code = os.waitstatus_to_exitcode(status)
                    if code == _RETRY or code < 0:  # retry, or killed by a signal
                        queue.retry(message)
                else:
                    time.sleep(0.02 if running else queue.wait_time())
                if time.monotonic() - last_poll > 0.5 or not (queue or running):
                    watcher.poll()
                    last_poll = time.monotonic()
        except BaseException:
            for pid in running:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for pid in list(running):
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            raise


class _Queue:
    """Messages to run, each ready at a time; retries wait 0.5, 1, 2, ... up to 10 s."""

    def __init__(self, messages: Sequence[str]) -> None:
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._retries: dict[str, int] = {}
        for message in messages:
            self._push(message, 0.0)

    def _push(self, message: str, at: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, message))

    def __bool__(self) -> bool:
        return bool(self._heap)

    def ready(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= time.monotonic()

    def wait_time(self) -> float:
        if not self._heap:
            return 0.0
        return min(max(self._heap[0][0] - time.monotonic(), 0.0), 0.5)

    def pop(self) -> str:
        return heapq.heappop(self._heap)[2]

    def retry(self, message: str) -> None:
        n = self._retries[message] = self._retries.get(message, 0) + 1
        self._push(message, time.monotonic() + min(0.5 * 2 ** (n - 1), 10.0))
