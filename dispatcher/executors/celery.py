"""Run a pipeline on Celery workers, and send shard messages fast.

:class:`CeleryPipelineExecutor` is DataTrove's executor shape over a shared Redis: it
turns the pipeline into a spec (functions must be registered, see
:func:`blocks.registry.register_function`, in a plugin module the workers import), submits
it and, unless ``wait=False``, follows it to the end and returns the merged stats.
Workers are started separately (``python -m worker --redis URL``, compose, Slurm).

:class:`CelerySender` is the ``send`` of :func:`dispatcher.submit.submit_run`. One message
goes through ``app.send_task``; batches (``send_many``) are written by the sender itself:
the envelope of Celery's message protocol 2 for kombu's Redis transport (headers from
``app.amqp.as_task_v2``, base64 JSON body), LPUSHed through a Redis pipeline. That is
what ``send_task`` produces, minus about a millisecond of per-message overhead, so
100,000 shards enqueue in seconds. A test checks the envelope against ``send_task``'s
and a real worker consumes it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import Any

from blocks.metrics import PipelineStats
from dispatcher.executors.base import finish, pipeline_spec
from dispatcher.progress import watch_run
from dispatcher.state import StateStore, check_redis_url
from dispatcher.submit import SubmitResult, submit_run
from dispatcher.task import DEFAULT_QUEUE

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


def make_sender(
    redis_url: str, *, queue: str = DEFAULT_QUEUE, insecure: bool = False
) -> CelerySender:
    """A sender on a fresh Celery app for ``redis_url``."""
    from worker.app import make_app

    return CelerySender(make_app(redis_url, queue=queue, insecure=insecure))


class CeleryPipelineExecutor:
    """DataTrove-style executor that runs shards on Celery workers through Redis.

    ``run()`` submits (only ranks not done are sent; a changed pipeline gets a new run id
    unless ``run_id`` pins one) and, with ``wait=True``, blocks until the run is complete
    or stuck, then returns the merged stats (``logging_dir/stats.json``) or raises
    :class:`dispatcher.executors.base.RunFailedError`. ``depends``: another executor whose
    run must complete first (it is run first when it has not been).
    """

    def __init__(
        self,
        pipeline: Sequence[Any],
        tasks: int = 1,
        redis_url: str | None = None,
        queue: str = DEFAULT_QUEUE,
        logging_dir: str | None = None,
        *,
        run_id: str | None = None,
        name: str = "pipeline",
        plugins: Sequence[str] = (),
        skip_completed: bool = True,
        depends: CeleryPipelineExecutor | None = None,
        sharding: str = "round_robin",
        target_shard_bytes: int = 256 * 1024 * 1024,
        max_attempts: int = 3,
        randomize_start_duration: float = 0.0,
        wait: bool = True,
        poll: float = 1.0,
        progress: bool = False,
        insecure: bool = False,
    ) -> None:
        if redis_url is None:
            from dispatcher.settings import Settings

            redis_url = Settings.from_env().redis_url
        if not redis_url:
            raise ValueError("CeleryPipelineExecutor needs redis_url (or SHARDYARD_REDIS_URL)")
        check_redis_url(redis_url, insecure=insecure)
        self.pipeline = list(pipeline)
        self.redis_url = redis_url
        self.queue = queue
        self.logging_dir = logging_dir
        self.skip_completed = skip_completed
        self.depends = depends
        self.wait = wait
        self.poll = poll
        self.progress = progress
        self.insecure = insecure
        self.spec = pipeline_spec(
            self.pipeline,
            name=name,
            tasks=tasks,
            logging_dir=logging_dir,
            plugins=plugins,
            sharding=sharding,
            target_shard_bytes=target_shard_bytes,
            max_attempts=max_attempts,
            randomize_start_duration=randomize_start_duration,
        )
        self.run_id = run_id or f"{name}-{self.spec.spec_hash()[:12]}"
        self.submitted: SubmitResult | None = None

    @property
    def world_size(self) -> int:
        return self.spec.stages[0].tasks

    def store(self) -> StateStore:
        return StateStore.from_url(self.redis_url, insecure=self.insecure)

    def run(self) -> PipelineStats | None:
        store = self.store()
        depends: list[str] = []
        if self.depends is not None:
            dep = self.depends
            if dep.submitted is None and store.get_run(dep.run_id) is None:
                dep.run()
            if self.wait:
                # DataTrove waits for its dependency here; so do we, then enqueue at once
                watch_run(store, dep.run_id, poll=self.poll, progress=False)
                finish(store, dep.run_id, dep.logging_dir)
            depends.append(dep.run_id)
        if not self.skip_completed:
            store.delete_run(self.run_id)
        sender = make_sender(self.redis_url, queue=self.queue, insecure=self.insecure)
        self.submitted = submit_run(
            store,
            self.spec,
            run_id=self.run_id,
            queue=self.queue,
            send=sender,
            options={"logging_dir": self.logging_dir} if self.logging_dir else {},
            depends=depends,
        )
        if not self.wait:
            return None
        watch_run(store, self.run_id, poll=self.poll, progress=self.progress)
        return finish(store, self.run_id, self.logging_dir)
