"""LeaseReaper: shards of dead workers go back to the queue once their lease expires."""

from __future__ import annotations

import json
from typing import Any

from dispatcher.reaper import LeaseReaper
from dispatcher.state import StateStore
from dispatcher.task import ShardTask
from tests.redis_server import fake_redis  # noqa: F401 - fixture
from tests.worker.runs import store_run


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _setup(client: Any, clock: Clock) -> tuple[StateStore, list[tuple[str, str]]]:
    store = StateStore(client, clock=clock)
    stage = {
        "name": "main",
        "tasks": 3,
        "pipeline": [{"SyntheticReader": {"count": 2}}, {"SlowPass": {"delay": 0}}],
    }
    store_run(store, "r", [stage], options={"queue": "q"})
    return store, []


def test_expired_lease_is_resent_once_per_period(fake_redis: Any) -> None:  # noqa: F811
    clock = Clock()
    store, sent = _setup(fake_redis, clock)
    reaper = LeaseReaper(store, lambda q, m: sent.append((q, m)), resend_after=30, clock=clock)
    store.claim("r", "main", 1, "dead-worker", 10)
    live = store.claim("r", "main", 2, "live-worker", 10)
    assert reaper.sweep() == {}  # nothing expired yet

    clock.now += 11
    assert store.renew("r", "main", 2, live.token, 10)  # the live worker's heartbeat
    resent = reaper.sweep()
    assert resent == {("r", "main"): [1]}
    ((queue, message),) = sent
    task = ShardTask.decode(message)
    assert (queue, task.run_id, task.stage, task.rank, task.world_size) == ("q", "r", "main", 1, 3)

    clock.now += 5
    assert reaper.sweep() == {}  # still queued: not sent again within resend_after
    clock.now += 30
    assert reaper.sweep() == {("r", "main"): [1, 2]}  # 1 still unclaimed, 2's worker went silent


def test_reclaimed_or_completed_shards_are_left_alone(fake_redis: Any) -> None:  # noqa: F811
    clock = Clock()
    store, sent = _setup(fake_redis, clock)
    reaper = LeaseReaper(store, lambda q, m: sent.append((q, m)), clock=clock)
    store.claim("r", "main", 0, "w1", 10)
    clock.now += 11
    claim = store.claim("r", "main", 0, "w2", 10)  # another worker took the expired lease
    assert claim.status == "acquired"
    store.complete("r", "main", 0, claim.token, json.dumps({"format": "x"}))
    store.cancel("r")
    assert reaper.sweep() == {} and sent == []


def test_stalled_barrier_is_restarted_after_stall_after(fake_redis: Any) -> None:  # noqa: F811
    clock = Clock()
    store = StateStore(fake_redis, clock=clock)
    first = {"name": "a", "tasks": 1, "pipeline": [{"SyntheticReader": {"count": 1}}]}
    second = {"name": "b", "tasks": 2, "pipeline": [{"SyntheticReader": {"count": 1}}]}
    store_run(store, "s", [first, second])
    sent: list[tuple[str, str]] = []
    reaper = LeaseReaper(store, lambda q, m: sent.append((q, m)), stall_after=300, clock=clock)
    assert reaper.restart_stalled() == []  # stage a not complete: nothing to do
    claim = store.claim("s", "a", 0, "w", 10)
    store.complete("s", "a", 0, claim.token, json.dumps({"format": "x"}))
    # the completing worker "died" before planning stage b
    assert reaper.restart_stalled() == [] and sent == []  # not stalled long enough yet
    clock.now += 301
    assert reaper.restart_stalled() == [("s", "b")]
    assert sorted(ShardTask.decode(m).rank for _, m in sent) == [0, 1]
    assert store.stage_plan("s", "b") is not None
    assert reaper.restart_stalled() == []  # planned now: left to the workers
