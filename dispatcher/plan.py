"""Plan a stage: list its inputs once and decide which files (or byte ranges) each rank reads.

Two strategies, chosen per stage in the spec (``sharding:``):

``round_robin``
    DataTrove's contract: the sorted listing is dealt out, rank ``i`` takes files ``i, i+N,
    i+2N, ...`` with ``N = tasks`` from the spec (``--tasks`` overrides it). Ranks may be
    empty when there are fewer files than tasks, exactly as in DataTrove.

``by_size``
    Files are packed, in listing order, into shards of about ``target_shard_bytes``. A file
    larger than the target is cut into byte ranges when its reader can read ranges (plain
    JSONL: a line belongs to the range its first byte falls in; WARC.gz: a record belongs
    to the range its gzip member starts in). The cuts are even byte offsets, found without
    reading the file (see :func:`reader_splitter`). The number of tasks follows from the
    data; ``tasks`` is ignored.

Either way the listing happens once, here, and each rank's assignment travels in its
ShardTask as ``files`` so workers never list the input again. A stage without a disk reader
(a later stage fed by a previous one's outputs through its own reader is still a reader
stage) simply has ``tasks`` ranks with no file assignment.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from blocks import registry
from blocks.base import FileRange, PipelineStep
from blocks.readers.base import BaseDiskReader
from blocks.spec import StageSpec, build_block

Assignment = tuple[FileRange, ...] | None
#: ``(path, size, target) -> [(start, end), ...]`` covering ``[0, size)`` in order
Splitter = Callable[[str, int, int], list[tuple[int, int]]]


@dataclass(frozen=True)
class StagePlan:
    """Which inputs each rank of a stage reads. ``len(shards) == tasks``."""

    stage: str
    tasks: int
    shards: tuple[Assignment, ...]
    sharding: str = "round_robin"
    input_files: int = 0
    input_bytes: int = 0

    def shards_json(self) -> list[list[list[Any]] | None]:
        """Per-rank assignments in the JSON form of :class:`ShardTask` ``files``."""
        return [None if s is None else [f.to_json() for f in s] for s in self.shards]

    def assignment(self, rank: int) -> Assignment:
        return self.shards[rank]


# -- finding the reader --------------------------------------------------------------
def first_disk_reader(steps: Sequence[Any]) -> BaseDiskReader | None:
    """The first block of a built pipeline that lists files, or None."""
    for step in steps:
        if isinstance(step, BaseDiskReader):
            return step
    return None


def stage_reader(stage: StageSpec) -> BaseDiskReader | None:
    """Build only the first disk reader of a stage (other blocks are not instantiated)."""
    for block in stage.pipeline:
        cls = registry.get_block(block.name, path=block.path)
        if isinstance(cls, type) and issubclass(cls, BaseDiskReader):
            reader = build_block(block)
            assert isinstance(reader, BaseDiskReader)
            return reader
    return None


# -- splitting big files -------------------------------------------------------------
def even_ranges(size: int, target: int) -> list[tuple[int, int]]:
    """Cut ``[0, size)`` into ``ceil(size / target)`` ranges of nearly equal length."""
    if size <= 0:
        return [(0, max(size, 0))]
    pieces = max(1, math.ceil(size / max(1, target)))
    bounds = [size * i // pieces for i in range(pieces + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(pieces) if bounds[i] < bounds[i + 1]]


def group_offsets(offsets: Sequence[int], size: int, target: int) -> list[tuple[int, int]]:
    """Group record offsets (gzip members) into ranges of about ``target`` bytes.

    Every range starts at a record offset and the last ends at ``size``, so a reader that
    takes "records starting in ``[start, end)``" sees each record exactly once.
    """
    starts = sorted({o for o in offsets if 0 <= o < size} | {0})
    cuts = [0]
    for off in starts[1:]:
        if off - cuts[-1] >= target:
            cuts.append(off)
    cuts.append(size)
    return [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]


def _warc_offsets_helper() -> Callable[..., Sequence[int]] | None:
    """The readers' gzip-member offset finder, when the WARC reader module provides one."""
    try:
        module = importlib.import_module("blocks.readers.warc")
    except ImportError:
        return None
    helper = getattr(module, "gzip_member_offsets", None)
    return helper if callable(helper) else None


def reader_splitter(reader: BaseDiskReader, *, exact_member_offsets: bool = False) -> Splitter:
    """How to cut a big file of this reader into byte ranges.

    Even ranges by default: readers that split (JSONL lines, WARC.gz gzip members) take
    the records that *start* in a range and resynchronize at its start, so no scan of the
    file is needed at planning time. That matters at crawl scale: every 1 GB WARC.gz is
    above the default target, and finding its member offsets means inflating it. With
    ``exact_member_offsets`` the planner asks the WARC reader for the offsets
    (``gzip_member_offsets``) and cuts exactly on them.
    """

    def split(path: str, size: int, target: int) -> list[tuple[int, int]]:
        if exact_member_offsets and path.lower().endswith(".gz"):
            helper = _warc_offsets_helper()
            if helper is not None:
                return group_offsets(list(helper(reader.data_folder, path)), size, target)
        return even_ranges(size, target)

    return split


# -- strategies ------------------------------------------------------------------------
def round_robin(files: Sequence[tuple[str, int]], tasks: int) -> list[list[FileRange]]:
    """Rank ``i`` takes files ``i, i+tasks, ...`` of the listing (whole files)."""
    if tasks < 1:
        raise ValueError(f"tasks must be at least 1, got {tasks}")
    return [[FileRange(path) for path, _ in files[rank::tasks]] for rank in range(tasks)]


def by_size(
    files: Sequence[tuple[str, int]],
    target_shard_bytes: int,
    *,
    can_split: Callable[[str], bool] = lambda _path: False,
    splitter: Splitter = lambda _path, size, target: even_ranges(size, target),
) -> list[list[FileRange]]:
    """Pack files, in order, into shards of about ``target_shard_bytes``.

    A splittable file larger than the target becomes several ranges (each its own piece);
    pieces fill the current shard until the next one would overflow it. A file of unknown
    size (-1) counts as one full shard. Always returns at least one (possibly empty) shard.
    """
    if target_shard_bytes < 1:
        raise ValueError(f"target_shard_bytes must be positive, got {target_shard_bytes}")
    pieces: list[tuple[FileRange, int]] = []
    for path, size in files:
        if size < 0:
            pieces.append((FileRange(path), target_shard_bytes))
        elif size > target_shard_bytes and can_split(path):
            ranges = splitter(path, size, target_shard_bytes)
            if len(ranges) <= 1:
                pieces.append((FileRange(path), size))
            else:
                pieces.extend((FileRange(path, a, b), b - a) for a, b in ranges)
        else:
            pieces.append((FileRange(path), size))
    shards: list[list[FileRange]] = [[]]
    filled = 0
    for piece, size in pieces:
        if shards[-1] and filled + size > target_shard_bytes:
            shards.append([])
            filled = 0
        shards[-1].append(piece)
        filled += size
    return shards


# -- planning a stage ------------------------------------------------------------------
def plan_reader(
    reader: BaseDiskReader | None,
    *,
    stage: str,
    tasks: int,
    sharding: str = "round_robin",
    target_shard_bytes: int = 256 * 1024 * 1024,
    exact_member_offsets: bool = False,
) -> StagePlan:
    """Plan a stage given its (already built) first disk reader, or None for no reader."""
    if reader is None:
        return StagePlan(stage=stage, tasks=tasks, shards=(None,) * tasks, sharding=sharding)
    files = reader.list_files()
    known = sum(size for _, size in files if size > 0)
    if sharding == "round_robin":
        assigned = round_robin(files, tasks)
    elif sharding == "by_size":
        splittable = bool(getattr(reader, "splittable", False))
        assigned = by_size(
            files,
            target_shard_bytes,
            can_split=(lambda p: splittable and reader.can_split(p)),
            splitter=reader_splitter(reader, exact_member_offsets=exact_member_offsets),
        )
    else:
        raise ValueError(f"unknown sharding {sharding!r}")
    return StagePlan(
        stage=stage,
        tasks=len(assigned),
        shards=tuple(tuple(a) for a in assigned),
        sharding=sharding,
        input_files=len(files),
        input_bytes=known,
    )


def plan_stage(stage: StageSpec, *, tasks: int | None = None) -> StagePlan:
    """List a stage's input once and assign it to ranks (``tasks`` overrides the spec's)."""
    return plan_reader(
        stage_reader(stage),
        stage=stage.name,
        tasks=tasks if tasks is not None else stage.tasks,
        sharding=stage.sharding,
        target_shard_bytes=stage.target_shard_bytes,
    )


def plan_steps(
    steps: Sequence[PipelineStep],
    *,
    stage: str = "main",
    tasks: int = 1,
    sharding: str = "round_robin",
    target_shard_bytes: int = 256 * 1024 * 1024,
    exact_member_offsets: bool = False,
) -> StagePlan:
    """Plan a pipeline built in Python (steps already built)."""
    return plan_reader(
        first_disk_reader(steps),
        stage=stage,
        tasks=tasks,
        sharding=sharding,
        target_shard_bytes=target_shard_bytes,
        exact_member_offsets=exact_member_offsets,
    )
