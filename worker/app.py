"""The Celery app of shardyard workers and dispatchers: a fresh one per broker URL.

Celery is only the transport; the state store gives idempotence. The settings follow
from that:

- JSON only (``task_serializer``, ``result_serializer``, ``accept_content``): messages are
  :class:`dispatcher.task.ShardTask` JSON, nothing is ever pickled;
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after
  the shard ran, and a worker process that dies mid-shard gives its message back;
- ``worker_prefetch_multiplier=1``: a worker holds one message per process, so shards are
  not hoarded by a busy worker while others are idle;
- no result backend (``task_ignore_result``): results live in the state store;
- ``visibility_timeout``: with the Redis broker a message taken by a worker that vanished
  (SIGKILL, lost node) comes back after this many seconds. Default 3600 s
  (``SHARDYARD_VISIBILITY_TIMEOUT``). Keep it above the longest shard: a shorter one only
  causes duplicate deliveries, which the claim protocol turns into "busy"/"done" no-ops;
- worker heartbeats (Celery's worker events, used by ``celery inspect`` and Flower) stay on;
  the Redis connections send health checks every 25 s so dead sockets are noticed.

No module-level app: :func:`make_app` builds one bound to the URL it is given, so two
apps for two brokers can live in one process (tests, the embedded executor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dispatcher.task import DEFAULT_QUEUE
from worker.sender import TASK_NAME as TASK_NAME

DEFAULT_VISIBILITY_TIMEOUT = 3600.0
DEFAULT_LEASE_SECONDS = 60.0
DEFAULT_RETRY_BACKOFF = 5.0


def make_app(
    broker_url: str,
    *,
    state_url: str | None = None,
    queue: str = DEFAULT_QUEUE,
    insecure: bool = False,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
    task_events: bool = False,
) -> Any:
    """A Celery app on ``broker_url`` with the ``shardyard.run_shard`` task registered.

    ``state_url`` is the Redis of the run state (default: the broker). ``lease_seconds``
    and ``retry_backoff`` (base of the exponential delay between failed attempts) are read
    by the task from ``app.conf``. ``task_events`` turns on task events for Flower.
    """
    from celery import Celery

    from dispatcher.state import check_redis_url

    check_redis_url(broker_url, insecure=insecure)
    app = Celery("shardyard", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=queue,
        task_create_missing_queues=True,
        broker_transport_options={
            "visibility_timeout": visibility_timeout,
            # sweep for messages of vanished workers about ten times per timeout
            "unacked_restore_interval": min(max(visibility_timeout / 10, 1.0), 60.0),
            "unacked_restore_throttle": 1,
            "health_check_interval": 25,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
        worker_send_task_events=task_events,
        task_send_sent_event=task_events,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        shardyard_state_url=state_url or broker_url,
        shardyard_insecure=insecure,
        shardyard_lease_seconds=lease_seconds,
        shardyard_retry_backoff=retry_backoff,
    )
    from worker.tasks import register_tasks

    register_tasks(app)
    return app


def make_sender(app: Any) -> Callable[[str, str], Any]:
    """``send(queue, message_json)`` publishing through ``app``; it also has ``send_many``
    (batched, see worker.sender) for enqueueing a whole stage."""
    from worker.sender import CelerySender

    return CelerySender(app)
