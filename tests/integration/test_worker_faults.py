"""Real worker processes against a real redis-server under faults.

- a worker SIGKILLed mid-shard: its lease expires, the message comes back after the
  visibility timeout, another worker re-runs the shard; outputs whole, counted once;
- redis-server restarted mid-run: no completion is lost;
- a shard that always fails: tried max_attempts times, failure with traceback, the rest
  completes; bad messages and a spec naming an unknown block are rejected, recorded, and
  the worker lives on;
- SIGTERM (preemption): the shard is given back without using an attempt.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dispatcher.state import StateStore
from dispatcher.task import ShardTask
from tests.redis_server import RedisServer
from tests.worker.runs import runs_log, start_worker, store_run
from worker.app import make_app, make_sender

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAST = ("--lease-seconds", "2", "--visibility-timeout", "4", "--retry-backoff", "0.2")


def _stage(tmp_path: Path, tasks: int, count: int, delay: float, *extra: dict) -> dict[str, Any]:
    return {
        "name": "main",
        "tasks": tasks,
        "max_attempts": 2,
        "pipeline": [
            {"SyntheticReader": {"count": count}},
            {"RunMarker": {"folder": str(tmp_path / "marks")}},
            *extra,
            {"SlowPass": {"delay": delay}},
            {"JsonlWriter": {"output_folder": str(tmp_path / "out"), "compression": None}},
        ],
    }


def _wait_for(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _finish(*procs: subprocess.Popen[bytes], timeout: float = 90) -> list[int]:
    codes = []
    try:
        for proc in procs:
            codes.append(proc.wait(timeout=timeout))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    return codes


def _send_all(url: str, tasks: list[ShardTask]) -> None:
    send = make_sender(make_app(url))
    for task in tasks:
        send(task.queue, task.encode())


def _assert_outputs_whole(tmp_path: Path, tasks: int, count: int) -> None:
    out = tmp_path / "out"
    # a SIGKILLed attempt's hidden temporary file is removed when the shard commits
    assert sorted(p.name for p in out.iterdir()) == [f"{r:05d}.jsonl" for r in range(tasks)]
    for rank in range(tasks):
        lines = (out / f"{rank:05d}.jsonl").read_text().splitlines()
        assert [json.loads(line)["id"] for line in lines] == [f"{rank}-{i}" for i in range(count)]


def _documents_counted(store: StateStore, run_id: str) -> int:
    return sum(
        json.loads(raw)["blocks"][0]["stats"]["documents"]["n"]
        for raw in store.stats(run_id, "main").values()
    )


def test_sigkill_mid_shard_then_another_worker_finishes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = StateStore.from_url(redis_server.url)
    _, tasks = store_run(store, "kill", [_stage(tmp_path, 3, 40, 0.05)])
    _send_all(redis_server.url, tasks)
    victim = start_worker(redis_server.url, *FAST, log_path=tmp_path / "victim.log")
    try:
        _wait_for(lambda: runs_log(tmp_path / "marks"), 60, "the first shard to start")
        time.sleep(0.5)  # mid-shard: 40 docs take 2 s
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    killed_rank = runs_log(tmp_path / "marks")[0][1]
    assert store.live_leases("kill", "main") == [killed_rank] or store.expired_leases(
        "kill", "main"
    ) == [killed_rank]
    rescuer = start_worker(
        redis_server.url, *FAST, "--exit-when-idle", "6", log_path=tmp_path / "rescuer.log"
    )
    assert _finish(rescuer, timeout=100) == [0]
    assert store.status("kill")["complete"] is True
    _assert_outputs_whole(tmp_path, 3, 40)
    assert _documents_counted(store, "kill") == 3 * 40  # each document counted once
    assert store.attempts("kill", "main")[killed_rank] == 2
    runs = [(rank, attempt) for _, rank, attempt, _ in runs_log(tmp_path / "marks")]
    assert sorted(runs).count((killed_rank, 1)) == 1 and (killed_rank, 2) in runs


def test_redis_restart_mid_run_loses_no_completion(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = StateStore.from_url(redis_server.url)
    _, tasks = store_run(store, "restart", [_stage(tmp_path, 4, 20, 0.05)])
    _send_all(redis_server.url, tasks)
    worker = start_worker(
        redis_server.url,
        "--lease-seconds",
        "10",
        "--visibility-timeout",
        "8",
        "--exit-when-idle",
        "6",
        log_path=tmp_path / "worker.log",
    )
    try:
        _wait_for(lambda: len(store.done_ranks("restart", "main")) >= 1, 60, "a first completion")
        done_before = store.done_ranks("restart", "main")
        redis_server.restart(down_seconds=1.0)
        assert store.done_ranks("restart", "main") >= done_before
    finally:
        codes = _finish(worker, timeout=120)
    assert codes == [0]
    assert store.status("restart")["complete"] is True
    _assert_outputs_whole(tmp_path, 4, 20)
    assert _documents_counted(store, "restart") == 4 * 20


def test_failing_shard_and_bad_messages_leave_the_worker_alive(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = StateStore.from_url(redis_server.url)
    fail = {"FailOnRanks": {"ranks": [1]}}
    _, tasks = store_run(store, "fails", [_stage(tmp_path, 3, 5, 0.0, fail)])
    bad_spec = {"name": "bad", "stages": [{"name": "main", "pipeline": [{"NoSuchBlock": {}}]}]}
    store.create_run("badspec", json.dumps(bad_spec), "h-bad")
    store.set_stage_plan("badspec", "main", 1)
    bad_task = ShardTask(run_id="badspec", stage="main", rank=0, world_size=1, spec_hash="h-bad")
    send = make_sender(make_app(redis_server.url))
    send("shardyard", "{not json")
    send("shardyard", json.dumps({**tasks[0].to_dict(), "schema_version": 99}))
    send("shardyard", bad_task.encode())
    for task in tasks:
        send(task.queue, task.encode())
    worker = start_worker(
        redis_server.url, *FAST, "--exit-when-idle", "4", log_path=tmp_path / "worker.log"
    )
    assert _finish(worker) == [0]
    assert store.done_ranks("fails", "main") == {0, 2}
    assert store.failed_ranks("fails", "main") == [1]
    assert store.attempts("fails", "main")[1] == 2  # max_attempts of the stage
    record = store.failures("fails", "main")[1]
    assert "planned failure of rank 1 attempt 2" in record.error
    assert "Traceback (most recent call last)" in record.traceback
    assert record.attempt == 2 and record.final
    assert sorted(r[2] for r in runs_log(tmp_path / "marks") if r[1] == 1) == [1, 2]
    status = store.status("fails")["stages"][0]
    assert (status["done"], status["failed"], status["running"]) == (2, 1, 0)
    rejected = store.rejected()
    assert len(rejected) == 2
    assert {("not valid JSON" in r["error"]) for r in rejected} == {True, False}
    assert any("schema_version 99" in r["error"] for r in rejected)
    spec_failure = store.failures("badspec", "main")[0]
    assert "NoSuchBlock" in spec_failure.error and spec_failure.final
    assert store.attempts("badspec", "main") == {0: 3}
    events = [json.loads(line)["event"] for line in store.logs("fails", "main", 1)]
    assert events.count("failed") == 2


def test_sigterm_gives_the_shard_back_without_using_an_attempt(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = StateStore.from_url(redis_server.url)
    _, tasks = store_run(store, "preempt", [_stage(tmp_path, 1, 100, 0.05)])
    _send_all(redis_server.url, tasks)
    first = start_worker(redis_server.url, *FAST, log_path=tmp_path / "first.log")
    try:
        _wait_for(lambda: runs_log(tmp_path / "marks"), 60, "the shard to start")
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    finally:
        _finish(first, timeout=1)
    assert store.attempts("preempt", "main") == {}  # refunded
    assert store.live_leases("preempt", "main") == []
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    events = [json.loads(line)["event"] for line in store.logs("preempt", "main", 0)]
    assert events[-1] == "preempted"
    second = start_worker(
        redis_server.url, *FAST, "--exit-when-idle", "3", log_path=tmp_path / "second.log"
    )
    assert _finish(second) == [0]
    assert store.status("preempt")["complete"] is True
    assert store.attempts("preempt", "main") == {0: 1}
    assert [r[2] for r in runs_log(tmp_path / "marks")] == [1, 1]
    _assert_outputs_whole(tmp_path, 1, 100)


def test_sigterm_to_a_prefork_worker_reaches_its_children(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """``docker stop`` signals only the main process: it must pass the signal on."""
    store = StateStore.from_url(redis_server.url)
    _, tasks = store_run(store, "preempt2", [_stage(tmp_path, 2, 100, 0.05)])
    _send_all(redis_server.url, tasks)
    worker = start_worker(
        redis_server.url, *FAST, "--concurrency", "2", log_path=tmp_path / "w.log"
    )
    try:
        _wait_for(lambda: len(runs_log(tmp_path / "marks")) == 2, 60, "both shards to start")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        _finish(worker, timeout=1)
    assert store.attempts("preempt2", "main") == {}  # both refunded, no 5 s shard finished
    assert store.done_ranks("preempt2", "main") == set()
    for rank in (0, 1):
        assert json.loads(store.logs("preempt2", "main", rank)[-1])["event"] == "preempted"
