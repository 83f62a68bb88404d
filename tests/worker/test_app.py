"""The Celery app factory: JSON only, late ack, prefetch 1, no backend, one app per URL."""

from __future__ import annotations

import base64
import json

import pytest

from dispatcher.errors import InsecureRedisError
from dispatcher.task import ShardTask
from tests.redis_server import RedisServer
from worker.app import DEFAULT_VISIBILITY_TIMEOUT, TASK_NAME, make_app, make_sender


def test_settings_that_make_at_least_once_delivery_safe() -> None:
    app = make_app("redis://127.0.0.1:6390/0")
    conf = app.conf
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert conf.task_acks_late is True and conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True and not conf.result_backend
    options = conf.broker_transport_options
    assert options["visibility_timeout"] == DEFAULT_VISIBILITY_TIMEOUT == 3600
    assert conf.task_default_queue == "shardyard"
    task = app.tasks[TASK_NAME]
    assert task.acks_late and task.reject_on_worker_lost and task.max_retries is None


def test_each_url_gets_its_own_app_and_nothing_global() -> None:
    from celery import current_app

    before = current_app._get_current_object()
    a = make_app("redis://127.0.0.1:6391/0", queue="qa", visibility_timeout=30)
    b = make_app("redis://:pw@127.0.0.1:6392/1", lease_seconds=7, state_url="redis://127.0.0.1:1/2")
    assert a is not b
    assert a.conf.broker_url.endswith(":6391/0") and b.conf.broker_url.endswith(":6392/1")
    assert a.conf.task_default_queue == "qa"
    assert a.conf.broker_transport_options["visibility_timeout"] == 30
    assert a.conf.shardyard_state_url == a.conf.broker_url
    assert b.conf.shardyard_state_url == "redis://127.0.0.1:1/2"
    assert b.conf.shardyard_lease_seconds == 7
    assert TASK_NAME in a.tasks and TASK_NAME in b.tasks
    assert current_app._get_current_object() is before


def test_passwordless_remote_broker_is_refused() -> None:
    with pytest.raises(InsecureRedisError):
        make_app("redis://10.1.2.3:6379/0")
    make_app("redis://10.1.2.3:6379/0", insecure=True)


@pytest.mark.integration
def test_sender_publishes_a_json_message_on_the_queue(redis_server: RedisServer) -> None:
    app = make_app(redis_server.url)
    task = ShardTask(run_id="r", stage="s", rank=0, world_size=1, spec_hash="h", queue="other")
    make_sender(app)("other", task.encode())
    client = redis_server.client()
    assert client.llen("other") == 1 and client.llen("shardyard") == 0
    envelope = json.loads(client.lindex("other", 0))
    assert envelope["content-type"] == "application/json"
    assert envelope["headers"]["task"] == TASK_NAME
    args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
    assert kwargs == {} and ShardTask.decode(args[0]) == task
