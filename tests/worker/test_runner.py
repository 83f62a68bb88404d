"""run_shard in-process on fakeredis: completion, failures, lease loss, preemption, advance."""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

import tests.worker.plugin_blocks  # noqa: F401  (registers the test blocks)
from dispatcher.errors import ShardFailedError
from dispatcher.state import StateStore
from dispatcher.task import ShardTask
from tests.worker.runs import runs_log, store_run
from worker.runner import run_shard


class Clock:
    def __init__(self) -> None:
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(fake_redis: Any) -> StateStore:
    return StateStore(fake_redis)


def _stage(tmp_path: Path, *blocks: dict[str, Any], tasks: int = 2, **opts: Any) -> dict[str, Any]:
    pipeline = [
        {"SyntheticReader": {"count": 5}},
        {"RunMarker": {"folder": str(tmp_path / "marks")}},
        *blocks,
        {"JsonlWriter": {"output_folder": str(tmp_path / "out"), "compression": None}},
    ]
    return {"name": "main", "tasks": tasks, "pipeline": pipeline, **opts}


def _outputs(tmp_path: Path) -> list[str]:
    out = tmp_path / "out"
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_completes_a_shard_and_stores_stats_and_logs(store: StateStore, tmp_path: Path) -> None:
    _, tasks = store_run(store, "r1", [_stage(tmp_path)])
    outcome = run_shard(tasks[1], store, worker_id="w1")
    assert (outcome.status, outcome.attempt, outcome.stage_done) == ("completed", 1, False)
    assert _outputs(tmp_path) == ["00001.jsonl"]
    lines = (tmp_path / "out" / "00001.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [f"1-{i}" for i in range(5)]
    stats = json.loads(store.stats("r1", "main")[1])
    names = [b["name"] for b in stats["blocks"]]
    assert names == ["SyntheticReader", "RunMarker", "JsonlWriter"]  # no lease guard
    assert stats["blocks"][0]["stats"]["documents"]["n"] == 5
    events = [json.loads(line)["event"] for line in store.logs("r1", "main", 1)]
    assert events == ["claimed", "completed"]
    assert store.done_ranks("r1", "main") == {1}
    assert store.keys("r1") == sorted(store.keys("r1"))  # no stray keys from the runner
    assert not any("leases" in k or "owners" in k for k in store.keys("r1"))


def test_a_second_delivery_is_skipped(store: StateStore, tmp_path: Path) -> None:
    _, tasks = store_run(store, "r1", [_stage(tmp_path, tasks=1)])
    assert run_shard(tasks[0], store, worker_id="w1").status == "completed"
    again = run_shard(tasks[0], store, worker_id="w2")
    assert (again.status, again.advanced) == ("skipped", False)
    assert len(runs_log(tmp_path / "marks")) == 1


def test_failure_is_recorded_retried_then_final(store: StateStore, tmp_path: Path) -> None:
    stage = _stage(tmp_path, {"FailOnRanks": {"ranks": [0]}}, max_attempts=2)
    _, tasks = store_run(store, "r1", [stage])
    with pytest.raises(ShardFailedError) as first:
        run_shard(tasks[0], store, worker_id="w1")
    assert (first.value.retryable, first.value.attempt) == (True, 1)
    record = store.failures("r1", "main")[0]
    assert "planned failure of rank 0 attempt 1" in record.error
    assert "Traceback" in record.traceback and "plugin_blocks.py" in record.traceback
    assert (record.worker, record.attempt, record.final) == ("w1", 1, False)
    assert _outputs(tmp_path) == []  # nothing under a final or a temporary name
    with pytest.raises(ShardFailedError) as second:
        run_shard(tasks[0], store, worker_id="w2")
    assert (second.value.retryable, second.value.attempt) == (False, 2)
    assert store.failures("r1", "main")[0].final
    assert run_shard(tasks[0], store, worker_id="w3").status == "failed"
    assert store.failed_ranks("r1", "main") == [0]
    assert run_shard(tasks[1], store, worker_id="w1").status == "completed"
    assert _outputs(tmp_path) == ["00001.jsonl"]


def test_flaky_shard_succeeds_on_a_later_attempt(store: StateStore, tmp_path: Path) -> None:
    stage = _stage(tmp_path, {"FailOnRanks": {"until_attempt": 2}}, tasks=1)
    _, tasks = store_run(store, "r1", [stage])
    with pytest.raises(ShardFailedError):
        run_shard(tasks[0], store, worker_id="w1")
    outcome = run_shard(tasks[0], store, worker_id="w1")
    assert (outcome.status, outcome.attempt) == ("completed", 2)
    assert store.failures("r1", "main") == {}
    assert [m[2] for m in runs_log(tmp_path / "marks")] == [1, 2]


def test_unknown_block_in_stored_spec_fails_once_with_a_typed_error(store: StateStore) -> None:
    spec = {"name": "x", "stages": [{"name": "main", "tasks": 1, "pipeline": [{"NoSuch": {}}]}]}
    store.create_run("r1", json.dumps(spec), "hash-x")
    store.set_stage_plan("r1", "main", 1)
    task = ShardTask(run_id="r1", stage="main", rank=0, world_size=1, spec_hash="hash-x")
    with pytest.raises(ShardFailedError) as info:
        run_shard(task, store, worker_id="w1")
    assert info.value.retryable is False
    record = store.failures("r1", "main")[0]
    assert "SpecError" in record.error and "NoSuch" in record.error and record.final
    assert store.failed_ranks("r1", "main") == [0]


def test_stale_message_of_a_replaced_spec_is_dropped(store: StateStore, tmp_path: Path) -> None:
    store_run(store, "r1", [_stage(tmp_path, tasks=1)])
    stale = ShardTask(run_id="r1", stage="main", rank=0, world_size=1, spec_hash="0" * 64)
    assert run_shard(stale, store, worker_id="w1").status == "stale"
    missing = ShardTask(run_id="gone", stage="main", rank=0, world_size=1, spec_hash="0" * 64)
    assert run_shard(missing, store, worker_id="w1").status == "stale"
    assert store.attempts("r1", "main") == {}


def test_busy_when_another_worker_holds_the_lease(store: StateStore, tmp_path: Path) -> None:
    _, tasks = store_run(store, "r1", [_stage(tmp_path, tasks=1)])
    store.claim("r1", "main", 0, "other", 30)
    outcome = run_shard(tasks[0], store, worker_id="w1")
    assert outcome.status == "busy"
    assert 25 < outcome.retry_in <= 30
    assert runs_log(tmp_path / "marks") == []


def _run_in_thread(task: ShardTask, store: StateStore, **kw: Any) -> tuple[threading.Thread, dict]:
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            box["outcome"] = run_shard(task, store, **kw)
        except BaseException as err:
            box["error"] = err

    thread = threading.Thread(target=body)
    thread.start()
    return thread, box


def _wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_lost_lease_stops_the_shard_and_discards_outputs(tmp_path: Path, fake_redis: Any) -> None:
    clock = Clock()
    store = StateStore(fake_redis, clock=clock)
    stage = _stage(tmp_path, {"SlowPass": {"delay": 0.05}}, tasks=1)
    stage["pipeline"][0]["SyntheticReader"]["count"] = 400
    _, tasks = store_run(store, "r1", [stage])
    thread, box = _run_in_thread(
        tasks[0], store, worker_id="w1", lease_seconds=10, heartbeat_every=0.05
    )
    _wait_for(lambda: runs_log(tmp_path / "marks"))
    clock.now += 60  # the lease expires; another worker takes the shard over
    assert store.claim("r1", "main", 0, "w2", 10).acquired
    thread.join(timeout=20)
    assert box["outcome"].status == "lease_lost"
    assert _outputs(tmp_path) == []  # neither final nor temporary names remain


def test_cancel_stops_a_running_shard_and_releases_it(store: StateStore, tmp_path: Path) -> None:
    stage = _stage(tmp_path, {"SlowPass": {"delay": 0.05}}, tasks=1)
    stage["pipeline"][0]["SyntheticReader"]["count"] = 400
    _, tasks = store_run(store, "r1", [stage])
    thread, box = _run_in_thread(tasks[0], store, worker_id="w1", heartbeat_every=0.05)
    _wait_for(lambda: runs_log(tmp_path / "marks"))
    store.cancel("r1")
    thread.join(timeout=20)
    assert box["outcome"].status == "cancelled"
    assert store.live_leases("r1", "main") == [] and store.attempts("r1", "main") == {}
    assert _outputs(tmp_path) == []


def test_preemption_gives_the_shard_back_without_an_attempt(
    store: StateStore, tmp_path: Path
) -> None:
    stage = _stage(tmp_path, {"SlowPass": {"delay": 0.02}}, tasks=1)
    stage["pipeline"][0]["SyntheticReader"]["count"] = 400
    _, tasks = store_run(store, "r1", [stage])
    stop = threading.Event()
    thread, box = _run_in_thread(tasks[0], store, worker_id="w1", stop_event=stop)
    _wait_for(lambda: runs_log(tmp_path / "marks"))
    stop.set()
    thread.join(timeout=20)
    assert box["outcome"].status == "preempted"
    assert store.attempts("r1", "main") == {} and store.live_leases("r1", "main") == []
    assert _outputs(tmp_path) == []
    again = store.claim("r1", "main", 0, "w2", 10)
    assert (again.status, again.attempt) == ("acquired", 1)


def test_last_rank_advances_the_stage_once(
    store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    submit = types.ModuleType("dispatcher.submit")
    merge = types.ModuleType("dispatcher.merge")
    submit.enqueue_stage = lambda st, run, stage, send: calls.append(("enqueue", run, stage, send))  # type: ignore[attr-defined]
    merge.merge_stage = lambda st, run, stage, d: calls.append(("merge", run, stage, d))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dispatcher.submit", submit)
    monkeypatch.setitem(sys.modules, "dispatcher.merge", merge)
    first = _stage(tmp_path, tasks=2)
    second = {"name": "second", "tasks": 1, "pipeline": [{"SyntheticReader": {"count": 1}}]}
    _, tasks = store_run(
        store, "r1", [first, second], options={"logging_dir": str(tmp_path / "logs")}
    )

    def send(queue: str, message: str) -> None:
        raise AssertionError("the runner itself never sends; enqueue_stage does")

    a = run_shard(tasks[0], store, worker_id="w1", send=send)
    assert (a.stage_done, a.advanced) == (False, False)
    b = run_shard(tasks[1], store, worker_id="w2", send=send)
    assert (b.stage_done, b.advanced) == (True, True)
    assert calls == [
        ("enqueue", "r1", "second", send),
        ("merge", "r1", "main", str(tmp_path / "logs")),
    ]
    dup = run_shard(tasks[1], store, worker_id="w3", send=send)
    assert (dup.status, dup.advanced) == ("skipped", False)
    assert len(calls) == 2


def test_a_failed_enqueue_is_retried_by_a_later_delivery(
    store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    submit = types.ModuleType("dispatcher.submit")

    def enqueue(st: Any, run: str, stage: str, send: Any) -> None:
        attempts.append(stage)
        if len(attempts) == 1:
            raise ConnectionError("broker down")

    submit.enqueue_stage = enqueue  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dispatcher.submit", submit)
    second = {"name": "second", "tasks": 1, "pipeline": [{"SyntheticReader": {"count": 1}}]}
    _, tasks = store_run(store, "r1", [_stage(tmp_path, tasks=1), second])
    with pytest.raises(ConnectionError):
        run_shard(tasks[0], store, worker_id="w1", send=lambda q, m: None)
    assert store.done_ranks("r1", "main") == {0}  # the shard itself is done
    assert not store.stage_advanced("r1", "main")
    dup = run_shard(tasks[0], store, worker_id="w2", send=lambda q, m: None)
    assert (dup.status, dup.advanced) == ("skipped", True)
    assert attempts == ["second", "second"]


def test_completing_the_last_stage_releases_dependent_runs(
    store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[str] = []
    submit = types.ModuleType("dispatcher.submit")
    submit.release_dependents = lambda st, run, send: released.append(run) or ["child"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dispatcher.submit", submit)
    _, tasks = store_run(store, "parent", [_stage(tmp_path, tasks=2)])
    send = lambda q, m: None  # noqa: E731
    assert run_shard(tasks[0], store, worker_id="w1", send=send).advanced is False
    assert released == []
    assert run_shard(tasks[1], store, worker_id="w1", send=send).advanced is True
    assert released == ["parent"]
    run_shard(tasks[1], store, worker_id="w2", send=send)
    assert released == ["parent"]
