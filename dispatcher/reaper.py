"""Give back the shards of dead workers without waiting for the broker.

A worker that is SIGKILLed (OOM killer, node failure, ``scancel -s KILL``) stops renewing
its lease. Celery's Redis transport would redeliver its unacked message only after the
visibility timeout (an hour by default, because it must exceed the longest shard). The
reaper, which every worker runs in a background thread, looks for leases that expired
without completion and sends those shards again at once; the atomic claim makes the
extra deliveries harmless (a shard already re-claimed is BUSY, a finished one DONE).

It also restarts a stalled barrier: the worker that completes a stage's last shard plans
and enqueues the next stage; if it dies in between, the next stage would never start.
A stage that is complete while its successor has no plan for ``stall_after`` seconds
(longer than any input listing takes) is enqueued by the reaper instead.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from dispatcher.state import StateStore
from dispatcher.submit import enqueue_stage

Send = Callable[[str, str], object]


class LeaseReaper:
    """Re-send shards whose lease expired. ``sweep()`` is cheap: one sorted-set range query
    per stage of each run that is not cancelled."""

    def __init__(
        self,
        store: StateStore,
        send: Send,
        *,
        resend_after: float = 30.0,
        stall_after: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.send = send
        self.resend_after = resend_after
        self.stall_after = stall_after
        self._stalled: dict[tuple[str, str], float] = {}
        self.clock = clock
        # (run, stage, rank) -> when this reaper last re-sent it: a re-sent shard that is still
        # queued keeps its expired lease until claimed, and must not be sent again each sweep
        self._sent: dict[tuple[str, str, int], float] = {}

    def sweep(self, now: float | None = None) -> dict[tuple[str, str], list[int]]:
        """Re-send every shard with an expired lease; returns ``{(run, stage): ranks}``."""
        now = self.clock() if now is None else now
        resent: dict[tuple[str, str], list[int]] = {}
        live: set[tuple[str, str, int]] = set()
        for run_id in self.store.list_runs():
            if self.store.is_cancelled(run_id):
                continue
            for stage in self.store.stage_names(run_id):
                expired = self.store.expired_leases(run_id, stage, now)
                due = []
                for rank in expired:
                    key = (run_id, stage, rank)
                    live.add(key)
                    last = self._sent.get(key)
                    if last is None or now - last >= self.resend_after:
                        due.append(rank)
                        self._sent[key] = now
                if due:
                    enqueue_stage(self.store, run_id, stage, self.send, ranks=due)
                    resent[(run_id, stage)] = due
        for key in list(self._sent):
            if key not in live:
                del self._sent[key]
        return resent

    def restart_stalled(self, now: float | None = None) -> list[tuple[str, str]]:
        """Enqueue next stages that nobody enqueued after their barrier; returns them."""
        now = self.clock() if now is None else now
        started: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for run_id in self.store.list_runs():
            if self.store.is_cancelled(run_id):
                continue
            names = self.store.stage_names(run_id)
            for previous, following in itertools.pairwise(names):
                if self.store.stage_plan(run_id, following) is not None:
                    continue
                if not self.store.stage_complete(run_id, previous):
                    break
                key = (run_id, following)
                seen.add(key)
                first = self._stalled.setdefault(key, now)
                if now - first >= self.stall_after:
                    enqueue_stage(self.store, run_id, following, self.send)
                    started.append(key)
                    del self._stalled[key]
                break
        for key in list(self._stalled):
            if key not in seen:
                del self._stalled[key]
        return started
