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

from collections.abc import Sequence
from typing import Any

from blocks.metrics import PipelineStats
from dispatcher.executors.base import finish, pipeline_spec
from dispatcher.progress import watch_run
from dispatcher.state import StateStore, check_redis_url
from dispatcher.submit import SubmitResult, submit_run
from dispatcher.task import DEFAULT_QUEUE
from worker.sender import TASK_NAME as TASK_NAME
from worker.sender import CelerySender as CelerySender


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
