"""One shard delivered five times at once runs once and is counted once (real Redis).

Five threads, each with its own connection, call the runner for the same task behind a
barrier; then the same message is put on the queue five times for two real worker
processes. Either way the shard body (``RunMarker``) runs exactly once.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dispatcher.state import StateStore
from tests.redis_server import RedisServer
from tests.worker.runs import runs_log, start_worker, store_run
from worker.app import make_app, make_sender
from worker.runner import Outcome, run_shard

pytestmark = pytest.mark.integration


def _stage(tmp_path: Path, tasks: int, delay: float, count: int = 20) -> dict[str, Any]:
    return {
        "name": "main",
        "tasks": tasks,
        "pipeline": [
            {"SyntheticReader": {"count": count}},
            {"RunMarker": {"folder": str(tmp_path / "marks")}},
            {"SlowPass": {"delay": delay}},
            {"JsonlWriter": {"output_folder": str(tmp_path / "out"), "compression": None}},
        ],
    }


def test_five_concurrent_deliveries_in_threads_run_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    setup = StateStore.from_url(redis_server.url)
    _, tasks = store_run(setup, "dup", [_stage(tmp_path, 1, 0.005)])
    barrier = threading.Barrier(5)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def deliver(i: int) -> None:
        store = StateStore.from_url(redis_server.url)  # one connection per "worker"
        barrier.wait()
        outcome = run_shard(tasks[0], store, worker_id=f"w{i}", lease_seconds=30)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(o.status for o in outcomes)
    assert statuses.count("completed") == 1
    assert set(statuses) <= {"completed", "busy", "skipped"}
    assert len(runs_log(tmp_path / "marks")) == 1
    stats = setup.stats("dup", "main")
    assert list(stats) == [0]
    assert json.loads(stats[0])["blocks"][0]["stats"]["documents"]["n"] == 20
    assert setup.attempts("dup", "main") == {0: 1}
    lines = (tmp_path / "out" / "00000.jsonl").read_text().splitlines()
    assert len(lines) == 20


@pytest.mark.slow
def test_five_deliveries_to_two_worker_processes_run_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    store = StateStore.from_url(redis_server.url)
    _, tasks = store_run(store, "dup5", [_stage(tmp_path, 2, 0.05)])
    send = make_sender(make_app(redis_server.url))
    for _ in range(5):
        for task in tasks:
            send(task.queue, task.encode())
    args = ("--concurrency", "2", "--exit-when-idle", "2", "--lease-seconds", "3")
    workers = [
        start_worker(redis_server.url, *args, log_path=tmp_path / f"w{i}.log") for i in range(2)
    ]
    try:
        for w in workers:
            assert w.wait(timeout=90) == 0
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    marks = runs_log(tmp_path / "marks")
    assert sorted(m[1] for m in marks) == [0, 1], marks  # each rank's body ran once
    assert store.status("dup5")["complete"] is True
    assert sorted(store.stats("dup5", "main")) == [0, 1]
    assert store.attempts("dup5", "main") == {0: 1, 1: 1}
    for rank in (0, 1):
        lines = (tmp_path / "out" / f"{rank:05d}.jsonl").read_text().splitlines()
        assert [json.loads(line)["id"] for line in lines] == [f"{rank}-{i}" for i in range(20)]


def wait_for(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
