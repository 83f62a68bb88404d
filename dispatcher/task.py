"""The shard task message: what the dispatcher puts on a queue and a worker decodes.

A message is a frozen dataclass serialized as a JSON object with a ``schema_version``.
It names the run (the worker loads the spec from the state store by run id and checks
its hash), the stage, the rank and world size, and the files (or byte ranges) the
planner assigned to the rank. It never carries code, import paths or pickles: blocks are
named only inside the stored spec, by registry key.

Wire format (schema 1)::

    {"schema_version": 1, "run_id": "news-2024", "stage": "filter", "rank": 3,
     "world_size": 8, "files": [["a.jsonl", null, null], ["b.jsonl", 0, 1048576]],
     "spec_hash": "<sha256>", "queue": "shardyard"}

``files`` is null when the reader takes files rank, rank+N, ... of its own listing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blocks.base import FileRange, TaskContext
from dispatcher.errors import TaskDecodeError

SCHEMA_VERSION = 1
DEFAULT_QUEUE = "shardyard"
_FIELDS = ("schema_version", "run_id", "stage", "rank", "world_size", "files", "spec_hash", "queue")


@dataclass(frozen=True, slots=True)
class ShardTask:
    """One shard of one stage of a run, as sent to a worker."""

    run_id: str
    stage: str
    rank: int
    world_size: int
    spec_hash: str
    files: tuple[FileRange, ...] | None = None
    queue: str = DEFAULT_QUEUE

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise TaskDecodeError(
                f"rank {self.rank} is outside world size {self.world_size} "
                f"for {self.run_id}/{self.stage}"
            )

    # -- encoding -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-able wire form (see the module docstring)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "stage": self.stage,
            "rank": self.rank,
            "world_size": self.world_size,
            "files": None if self.files is None else [f.to_json() for f in self.files],
            "spec_hash": self.spec_hash,
            "queue": self.queue,
        }

    def encode(self) -> str:
        """Compact JSON text of :meth:`to_dict`; this string is the Celery task's only argument."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def decode(cls, raw: str | bytes | Mapping[str, Any]) -> ShardTask:
        """Parse a message; any malformation raises :class:`TaskDecodeError`, never another error."""
        data: Any = raw
        if isinstance(raw, (str, bytes, bytearray)):
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as err:
                raise TaskDecodeError(f"shard message is not valid JSON: {err}") from err
        if not isinstance(data, Mapping):
            raise TaskDecodeError(f"shard message must be a JSON object, got {type(data).__name__}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise TaskDecodeError(
                f"unknown shard message schema_version {version!r} (this worker reads "
                f"{SCHEMA_VERSION}); upgrade the worker or re-submit the run"
            )
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise TaskDecodeError(f"unknown fields in shard message: {unknown}")
        run_id = _field(data, "run_id", str)
        stage = _field(data, "stage", str)
        rank = _field(data, "rank", int)
        world_size = _field(data, "world_size", int)
        spec_hash = _field(data, "spec_hash", str)
        queue = data.get("queue", DEFAULT_QUEUE)
        if not isinstance(queue, str) or not queue:
            raise TaskDecodeError(f"field 'queue' must be a non-empty string, got {queue!r}")
        if world_size < 1:
            raise TaskDecodeError(f"field 'world_size' must be at least 1, got {world_size}")
        files = _files(data.get("files"))
        return cls(
            run_id=run_id,
            stage=stage,
            rank=rank,
            world_size=world_size,
            spec_hash=spec_hash,
            files=files,
            queue=queue,
        )

    # -- use ------------------------------------------------------------------------
    def context(self, *, attempt: int = 1) -> TaskContext:
        """The :class:`TaskContext` the blocks of this shard run with."""
        return TaskContext(
            run_id=self.run_id,
            stage=self.stage,
            rank=self.rank,
            world_size=self.world_size,
            attempt=attempt,
            files=self.files,
        )

    @property
    def label(self) -> str:
        """``run/stage/rank`` for logs and error messages."""
        return f"{self.run_id}/{self.stage}/{self.rank}"


def _field(data: Mapping[str, Any], key: str, kind: type) -> Any:
    if key not in data:
        raise TaskDecodeError(f"shard message lacks field {key!r}")
    value = data[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise TaskDecodeError(
            f"field {key!r} must be {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    if kind is str and not value:
        raise TaskDecodeError(f"field {key!r} must not be empty")
    return value


def _files(raw: Any) -> tuple[FileRange, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise TaskDecodeError(f"field 'files' must be a list or null, got {type(raw).__name__}")
    out: list[FileRange] = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            out.append(FileRange(item))
            continue
        if not isinstance(item, list) or len(item) != 3:
            raise TaskDecodeError(f"files[{i}] must be [path, start, end], got {item!r}")
        path, start, end = item
        if not isinstance(path, str) or not path:
            raise TaskDecodeError(f"files[{i}][0] must be a path string, got {path!r}")
        for name, value in (("start", start), ("end", end)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TaskDecodeError(f"files[{i}] {name} must be an integer or null")
        if (start is None) != (end is None):
            raise TaskDecodeError(f"files[{i}] needs both start and end, or neither")
        if start is not None and not 0 <= start <= end:
            raise TaskDecodeError(f"files[{i}] has an invalid byte range [{start}, {end})")
        out.append(FileRange(path, start, end))
    return tuple(out)
