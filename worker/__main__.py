"""``python -m worker``: start a shardyard Celery worker.

Example::

    python -m worker --redis redis://:PASS@127.0.0.1:6379/0 --queue shardyard \\
        --concurrency 4 --plugins my_blocks --exit-when-idle 60

``--concurrency 1`` runs shards in the worker process (solo pool); more uses Celery's
prefork pool. ``--exit-when-idle S`` stops the worker once no shard has been running or
reserved and the queues have been empty for S seconds (Slurm array elements, local
executors). SIGTERM/SIGUSR1 (Slurm preemption) give running shards back to the queue
without using an attempt, then shut down. Settings come from ``SHARDYARD_*`` variables
(see :mod:`dispatcher.settings`); flags override them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from blocks.errors import ShardyardError

PRIORITY_SEP = "\x06\x16"


def parse_args(argv: Sequence[str] | None, settings: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m worker",
        description="Run a shardyard worker (Celery) pulling shard tasks from Redis.",
        epilog="example: python -m worker --redis redis://:PASS@127.0.0.1:6379/0 "
        "--concurrency 2 --exit-when-idle 30",
    )
    parser.add_argument(
        "--redis",
        default=settings.redis_url,
        help="broker and state Redis URL (SHARDYARD_REDIS_URL)",
    )
    parser.add_argument(
        "--queue", default=settings.queue, help="comma-separated queues (default: shardyard)"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="shards run at once")
    parser.add_argument(
        "--exit-when-idle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after SECONDS with nothing running and empty queues",
    )
    parser.add_argument(
        "--plugins",
        default=",".join(settings.plugins),
        help="comma-separated modules registering blocks (SHARDYARD_PLUGINS)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        default=settings.insecure,
        help="allow a passwordless Redis that is not on this machine",
    )
    parser.add_argument("--lease-seconds", type=float, default=settings.lease_seconds)
    parser.add_argument("--visibility-timeout", type=float, default=settings.visibility_timeout)
    parser.add_argument(
        "--retry-backoff", type=float, default=5.0, help="base delay before a failed shard's retry"
    )
    parser.add_argument(
        "--hostname", default=None, help="Celery node name (default: sy-<pid>@host)"
    )
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--events", action="store_true", help="send task events (Flower)")
    args = parser.parse_args(argv)
    if not args.redis:
        parser.error("--redis is required (or set SHARDYARD_REDIS_URL)")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


def queue_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps a queue in (the base list and its priority lists)."""
    return [queue] + [f"{queue}{PRIORITY_SEP}{p}" for p in (3, 6, 9)]


def watch_idle(url: str, queues: list[str], seconds: float, *, poll: float = 0.5) -> None:
    """Thread body: SIGTERM this process after ``seconds`` of no running or reserved task
    and empty queues."""
    import redis
    from celery.worker import state

    client = redis.Redis.from_url(url)
    keys = [k for q in queues for k in queue_keys(q)]
    idle_since: float | None = None
    while True:
        time.sleep(poll)
        busy = bool(state.active_requests) or bool(state.reserved_requests)
        try:
            queued = sum(int(client.llen(k)) for k in keys)
        except redis.RedisError:
            queued = 1  # Redis unreachable: not idle, it may come back
        if busy or queued:
            idle_since = None
            continue
        now = time.monotonic()
        idle_since = idle_since or now
        if now - idle_since >= seconds:
            IDLE_EXIT.set()
            os.kill(os.getpid(), signal.SIGTERM)
            return


IDLE_EXIT = threading.Event()


def pool_child_pids(consumer: Any) -> list[int]:
    """Process ids of a prefork pool's children (none for the solo pool)."""
    pool = getattr(getattr(consumer, "pool", None), "_pool", None)
    procs = getattr(pool, "_pool", None) or []
    return [int(p.pid) for p in procs if getattr(p, "pid", None) and p.pid != os.getpid()]


def reap_expired_leases(app: Any, url: str, insecure: bool, every: float) -> None:
    """Background thread: re-send the shards of workers that died holding a lease, instead
    of leaving them to the broker's visibility timeout (see dispatcher.reaper)."""
    from dispatcher.reaper import LeaseReaper
    from dispatcher.state import StateStore
    from worker.app import make_sender
    from worker.logging import get_logger

    log = get_logger(component="reaper")
    reaper = LeaseReaper(StateStore.from_url(url, insecure=insecure), make_sender(app))
    while True:
        time.sleep(every)
        try:
            for (run_id, stage), ranks in reaper.sweep().items():
                log.warning("expired_leases_resent", run=run_id, stage=stage, ranks=ranks)
            for run_id, stage in reaper.restart_stalled():
                log.warning("stalled_stage_enqueued", run=run_id, stage=stage)
        except Exception as err:
            log.warning("reaper_sweep_failed", error=str(err))


def main(argv: Sequence[str] | None = None) -> int:
    from celery import signals

    from blocks import registry
    from dispatcher.settings import Settings, split_modules
    from worker.app import make_app
    from worker.logging import configure_logging, get_logger
    from worker.tasks import CHILD_PROCESS, STOP, install_stop_handlers

    try:
        settings = Settings.from_env()
        args = parse_args(argv, settings)
        fmt = settings.log_format
        configure_logging(level=args.loglevel, json_logs=None if fmt is None else fmt == "json")
        registry.load_plugins(split_modules(args.plugins))
        registry.blocks()  # import the built-in blocks before forking
        queues = [q.strip() for q in args.queue.split(",") if q.strip()]
        app = make_app(
            args.redis,
            queue=queues[0],
            insecure=args.insecure,
            visibility_timeout=args.visibility_timeout,
            lease_seconds=args.lease_seconds,
            retry_backoff=args.retry_backoff,
            task_events=args.events,
        )
    except ShardyardError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    log = get_logger(component="worker")

    def on_ready(sender: Any = None, **_: Any) -> None:
        # Celery has installed its own handlers by now; ours set STOP first, pass the
        # signal on to prefork children (docker stop signals only PID 1), then chain.
        def forward(sig: int) -> None:
            for pid in pool_child_pids(sender):
                os.kill(pid, sig)

        install_stop_handlers(chain=True, forward=forward)
        threading.Thread(
            target=reap_expired_leases,
            args=(app, args.redis, args.insecure, max(1.0, args.lease_seconds / 2)),
            name="lease-reaper",
            daemon=True,
        ).start()
        if args.exit_when_idle is not None:
            threading.Thread(
                target=watch_idle,
                args=(args.redis, queues, args.exit_when_idle),
                name="idle-watch",
                daemon=True,
            ).start()
        log.info("worker_ready", queues=queues, concurrency=args.concurrency, pid=os.getpid())

    def on_child(**_: Any) -> None:
        # prefork children: a SIGTERM/SIGUSR1 gives the shard back instead of killing it
        STOP.clear()
        CHILD_PROCESS.set()  # handlers go in at the first task: billiard resets them after this

    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_process_init.connect(on_child, weak=False)
    hostname = args.hostname or f"sy-{os.getpid()}@%h"
    # Start the WorkController directly rather than through Celery's click CLI: the CLI
    # imports every installed celery command plugin (flower, ~2 s) at each worker start.
    worker = app.Worker(
        queues=queues,
        concurrency=args.concurrency,
        pool_cls="solo" if args.concurrency == 1 else "prefork",
        hostname=hostname,
        loglevel=args.loglevel,
        without_gossip=True,
        without_mingle=True,
    )
    worker.start()
    idle = IDLE_EXIT.is_set()  # the idle watcher stops us with SIGTERM too: not a preemption
    log.info("worker_stopped", idle_exit=idle, preempted=STOP.is_set() and not idle)
    return int(worker.exitcode or 0)


if __name__ == "__main__":
    sys.exit(main())
