"""A fast ``send(queue, message)`` over a Celery app, shared by the dispatcher and workers.

One message goes through ``app.send_task``; batches (``send_many``) are written by the
sender itself: the envelope of Celery's message protocol 2 for kombu's Redis transport
(headers from ``app.amqp.as_task_v2``, base64 JSON body), LPUSHed through a Redis
pipeline. That is what ``send_task`` produces minus about a millisecond per message, so
100,000 shards enqueue in seconds; a worker completing a stage uses it to enqueue the
next one. A test checks the envelope against ``send_task``'s and a real worker consumes it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Any

TASK_NAME = "shardyard.run_shard"
_ARGSREPR_MAX = 1024


class CelerySender:
    """``send(queue, message)`` and ``send_many(queue, messages)`` over a Celery app."""

    def __init__(self, app: Any, *, batch_size: int = 1000) -> None:
        self.app = app
        self.batch_size = batch_size
        self._client: Any = None
        self._declared: set[str] = set()

    def __call__(self, queue: str, message: str) -> None:
        self.app.send_task(TASK_NAME, args=[message], queue=queue)
        self._declared.add(queue)

    def _fast_path(self) -> bool:
        url = str(self.app.conf.broker_url or "")
        options = self.app.conf.broker_transport_options or {}
        return url.startswith(("redis://", "rediss://")) and not options.get("global_keyprefix")

    def _redis(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(str(self.app.conf.broker_url))
        return self._client

    def _template(self) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """Headers, properties and body embed of one ``as_task_v2`` message (the costly
        part of ``send_task``), reused for a whole batch with fresh ids."""
        headers, properties, body, _ = self.app.amqp.as_task_v2(
            str(uuid.uuid4()), TASK_NAME, args=[""], kwargs={}
        )
        headers["ignore_result"] = None  # as send_task leaves it
        return dict(headers), dict(properties), body[2]

    def envelope(
        self,
        queue: str,
        message: str,
        template: tuple[dict[str, Any], dict[str, Any], Any] | None = None,
    ) -> str:
        """The Redis list entry ``send_task`` would write for this message."""
        import orjson

        headers, properties, embed = template or self._template()
        task_id = str(uuid.uuid4())
        payload = orjson.dumps([[message], {}, embed])
        return orjson.dumps(
            {
                "body": base64.b64encode(payload).decode("ascii"),
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": {
                    **headers,
                    "id": task_id,
                    "root_id": task_id,
                    "argsrepr": repr([message])[:_ARGSREPR_MAX],
                },
                "properties": {
                    **properties,
                    "correlation_id": task_id,
                    "delivery_mode": 2,
                    "delivery_info": {"exchange": "", "routing_key": queue},
                    "priority": 0,
                    "body_encoding": "base64",
                    "delivery_tag": str(uuid.uuid4()),
                },
            }
        ).decode("utf-8")

    def send_many(self, queue: str, messages: Sequence[str]) -> None:
        """Send a batch: the first through ``send_task`` (which declares the queue as Celery
        does), the rest LPUSHed in pipelined chunks of ``batch_size``."""
        rest = list(messages)
        if not rest:
            return
        if queue not in self._declared or not self._fast_path():
            if not self._fast_path():
                for message in rest:
                    self(queue, message)
                return
            self(queue, rest.pop(0))
        client = self._redis()
        template = self._template()
        for start in range(0, len(rest), self.batch_size):
            chunk = rest[start : start + self.batch_size]
            client.lpush(queue, *(self.envelope(queue, m, template) for m in chunk))
