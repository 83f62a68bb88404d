"""A SIGKILLed worker's shard comes back through the lease reaper, not the broker.

The visibility timeout is left at an hour (the production default): only the reaper
thread of the surviving worker can bring the shard back within the test's bounds.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from dispatcher.state import StateStore
from tests.integration.test_worker_faults import (
    _assert_outputs_whole,
    _documents_counted,
    _finish,
    _send_all,
    _stage,
    _wait_for,
)
from tests.redis_server import RedisServer
from tests.worker.runs import runs_log, start_worker, store_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOUR = ("--lease-seconds", "2", "--visibility-timeout", "3600", "--retry-backoff", "0.2")


def test_reaper_resends_a_killed_workers_shard(redis_server: RedisServer, tmp_path: Path) -> None:
    store = StateStore.from_url(redis_server.url)
    _, tasks = store_run(store, "reap", [_stage(tmp_path, 2, 40, 0.05)])
    _send_all(redis_server.url, tasks[:1])
    victim = start_worker(redis_server.url, *HOUR, log_path=tmp_path / "victim.log")
    try:
        _wait_for(lambda: runs_log(tmp_path / "marks"), 60, "the first shard to start")
        time.sleep(0.5)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    _send_all(redis_server.url, tasks[1:])
    rescuer = start_worker(
        redis_server.url, *HOUR, "--exit-when-idle", "8", log_path=tmp_path / "rescuer.log"
    )
    # the broker would redeliver only after an hour: finishing within the watchdog means the
    # reaper re-sent the shard
    assert _finish(rescuer, timeout=120) == [0]
    assert store.status("reap")["complete"] is True, (tmp_path / "rescuer.log").read_text()[-3000:]
    _assert_outputs_whole(tmp_path, 2, 40)
    assert _documents_counted(store, "reap") == 2 * 40
    assert "expired_leases_resent" in (tmp_path / "rescuer.log").read_text()
