"""Submit a run and enqueue its shards: safe to repeat, no coordinator left running.

``submit_run`` validates the spec, stores the run (a different spec under an existing
run id is refused unless ``force``, which discards the old progress), writes
``logging_dir/executor.json`` and enqueues the first stage that is not complete. Later
stages are enqueued by the worker that completes the previous stage's last rank (it
calls :func:`enqueue_stage`, guarded by ``StateStore.mark_stage_advanced``), so the
submitting process can exit at once.

``enqueue_stage`` plans a stage the first time (listing its input once, see
:mod:`dispatcher.plan`), stores the plan, and sends one :class:`ShardTask` per rank that
is neither done nor failed for good. Sending twice is harmless: the claim protocol turns
a duplicate into "busy" or "done".

Dependencies (``depends:`` in the spec, ``--depends RUN``): a run's first stage is not
enqueued while a run it depends on is incomplete. When a run completes,
:func:`release_dependents` enqueues the runs waiting for it (the worker that completes
the last stage calls it; re-submitting a waiting run does the same check). The state
needs no extra keys: dependencies live in the run's options.

``send(queue, message_json)`` is the transport. A sender that also has
``send_many(queue, messages)`` gets whole batches (pipelined into Redis by
:class:`dispatcher.executors.celery.CelerySender`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blocks.base import FileRange
from blocks.io import get_datafolder, temp_name
from blocks.spec import PipelineSpec, load_spec
from dispatcher.errors import RunNotFoundError
from dispatcher.plan import plan_stage
from dispatcher.state import StateStore, check_run_id
from dispatcher.task import DEFAULT_QUEUE, ShardTask

Send = Callable[[str, str], Any]
BATCH = 5000
EXECUTOR_FILE = "executor.json"


@dataclass(frozen=True)
class SubmitResult:
    """What a submission did: which stage it enqueued and how many shard messages."""

    run_id: str
    created: bool
    stage: str | None = None
    enqueued: int = 0
    complete: bool = False
    waiting_for: tuple[str, ...] = field(default_factory=tuple)


# -- sending -------------------------------------------------------------------------
def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def send_all(send: Send, queue: str, messages: Iterable[str]) -> int:
    """Send messages, in batches when the sender supports it; returns how many."""
    many = getattr(send, "send_many", None)
    count = 0
    if callable(many):
        for chunk in _chunks(messages, BATCH):
            many(queue, chunk)
            count += len(chunk)
        return count
    for message in messages:
        send(queue, message)
        count += 1
    return count


# -- reading the stored run ------------------------------------------------------------
def stored_spec(store: StateStore, run_id: str) -> tuple[PipelineSpec, dict[str, Any], str]:
    """The run's validated spec, its options and its spec hash."""
    record = store.get_run(run_id)
    if record is None:
        raise RunNotFoundError(f"no run {run_id!r} in the state store")
    return PipelineSpec.from_dict(record.spec), dict(record.options), record.spec_hash


def unmet_dependencies(store: StateStore, run_id: str) -> list[str]:
    """Runs this run depends on that are not complete (missing ones count as unmet)."""
    record = store.get_run(run_id)
    if record is None:
        raise RunNotFoundError(f"no run {run_id!r} in the state store")
    depends = record.options.get("depends") or []
    return [dep for dep in depends if not store.status(dep).get("complete")]


def current_stage(store: StateStore, run_id: str, spec: PipelineSpec) -> str | None:
    """The first stage that is not complete (None when the whole run is)."""
    for stage in spec.stages:
        if not store.stage_complete(run_id, stage.name):
            return stage.name
    return None


# -- enqueueing ------------------------------------------------------------------------
def enqueue_stage(
    store: StateStore,
    run_id: str,
    stage_name: str,
    send: Send,
    *,
    ranks: Sequence[int] | None = None,
) -> int:
    """Plan ``stage_name`` if it is not planned yet, then send a ShardTask for each rank
    not done (and not failed for good). ``ranks`` limits it to those ranks. Returns the
    number of messages sent; 0 while the run waits for a dependency (first stage only)."""
    spec, options, spec_hash = stored_spec(store, run_id)
    stage = spec.stage(stage_name)
    if stage.name == spec.stages[0].name and unmet_dependencies(store, run_id):
        return 0
    plan = store.stage_plan(run_id, stage.name)
    if plan is None:
        planned = plan_stage(stage)
        store.set_stage_plan(
            run_id,
            stage.name,
            planned.tasks,
            planned.shards_json(),
            max_attempts=stage.max_attempts,
        )
        plan = store.stage_plan(run_id, stage.name)
        assert plan is not None
    done = store.done_ranks(run_id, stage.name)
    failed = set(store.failed_ranks(run_id, stage.name))
    wanted = range(plan.tasks) if ranks is None else sorted(set(ranks))
    queue = str(options.get("queue") or DEFAULT_QUEUE)

    def messages() -> Iterator[str]:
        for rank in wanted:
            if rank in done or rank in failed or not 0 <= rank < plan.tasks:
                continue
            files = plan.shards[rank]
            yield ShardTask(
                run_id=run_id,
                stage=stage.name,
                rank=rank,
                world_size=plan.tasks,
                spec_hash=spec_hash,
                files=None if files is None else tuple(FileRange.from_json(f) for f in files),
                queue=queue,
            ).encode()

    return send_all(send, queue, messages())


def release_dependents(store: StateStore, run_id: str, send: Send) -> list[str]:
    """Enqueue the first stage of every run that waited for ``run_id`` and now has all its
    dependencies complete. Returns their ids. Call it when ``run_id`` completes."""
    released: list[str] = []
    if not store.status(run_id).get("complete"):
        return released
    for other in store.list_runs():
        record = store.get_run(other)
        if record is None or run_id not in (record.options.get("depends") or []):
            continue
        spec = PipelineSpec.from_dict(record.spec)
        first = spec.stages[0].name
        if store.stage_plan(other, first) is not None or unmet_dependencies(store, other):
            continue  # already released, or still waiting for another run
        enqueue_stage(store, other, first, send)
        released.append(other)
    return released


def requeue(
    store: StateStore,
    run_id: str,
    send: Send,
    *,
    stage: str | None = None,
    ranks: Sequence[int] | None = None,
    failed: bool = False,
) -> tuple[str | None, list[int]]:
    """Give ranks of a stage (default: the current one) their attempts back and send them
    again: the failed ones (``failed``), the given ``ranks``, or every pending rank.
    Done ranks are never re-run. Returns the stage and the ranks sent."""
    spec, _options, _hash = stored_spec(store, run_id)
    name = stage or current_stage(store, run_id, spec)
    if name is None:
        return None, []
    spec.stage(name)  # unknown stage -> SpecError
    if store.stage_plan(run_id, name) is None:
        return name, []  # not reached yet: the previous stage's completion will enqueue it
    done = store.done_ranks(run_id, name)
    if failed:
        chosen = sorted(set(store.failed_ranks(run_id, name)) | set(store.failures(run_id, name)))
    elif ranks is not None:
        chosen = sorted(set(ranks))
    else:
        chosen = store.pending_ranks(run_id, name)
    chosen = [r for r in chosen if r not in done]
    if not chosen:
        return name, []
    store.uncancel(run_id)
    store.reset_ranks(run_id, name, chosen)
    enqueue_stage(store, run_id, name, send, ranks=chosen)
    return name, chosen


# -- submitting ------------------------------------------------------------------------
def write_executor_json(
    logging_dir: str, run_id: str, spec: PipelineSpec, options: Mapping[str, Any]
) -> None:
    """``logging_dir/executor.json``: the spec and options of the run (the one file of a
    submission; nothing is written per task)."""
    folder = get_datafolder(logging_dir)
    document = {
        "run_id": run_id,
        "spec_hash": spec.spec_hash(),
        "spec": spec.to_json(),
        "options": dict(options),
        "submitted": time.time(),
    }
    tmp = temp_name(EXECUTOR_FILE)
    with folder.open(tmp, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    folder.move(tmp, EXECUTOR_FILE)


def submit_run(
    store: StateStore,
    spec: PipelineSpec | Mapping[str, Any] | str,
    *,
    run_id: str | None = None,
    queue: str = DEFAULT_QUEUE,
    force: bool = False,
    send: Send,
    options: Mapping[str, Any] | None = None,
    depends: Sequence[str] = (),
) -> SubmitResult:
    """Validate, store and enqueue a run (see the module docstring). Re-running it is safe:
    only ranks not done are sent again."""
    pipeline = load_spec(spec)  # SpecError (exit code 2) names the bad field
    rid = check_run_id(run_id or pipeline.name)
    opts: dict[str, Any] = dict(options or {})
    opts["queue"] = queue
    logging_dir = opts.get("logging_dir") or pipeline.logging_dir
    if logging_dir:
        opts["logging_dir"] = str(logging_dir)
    deps = list(dict.fromkeys([*pipeline.depends, *depends, *(opts.get("depends") or [])]))
    for dep in deps:
        check_run_id(dep)
        if dep == rid:
            raise RunNotFoundError(f"run {rid!r} cannot depend on itself")
        if store.get_run(dep) is None:
            raise RunNotFoundError(f"run {rid!r} depends on {dep!r}, which is not submitted")
    if deps:
        opts["depends"] = deps
    else:
        opts.pop("depends", None)
    record = store.get_run(rid)
    if force and record is not None and record.spec_hash != pipeline.spec_hash():
        store.delete_run(rid)  # a new spec: progress made under the old one does not count
    created = store.create_run(
        rid, pipeline.canonical_json(), pipeline.spec_hash(), opts, force=force
    )
    store.uncancel(rid)
    if logging_dir:
        write_executor_json(str(logging_dir), rid, pipeline, opts)
    waiting = tuple(unmet_dependencies(store, rid))
    if waiting:
        return SubmitResult(rid, created, waiting_for=waiting)
    stage = current_stage(store, rid, pipeline)
    if stage is None:
        return SubmitResult(rid, created, complete=True)
    sent = enqueue_stage(store, rid, stage, send)
    return SubmitResult(rid, created, stage=stage, enqueued=sent)
