"""The Celery task shim: how each runner outcome maps to reject / retry / done."""

from __future__ import annotations

import json
import os
import types
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Reject

import tests.worker.plugin_blocks  # noqa: F401  (registers the test blocks)
from dispatcher.state import StateStore
from tests.worker.runs import store_run
from worker import tasks as worker_tasks
from worker.app import make_app
from worker.tasks import backoff, handle_message

URL = "redis://127.0.0.1:6399/0"


class Retried(Exception):
    def __init__(self, countdown: float) -> None:
        self.countdown = countdown


class FakeTaskSelf:
    """The bound Celery task as the shim sees it: ``app`` and ``retry``."""

    def __init__(self, retries: int = 0) -> None:
        self.app = make_app(URL, lease_seconds=30, retry_backoff=2.0)
        self.request = types.SimpleNamespace(retries=retries)

    def retry(self, countdown: float = 0.0, exc: Any = None) -> Retried:
        return Retried(countdown)


@pytest.fixture
def store(fake_redis: Any, monkeypatch: pytest.MonkeyPatch) -> StateStore:
    store = StateStore(fake_redis)
    monkeypatch.setitem(worker_tasks._stores, (URL, False, os.getpid()), store)
    return store


def _stage(tmp_path: Path, *extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "main",
        "tasks": 1,
        "max_attempts": 2,
        "pipeline": [
            {"SyntheticReader": {"count": 2}},
            *extra,
            {"JsonlWriter": {"output_folder": str(tmp_path / "out"), "compression": None}},
        ],
    }


def test_backoff_grows_and_is_capped() -> None:
    assert 4 <= backoff(1, 5) <= 6
    assert 16 <= backoff(3, 5) <= 24
    assert backoff(30, 5) <= 600 * 1.2


def test_undecodable_message_is_recorded_and_rejected(store: StateStore) -> None:
    with pytest.raises(Reject):
        handle_message(FakeTaskSelf(), "{nope")
    (entry,) = store.rejected()
    assert entry["message"] == "{nope" and "not valid JSON" in entry["error"]


def test_completed_shard_returns_done(store: StateStore, tmp_path: Path) -> None:
    _, tasks = store_run(store, "r1", [_stage(tmp_path)])
    assert handle_message(FakeTaskSelf(), tasks[0].encode()) == "completed"
    assert handle_message(FakeTaskSelf(), tasks[0].encode()) == "skipped"


def test_busy_shard_is_retried_when_the_lease_runs_out(store: StateStore, tmp_path: Path) -> None:
    _, tasks = store_run(store, "r1", [_stage(tmp_path)])
    store.claim("r1", "main", 0, "other", 20)
    with pytest.raises(Retried) as info:
        handle_message(FakeTaskSelf(), tasks[0].encode())
    assert 19 < info.value.countdown <= 21


def test_failure_retried_with_backoff_then_given_up(store: StateStore, tmp_path: Path) -> None:
    _, tasks = store_run(store, "r1", [_stage(tmp_path, {"FailOnRanks": {}})])
    with pytest.raises(Retried) as info:
        handle_message(FakeTaskSelf(), tasks[0].encode())
    assert 1.6 <= info.value.countdown <= 2.4  # base 2 s, first attempt
    assert handle_message(FakeTaskSelf(), tasks[0].encode()) == "failed"
    assert store.failed_ranks("r1", "main") == [0]
    assert json.loads(store.logs("r1", "main", 0)[-1])["event"] == "failed"


def test_redis_outage_past_client_retries_is_retried_not_acked_away(
    store: StateStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    _, tasks = store_run(store, "r1", [_stage(tmp_path)])

    def down(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(store, "claim", down)
    with pytest.raises(Retried) as info:
        handle_message(FakeTaskSelf(), tasks[0].encode())
    assert 1.6 <= info.value.countdown <= 2.4
    with pytest.raises(redis.ConnectionError):
        handle_message(FakeTaskSelf(retries=worker_tasks.MAX_INFRA_RETRIES), tasks[0].encode())
