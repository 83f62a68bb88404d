"""Worker logging: structlog (JSON when not on a TTY), and per-shard lines kept in Redis.

Every shard logs through a :class:`ShardLog`, which binds run/stage/rank to the
structlog logger and keeps the rendered lines so the runner can append them to the state
store (``StateStore.append_log``). ``shardyard logs RUN RANK`` then reads them back
with no log file per task on any disk.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

_configured = False


def configure_logging(*, level: str = "INFO", json_logs: bool | None = None) -> None:
    """Set structlog up once per process: JSON lines in containers, console on a TTY."""
    global _configured
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper()) if isinstance(level, str) else level
        ),
        # resolve sys.stderr when a logger is made, not now: it may be replaced later
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _configured = True


def _stderr_logger(*_: Any) -> Any:
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(**bound: Any) -> Any:
    """A structlog logger with ``bound`` context (configures defaults on first use)."""
    if not _configured:
        configure_logging()
    return structlog.get_logger("shardyard.worker").bind(**bound)


class ShardLog:
    """Log lines of one shard: to structlog now, and buffered for the state store.

    ``flush`` hands the buffered lines to ``sink`` (``store.append_log`` bound to the
    shard); the runner calls it with each heartbeat and at the end, so a crash loses at
    most one heartbeat's worth of lines. Thread-safe: the heartbeat thread logs too.
    """

    def __init__(
        self,
        *,
        run_id: str,
        stage: str,
        rank: int,
        worker: str,
        sink: Callable[[list[str]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.logger = get_logger(run=run_id, stage=stage, rank=rank, worker=worker)
        self.sink = sink
        self.clock = clock
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def _keep(self, level: str, event: str, fields: dict[str, Any]) -> None:
        record = {"ts": round(self.clock(), 3), "level": level, "event": event, **fields}
        line = json.dumps(record, default=str, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._lines.append(line)

    def info(self, event: str, **fields: Any) -> None:
        self.logger.info(event, **fields)
        self._keep("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.logger.warning(event, **fields)
        self._keep("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self.logger.error(event, **fields)
        self._keep("error", event, fields)

    def flush(self) -> None:
        """Send buffered lines to the sink; a failing sink keeps them for the next flush."""
        with self._lock:
            lines, self._lines = self._lines, []
        if not lines or self.sink is None:
            return
        try:
            self.sink(lines)
        except Exception as err:
            with self._lock:
                self._lines[:0] = lines
            self.logger.warning("log_flush_failed", error=str(err))
