"""Run one shard of a stage in this process: chain the blocks, drain, close, commit.

``execute`` drains the chain and closes every writer, leaving outputs under temporary
names; ``commit`` renames them into place. The distributed runner checks its lease
between the two; ``run_pipeline`` does both for in-process use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from blocks.base import DocumentsSource, FunctionStep, PipelineStep, TaskContext
from blocks.document import Document
from blocks.metrics import PipelineStats
from blocks.readers.base import BaseDiskReader
from blocks.spec import PipelineSpec, StageSpec, build_pipeline

Step = PipelineStep | Callable[..., Iterable[Document] | None] | list[Document]


def as_steps(pipeline: Sequence[Step]) -> list[PipelineStep]:
    """Wrap plain functions and a leading list of Documents as steps."""
    steps: list[PipelineStep] = []
    for i, step in enumerate(pipeline):
        if isinstance(step, PipelineStep):
            steps.append(step)
        elif isinstance(step, list):
            if i != 0:
                raise ValueError("a list of Documents can only be the first element of a pipeline")
            steps.append(DocumentsSource(step))
        elif callable(step):
            steps.append(FunctionStep(step))
        else:
            raise TypeError(f"cannot use {step!r} as a pipeline step")
    return steps


def _all_steps(steps: Sequence[PipelineStep]) -> Iterator[PipelineStep]:
    for step in steps:
        yield step
        yield from _all_steps(step.children())


def execute(
    steps: Sequence[PipelineStep],
    ctx: TaskContext,
    *,
    on_document: Callable[[int], None] | None = None,
) -> PipelineStats:
    """Drain the pipeline for one shard and close its outputs (not yet committed).

    On any exception every block's temporary outputs are removed and the error re-raised.
    ``on_document(n)`` is called every 1000 documents leaving the last block (progress).
    """
    everything = list(_all_steps(steps))
    # The planner assigns files (ctx.files) to the first reader of the stage only; a later
    # reader of the same stage lists its own folder (rank::world_size) as in DataTrove.
    planned = next((s for s in steps if isinstance(s, BaseDiskReader)), None)
    unplanned = replace(ctx, files=None) if ctx.files is not None else ctx
    for step in everything:
        step.bind(ctx if step is planned else unplanned)
    try:
        stream: Iterable[Document] | None = None
        for step in steps:
            stream = step.run(stream, ctx.rank, ctx.world_size)
        count = 0
        for _ in stream or ():
            count += 1
            if on_document is not None and count % 1000 == 0:
                on_document(1000)
        if on_document is not None and count % 1000:
            on_document(count % 1000)
        for step in everything:
            step.close()
    except BaseException:
        abort(steps)
        raise
    return PipelineStats(blocks=[s.stats for s in steps], shards=1)


def commit(steps: Sequence[PipelineStep]) -> None:
    """Move every output of the shard to its final name."""
    for step in _all_steps(steps):
        step.commit()


def abort(steps: Sequence[PipelineStep]) -> None:
    """Remove every temporary output of the shard; never raises."""
    for step in _all_steps(steps):
        try:
            step.abort()
        except Exception:
            pass


def run_pipeline(pipeline: Sequence[Step], ctx: TaskContext | None = None) -> PipelineStats:
    """Run one shard in-process and commit its outputs; returns the shard's stats."""
    steps = as_steps(pipeline)
    context = ctx or TaskContext()
    stats = execute(steps, context)
    try:
        commit(steps)
    except BaseException:
        abort(steps)
        raise
    return stats


def run_shard(
    spec: PipelineSpec,
    stage: str | int,
    rank: int,
    world_size: int | None = None,
    *,
    run_id: str = "local",
    extra: dict[str, Any] | None = None,
) -> PipelineStats:
    """Build a stage's blocks from the spec and run shard ``rank`` of it in this process."""
    stage_spec: StageSpec = spec.stage(stage)
    size = world_size if world_size is not None else stage_spec.tasks
    ctx = TaskContext(
        run_id=run_id, stage=stage_spec.name, rank=rank, world_size=size, extra=dict(extra or {})
    )
    return run_pipeline(build_pipeline(stage_spec), ctx)
