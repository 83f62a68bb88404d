"""The Celery task ``shardyard.run_shard``: a shim between a message and the runner.

decode -> :func:`worker.runner.run_shard` -> map the outcome to Celery:

- undecodable message: recorded in the store's rejected list, rejected (not requeued);
- ``busy`` (another live lease): retry when that lease runs out;
- ``preempted`` (SIGTERM/SIGUSR1): retry at once, to be picked up by another worker;
- a retryable failure: retry after an exponential backoff; the attempt limit is the
  state store's (``claim`` answers ``failed`` once attempts are spent), so Celery's own
  retry count is unlimited;
- any other exception (Redis unreachable beyond the client's retries...): retry with
  backoff, at most ``MAX_INFRA_RETRIES`` times;
- anything else (completed, skipped, failed, cancelled, stale): acknowledged, done.

``STOP`` is this process's stop flag, set by the signal handlers :func:`install_stop_handlers`
puts in place; the runner checks it between documents.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from dispatcher.errors import ShardFailedError, TaskDecodeError
from dispatcher.state import StateStore
from dispatcher.task import ShardTask
from worker.logging import get_logger
from worker.runner import run_shard

STOP = threading.Event()
CHILD_PROCESS = threading.Event()  # set in prefork children by ``python -m worker``
MAX_BACKOFF = 600.0
MAX_INFRA_RETRIES = 20
_stores: dict[tuple[str, bool, int], StateStore] = {}


def store_for(url: str, *, insecure: bool = False) -> StateStore:
    """One StateStore per URL and process (connections must not cross a fork)."""
    key = (url, insecure, os.getpid())
    store = _stores.get(key)
    if store is None:
        store = _stores[key] = StateStore.from_url(url, insecure=insecure)
    return store


def backoff(attempt: int, base: float) -> float:
    """Delay before attempt ``attempt + 1``: base * 2**(attempt-1), jittered, capped."""
    delay = min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF)
    return delay * random.uniform(0.8, 1.2)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def install_stop_handlers(
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGUSR1),
    *,
    chain: bool = True,
    forward: Callable[[int], None] | None = None,
) -> None:
    """Make ``signals`` set :data:`STOP` (preemption: give the running shard back), call
    ``forward(sig)`` (the main process passes it on to its pool children), then run the
    handler that was there before (Celery's warm shutdown) when ``chain``."""
    for signum in signals:
        previous = signal.getsignal(signum)

        def handler(
            sig: int, frame: FrameType | None, previous: Any = previous
        ) -> None:  # runs in the main thread
            STOP.set()
            if forward is not None:
                try:
                    forward(sig)
                except Exception:
                    pass  # never let a dying child break the shutdown
            if chain and callable(previous):
                previous(sig, frame)

        handler._shardyard_stop = True  # type: ignore[attr-defined]
        signal.signal(signum, handler)


def ensure_child_stop_handlers() -> None:
    """In a prefork child, (re)install the stop handlers: billiard replaces the child's
    SIGTERM handler after ``worker_process_init`` with one that exits at once, which
    would kill the shard instead of giving it back. Called at the start of each task."""
    if not CHILD_PROCESS.is_set():
        return
    if getattr(signal.getsignal(signal.SIGTERM), "_shardyard_stop", False):
        return
    try:
        install_stop_handlers(chain=False)
    except ValueError:  # not the main thread (a threads pool): keep the pool's handlers
        pass


def register_tasks(app: Any) -> Callable[..., Any]:
    """Register ``shardyard.run_shard`` on ``app`` and return the task."""
    from worker.app import TASK_NAME

    @app.task(
        name=TASK_NAME,
        shared=False,  # registered on this app only: no process-wide task registry
        bind=True,
        max_retries=None,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
    )
    def run_shard_task(self: Any, message: Any) -> str:
        return handle_message(self, message)

    return run_shard_task


def handle_message(task_self: Any, message: Any) -> str:
    """The body of the Celery task; ``task_self`` is the bound task (for ``retry``)."""
    from celery.exceptions import Reject

    from worker.app import make_sender

    ensure_child_stop_handlers()
    conf = task_self.app.conf
    store = store_for(conf.shardyard_state_url, insecure=bool(conf.shardyard_insecure))
    me = worker_id()
    log = get_logger(worker=me)
    try:
        task = ShardTask.decode(message)
    except TaskDecodeError as err:
        raw = message if isinstance(message, str) else repr(message)
        store.record_rejected(raw, str(err), me)
        log.error("message_rejected", error=str(err))
        raise Reject(str(err), requeue=False) from err
    try:
        outcome = run_shard(
            task,
            store,
            worker_id=me,
            lease_seconds=float(conf.shardyard_lease_seconds),
            send=make_sender(task_self.app),
            stop_event=STOP,
        )
    except ShardFailedError as err:
        if err.retryable:
            delay = backoff(err.attempt, float(conf.shardyard_retry_backoff))
            log.warning("shard_retry", task=task.label, attempt=err.attempt, countdown=delay)
            raise task_self.retry(countdown=delay, exc=err) from err
        log.error("shard_failed", task=task.label, attempt=err.attempt, error=str(err))
        return "failed"
    except Exception as err:
        # Not the shard's fault (Redis unreachable past the client's retries, a broker
        # hiccup while enqueueing the next stage): without a retry the acked message would
        # be gone and the rank stranded until a requeue.
        retries = int(getattr(task_self.request, "retries", 0) or 0)
        if retries >= MAX_INFRA_RETRIES:
            log.error("shard_gave_up", task=task.label, error=f"{type(err).__name__}: {err}")
            raise
        delay = backoff(retries + 1, float(conf.shardyard_retry_backoff))
        log.warning("shard_retry_infra", task=task.label, error=str(err), countdown=delay)
        raise task_self.retry(countdown=delay, exc=err) from err
    if outcome.status == "busy":
        delay = outcome.retry_in + random.uniform(0.1, 1.0)
        raise task_self.retry(countdown=delay)
    if outcome.status == "preempted":
        raise task_self.retry(countdown=0)
    log.info("shard_" + outcome.status, task=task.label, attempt=outcome.attempt)
    return outcome.status
