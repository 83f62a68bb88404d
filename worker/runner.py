"""Run one shard task against the state store: claim, lease, run blocks, commit, complete.

The protocol that makes at-least-once delivery safe:

1. load the run's spec from the store (a stale message, whose spec hash differs, is dropped);
2. ``claim``: a finished rank is skipped, a rank leased by a live worker is "busy" (retry
   later), a rank whose attempts are spent is "failed"; else this worker holds the lease;
3. a heartbeat thread renews the lease; if it is lost (taken over, run cancelled) a flag
   is set, the blocks stop at the next document and the outputs are discarded;
4. build the blocks from the stored spec, ``execute`` them (outputs under temporary names),
   check the lease, ``commit`` the outputs, then ``complete`` (stats + done, atomically);
5. whoever completes the stage's last rank (guarded by ``mark_stage_advanced``) enqueues
   the next stage (after the last one: the runs depending on this run) and merges the
   stage's stats into ``logging_dir/stats.json``.

A failure aborts the outputs, records error + traceback tail, and raises
:class:`ShardFailedError` (``retryable`` while attempts remain). A stop request
(SIGTERM/SIGUSR1 preemption, ``stop_event``) gives the shard back without using an attempt.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from blocks.base import PipelineStep
from blocks.document import Document
from blocks.errors import ShardyardError
from blocks.pipeline import abort, commit, execute
from blocks.spec import PipelineSpec, StageSpec, build_pipeline
from dispatcher.errors import LeaseLostError, ShardFailedError, ShardPreemptedError
from dispatcher.state import Claim, RunRecord, StateStore
from dispatcher.task import ShardTask
from worker.logging import ShardLog

Send = Callable[[str, str], Any]
OutcomeStatus = Literal[
    "completed", "skipped", "busy", "failed", "cancelled", "lease_lost", "preempted", "stale"
]
TRACEBACK_TAIL = 4000


@dataclass(frozen=True)
class Outcome:
    """What ``run_shard`` did. ``retry_in`` (seconds) is set for ``busy``: when the other
    worker's lease runs out. ``stats`` is the shard's stats document when it completed."""

    status: OutcomeStatus
    task: ShardTask
    attempt: int = 0
    retry_in: float = 0.0
    stage_done: bool = False
    advanced: bool = False
    stats: dict[str, Any] | None = field(default=None, repr=False)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class _LeaseGuard(PipelineStep):
    """Placed after the first block: stops the shard between documents when the lease is
    lost or the worker must stop. Not a registered block (leading underscore)."""

    type = "guard"

    def __init__(self, lost: threading.Event, stop: threading.Event, task: ShardTask) -> None:
        super().__init__()
        self.lost = lost
        self.stop = stop
        self.task = task

    def check(self) -> None:
        t = self.task
        if self.stop.is_set():
            raise ShardPreemptedError(
                "worker stopping; shard given back", run_id=t.run_id, stage=t.stage, rank=t.rank
            )
        if self.lost.is_set():
            raise LeaseLostError(
                "lease lost; outputs discarded", run_id=t.run_id, stage=t.stage, rank=t.rank
            )

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        self.check()
        for doc in data or ():
            self.check()
            yield doc


class _Heartbeat(threading.Thread):
    """Renews the lease every ``every`` seconds; sets ``lost`` when renewal is refused.
    A Redis outage is ridden out: nobody else can claim while Redis is down either."""

    def __init__(
        self,
        store: StateStore,
        task: ShardTask,
        token: str,
        lease: float,
        every: float,
        log: ShardLog,
    ) -> None:
        super().__init__(name=f"heartbeat-{task.label}", daemon=True)
        self.store, self.task, self.token = store, task, token
        self.lease, self.every, self.log = lease, every, log
        self.lost = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        t = self.task
        while not self.done.wait(self.every):
            try:
                if not self.store.renew(t.run_id, t.stage, t.rank, self.token, self.lease):
                    self.lost.set()
                    self.log.warning("lease_lost")
                    return
            except Exception as err:  # Redis down: keep trying, the lease is not ours to lose yet
                self.log.warning("lease_renew_failed", error=str(err))
            self.log.flush()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=5)


_SPECS: dict[str, PipelineSpec] = {}
_SPECS_MAX = 32


def load_stage(
    record: RunRecord, task: ShardTask
) -> tuple[PipelineSpec, StageSpec, dict[str, Any]]:
    """The run's validated spec, the task's stage and the run options (SpecError if bad:
    unknown block or parameter, missing extra, no such stage).

    Validated specs are cached by their hash (a hash of the canonical spec JSON, so the
    same hash is the same spec): a worker running thousands of small shards of one run
    validates it once. Failures are not cached: a plugin may be fixed and reloaded."""
    spec = _SPECS.get(record.spec_hash)
    if spec is None:
        spec = PipelineSpec.from_dict(record.spec)
        if len(_SPECS) >= _SPECS_MAX:
            _SPECS.pop(next(iter(_SPECS)))
        _SPECS[record.spec_hash] = spec
    return spec, spec.stage(task.stage), record.options


def run_shard(
    task: ShardTask,
    store: StateStore,
    *,
    worker_id: str | None = None,
    lease_seconds: float = 60.0,
    heartbeat_every: float | None = None,
    send: Send | None = None,
    stop_event: threading.Event | None = None,
) -> Outcome:
    """Run ``task`` once under a lease; see the module docstring for the protocol."""
    worker = worker_id or default_worker_id()
    stop = stop_event or threading.Event()
    t = task
    log = ShardLog(
        run_id=t.run_id,
        stage=t.stage,
        rank=t.rank,
        worker=worker,
        sink=lambda lines: store.append_log(t.run_id, t.stage, t.rank, lines),
        clock=store.clock,
    )
    record = store.get_run(t.run_id)
    if record is None or record.spec_hash != t.spec_hash:
        # A message of a deleted run or of a spec replaced with --force: the current
        # submission has its own messages. Nothing to record against.
        log.warning("stale_message", stored_hash=record.spec_hash if record else None)
        return Outcome("stale", t)
    spec_error: BaseException | None = None
    spec: PipelineSpec | None = None
    stage: StageSpec | None = None
    options: dict[str, Any] = record.options
    try:
        spec, stage, options = load_stage(record, t)
    except ShardyardError as err:  # unknown block, missing extra: recorded once claimed
        spec_error = err
    claim = store.claim(
        t.run_id,
        t.stage,
        t.rank,
        worker,
        lease_seconds,
        max_attempts=stage.max_attempts if stage is not None else None,
    )
    if not claim.acquired:
        return _not_acquired(claim, t, store, spec, options, send, log)
    log.info("claimed", attempt=claim.attempt)
    if spec_error is not None or stage is None or spec is None:
        # Retrying cannot fix a spec this worker cannot build (unknown block, missing extra).
        _fail(store, t, claim, spec_error or RuntimeError("no stage"), worker, log, final=True)
        raise ShardFailedError(
            f"spec does not build: {spec_error}",
            run_id=t.run_id,
            stage=t.stage,
            rank=t.rank,
            attempt=claim.attempt,
            retryable=False,
        ) from spec_error
    beat = _Heartbeat(
        store, t, claim.token, lease_seconds, heartbeat_every or max(lease_seconds / 3, 0.05), log
    )
    beat.start()
    started = time.perf_counter()
    steps: list[PipelineStep] = []
    try:
        steps = build_pipeline(stage)
        guard = _LeaseGuard(beat.lost, stop, t)
        chain = [*steps[:1], guard, *steps[1:]]
        stats = execute(chain, t.context(attempt=claim.attempt))
        stats.blocks = [b for b in stats.blocks if b is not guard.stats]
        guard.check()
        if not store.holds_lease(t.run_id, t.stage, t.rank, claim.token):
            raise LeaseLostError("lease taken over", run_id=t.run_id, stage=t.stage, rank=t.rank)
        commit(steps)
    except ShardPreemptedError:
        beat.stop()
        abort(steps)
        store.release(t.run_id, t.stage, t.rank, claim.token, refund_attempt=True)
        log.warning("preempted", attempt=claim.attempt)
        log.flush()
        return Outcome("preempted", t, attempt=claim.attempt)
    except LeaseLostError:
        beat.stop()
        abort(steps)
        cancelled = store.is_cancelled(t.run_id)
        if cancelled:
            store.release(t.run_id, t.stage, t.rank, claim.token, refund_attempt=True)
        log.warning("cancelled" if cancelled else "lease_lost", attempt=claim.attempt)
        log.flush()
        return Outcome("cancelled" if cancelled else "lease_lost", t, attempt=claim.attempt)
    except Exception as err:
        beat.stop()
        abort(steps)
        final = claim.attempt >= stage.max_attempts or (
            isinstance(err, ShardyardError) and (err.exit_code == 2)
        )
        _fail(store, t, claim, err, worker, log, final=final)
        raise ShardFailedError(
            f"{type(err).__name__}: {err}",
            run_id=t.run_id,
            stage=t.stage,
            rank=t.rank,
            attempt=claim.attempt,
            retryable=not final,
        ) from err
    beat.stop()
    stats_doc = stats.to_dict()
    result = store.complete(
        t.run_id, t.stage, t.rank, claim.token, json.dumps(stats_doc, separators=(",", ":"))
    )
    elapsed = round(time.perf_counter() - started, 3)
    if not (result.completed or result.already_done):
        log.warning("lease_lost_at_complete", attempt=claim.attempt)
        log.flush()
        return Outcome("lease_lost", t, attempt=claim.attempt)
    log.info("completed", attempt=claim.attempt, seconds=elapsed, done=result.done)
    advanced = False
    if result.stage_done:
        advanced = advance_stage(store, t, spec, options, send, log)
    log.flush()
    return Outcome(
        "completed",
        t,
        attempt=claim.attempt,
        stage_done=result.stage_done,
        advanced=advanced,
        stats=stats_doc,
    )


def _not_acquired(
    claim: Claim,
    t: ShardTask,
    store: StateStore,
    spec: PipelineSpec | None,
    options: dict[str, Any],
    send: Send | None,
    log: ShardLog,
) -> Outcome:
    if claim.status == "busy":
        retry_in = max((claim.lease_expires or 0.0) - store.clock(), 0.0)
        return Outcome("busy", t, attempt=claim.attempt, retry_in=retry_in)
    if claim.status == "done":
        # A duplicate delivery. If the stage is complete but nobody acted on it (the worker
        # that finished it died before doing so), this one does.
        advanced = False
        if spec is not None and store.stage_complete(t.run_id, t.stage):
            advanced = advance_stage(store, t, spec, options, send, log)
            log.flush()
        return Outcome("skipped", t, attempt=claim.attempt, stage_done=True, advanced=advanced)
    status: OutcomeStatus = "cancelled" if claim.status == "cancelled" else "failed"
    return Outcome(status, t, attempt=claim.attempt)


def _fail(
    store: StateStore,
    t: ShardTask,
    claim: Claim,
    err: BaseException,
    worker: str,
    log: ShardLog,
    *,
    final: bool,
) -> None:
    tail = "".join(traceback.format_exception(err))[-TRACEBACK_TAIL:]
    store.record_failure(
        t.run_id,
        t.stage,
        t.rank,
        claim.token,
        f"{type(err).__name__}: {err}",
        tail,
        worker,
        claim.attempt,
        final=final,
    )
    log.error("failed", attempt=claim.attempt, final=final, error=f"{type(err).__name__}: {err}")
    log.flush()


def advance_stage(
    store: StateStore,
    t: ShardTask,
    spec: PipelineSpec,
    options: dict[str, Any],
    send: Send | None,
    log: ShardLog,
) -> bool:
    """Once per stage (guarded in Redis): enqueue the next stage (or, after the last stage,
    the runs that depend on this one), then merge this stage's stats into
    ``logging_dir/stats.json``. Returns whether this caller did it. If enqueueing fails the
    guard is cleared so that a later delivery of a rank of this stage tries again."""
    if store.stage_advanced(t.run_id, t.stage) or not store.mark_stage_advanced(t.run_id, t.stage):
        return False
    names = [s.name for s in spec.stages]
    index = names.index(t.stage)
    if index + 1 < len(names):
        nxt = names[index + 1]
        if send is None:
            log.warning("next_stage_not_enqueued", next_stage=nxt, reason="no sender")
        else:
            from dispatcher.submit import enqueue_stage

            try:
                enqueue_stage(store, t.run_id, nxt, send)
            except BaseException:
                # let a later duplicate delivery (or a re-submit) try again
                store.clear_stage_advanced(t.run_id, t.stage)
                raise
            log.info("next_stage_enqueued", next_stage=nxt)
    elif send is not None:
        # the run is complete: start the runs that were waiting for it (``depends``)
        from dispatcher.submit import release_dependents

        try:
            released = release_dependents(store, t.run_id, send)
        except BaseException:
            store.clear_stage_advanced(t.run_id, t.stage)
            raise
        if released:
            log.info("dependents_released", runs=released)
    logging_dir = options.get("logging_dir") or spec.logging_dir
    if logging_dir:
        try:
            from dispatcher.merge import merge_stage

            merge_stage(store, t.run_id, t.stage, str(logging_dir))
            log.info("stats_merged", logging_dir=str(logging_dir))
        except Exception as err:  # stats can be merged again on demand (`shardyard stats`)
            log.warning("stats_merge_failed", error=f"{type(err).__name__}: {err}")
    return True
