"""Follow a run in the state store: a live progress bar and the "is it over?" decision.

:func:`watch_run` polls ``StateStore.status`` until the run is complete or stuck, drawing
one rich progress bar per stage (shards done/failed/total, documents per second, ETA) on
stderr. The bar refreshes from the polling loop, never from a thread, so a process that
forks workers while watching stays fork-safe.

A run is *stuck* when the stage it is on has every rank done or failed for good and at
least one failed: nothing will move until ``shardyard requeue RUN --failed``. Documents
per second come from the stats of completed shards (the first block's ``documents``
count), read at most every ``docs_every`` seconds because it reads every shard's stats.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dispatcher.state import StateStore

#: above this many shards in a stage, documents are not counted (it reads every shard's stats)
MAX_COUNTED_SHARDS = 20000


def current(status: dict[str, Any]) -> dict[str, Any] | None:
    """The first stage of a status that is not done (None when all are)."""
    for stage in status.get("stages", []):
        if stage["done"] < stage["tasks"]:
            return dict(stage)
    return None


def is_stuck(status: dict[str, Any]) -> bool:
    """Nothing can move: the current stage's ranks are all done or failed, some failed."""
    stage = current(status)
    if stage is None or status.get("complete"):
        return False
    return (
        stage["failed"] > 0
        and stage["running"] == 0
        and stage["done"] + stage["failed"] >= stage["tasks"]
    )


def is_finished(status: dict[str, Any]) -> bool:
    return bool(status.get("complete")) or is_stuck(status)


def documents_of(stats_json: str) -> int:
    """Documents a shard read: the total of its first block's ``documents`` (readers)
    or ``total`` counter."""
    try:
        blocks = json.loads(stats_json).get("blocks") or []
    except (ValueError, AttributeError):
        return 0
    if not blocks:
        return 0
    stats = blocks[0].get("stats") or {}
    metric = stats.get("documents") or stats.get("total") or {}
    return int(metric.get("total", 0)) if isinstance(metric, dict) else 0


@dataclass
class _Rate:
    """Documents of shards completed while watching, and since when work was seen, for
    docs/s. Shards done before the watch began (a resumed run) are not counted."""

    started: float | None = None
    docs: int = 0
    baseline: bool = False
    seen: dict[str, set[int]] = field(default_factory=dict)


class RunWatcher:
    """Polls a run and renders its progress (``enabled=False``: poll only)."""

    def __init__(
        self,
        store: StateStore,
        run_id: str,
        *,
        enabled: bool = True,
        docs_every: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        stream: Any = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.enabled = enabled
        self.docs_every = docs_every
        self.clock = clock
        self.rate = _Rate()
        self._docs_checked = -1e9
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._stream = stream

    # -- numbers ------------------------------------------------------------------
    def _count_documents(self, status: dict[str, Any]) -> None:
        now = self.clock()
        if self.rate.started is None and any(
            s["running"] or (self.rate.baseline and s["done"]) for s in status["stages"]
        ):
            self.rate.started = now  # the clock starts with the first shard seen running
        if now - self._docs_checked < self.docs_every and self.rate.baseline:
            return
        self._docs_checked = now
        for stage in status["stages"]:
            seen = self.rate.seen.setdefault(stage["name"], set())
            if stage["done"] <= len(seen) or stage["tasks"] > MAX_COUNTED_SHARDS:
                continue
            for rank, raw in self.store.stats(self.run_id, stage["name"]).items():
                if rank not in seen:
                    seen.add(rank)
                    if self.rate.baseline:
                        self.rate.docs += documents_of(raw)
        self.rate.baseline = True

    def docs_per_second(self) -> float:
        if self.rate.started is None:
            return 0.0
        elapsed = self.clock() - self.rate.started
        return self.rate.docs / elapsed if elapsed > 0 else 0.0

    def poll(self) -> dict[str, Any]:
        """Read the status once, update the counters and the bar; returns the status."""
        status = self.store.status(self.run_id)
        if self.enabled:
            self._count_documents(status)
            self._render(status)
        return status

    # -- drawing ------------------------------------------------------------------
    def _ensure_progress(self) -> Any:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(file=self._stream or sys.stderr)
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}"),
                TextColumn("running {task.fields[running]}"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
                auto_refresh=False,
                transient=False,
            )
            self._progress.start()
        return self._progress

    def _render(self, status: dict[str, Any]) -> None:
        progress = self._ensure_progress()
        rate = f"{self.docs_per_second():,.0f} docs/s"
        for stage in status["stages"]:
            name = stage["name"]
            fields = {"failed": stage["failed"], "running": stage["running"], "rate": rate}
            if name not in self._tasks:
                self._tasks[name] = progress.add_task(
                    name, total=stage["tasks"], completed=stage["done"], **fields
                )
            else:
                progress.update(
                    self._tasks[name], total=stage["tasks"], completed=stage["done"], **fields
                )
        progress.refresh()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.refresh()
            self._progress.stop()
            self._progress = None


def watch_run(
    store: StateStore,
    run_id: str,
    *,
    poll: float = 0.5,
    progress: bool = True,
    timeout: float | None = None,
    keep_going: Callable[[dict[str, Any]], bool] | None = None,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll until the run is complete or stuck (or ``keep_going(status)`` says stop, or
    ``timeout`` seconds pass); returns the last status."""
    watcher = RunWatcher(store, run_id, enabled=progress)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            status = watcher.poll()
            if on_poll is not None:
                on_poll(status)
            if is_finished(status):
                return status
            if keep_going is not None and not keep_going(status):
                return status
            if deadline is not None and time.monotonic() > deadline:
                return status
            time.sleep(poll)
    finally:
        watcher.close()
