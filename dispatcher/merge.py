"""Merge per-shard stats into ``stats.json``, in any order, with exact totals.

Three sources of per-shard stats, one merge (:func:`blocks.metrics.merge_all`):

- the state store (the worker's ``complete`` wrote each rank's stats once):
  :func:`merge_stage` (called by the worker that completes a stage's last rank) and
  :func:`merge_run` (``shardyard stats RUN``);
- a folder of per-shard JSON files (``shardyard merge-stats DIR -o stats.json``): shardyard's
  own format, or DataTrove's (``logging_dir/stats/00000.json``), converted on the way in.

``stats.json`` is one :class:`PipelineStats` document for a single-stage run. A multi-stage
run keys it by stage::

    {"format": "shardyard.stages/1",
     "stages": {"signatures": {<PipelineStats>}, "buckets": {<PipelineStats>}}}

It is written under a temporary name and renamed into place, so a reader never sees half
a file; ``logging_dir`` may be any fsspec URL (``s3://...``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from blocks.errors import ShardyardError
from blocks.io import get_datafolder, temp_name
from blocks.metrics import FORMAT, PipelineStats, merge_all

STAGES_FORMAT = "shardyard.stages/1"
STATS_FILE = "stats.json"
_FIXED = 1074  # the fixed-point scale of blocks.metrics: every float is an int multiple of 2**-1074


class StatsError(ShardyardError):
    """A stats file cannot be read or the stats of a stage cannot be merged."""

    exit_code = 2


class _StatsStore(Protocol):
    """The part of :class:`dispatcher.state.StateStore` merging needs."""

    def stats(self, run_id: str, stage: str) -> dict[int, str]: ...

    def stage_names(self, run_id: str) -> list[str]: ...


# -- reading stats documents -----------------------------------------------------------
def _fixed(value: Fraction) -> int:
    return round(value * (1 << _FIXED))


def _datatrove_metric(raw: Any) -> dict[str, Any]:
    """One DataTrove metric (a bare number, or ``{total, n, mean, min, max, variance}``).

    DataTrove drops fields it considers redundant: a bare integral number ``x`` means ``x``
    values of 1 (a counter); a missing ``n`` means ``total`` when ``mean`` is 1, else 1;
    missing ``min``/``max`` equal the mean. The sum of squares is rebuilt from the sample
    variance, so counts and totals merge exactly and variances as exactly as DataTrove's
    floats allow.
    """
    if isinstance(raw, Mapping):
        total = raw.get("total", 0)
        mean = raw.get("mean", 1)
        n = int(raw.get("n", total if mean == 1 else 1))
        low, high = raw.get("min", mean), raw.get("max", mean)
        variance = Fraction(raw.get("variance", 0.0))
        unit = raw.get("unit")
    else:
        total = raw if isinstance(raw, (int, float)) and not isinstance(raw, bool) else 0
        counter = float(total).is_integer()
        n = int(total) if counter else 1
        low = high = 1 if counter else total
        variance, unit = Fraction(0), None
    if n <= 0:
        return {"n": 0, "total": 0}
    s = Fraction(total)
    sum_sq = variance * (n - 1) + s * s / n
    out: dict[str, Any] = {"n": n, "total": total, "min": low, "max": high}
    if unit not in (None, "doc"):
        out["unit"] = unit
    out["exact"] = {"scale": _FIXED, "sum": str(_fixed(s)), "sum_sq": str(_fixed(sum_sq))}
    return out


def from_datatrove(data: list[Any]) -> PipelineStats:
    """Convert DataTrove's stats JSON (a list of ``{name, time_stats, stats}``)."""
    blocks = []
    for block in data:
        if not isinstance(block, Mapping) or "name" not in block:
            raise StatsError("not a DataTrove stats list: every item needs a 'name'")
        time_stats = _datatrove_metric(block.get("time_stats", 0))
        time_stats["unit"] = "s"
        blocks.append(
            {
                "name": block["name"],
                "type": "",
                "time": time_stats,
                "stats": {k: _datatrove_metric(v) for k, v in (block.get("stats") or {}).items()},
            }
        )
    return PipelineStats.from_dict({"format": FORMAT, "shards": 1, "blocks": blocks})


def parse_stats(data: Any, *, source: str = "") -> PipelineStats:
    """A stats document in shardyard's format or DataTrove's."""
    where = f" in {source}" if source else ""
    if isinstance(data, list):
        return from_datatrove(data)
    if isinstance(data, Mapping) and data.get("format") == FORMAT:
        try:
            return PipelineStats.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            raise StatsError(f"malformed stats document{where}: {err}") from err
    raise StatsError(f"not a shardyard or DataTrove stats document{where}")


def merge_documents(docs: Iterable[str | Mapping[str, Any] | list[Any]]) -> PipelineStats:
    """Merge stats documents (JSON text or decoded); the result is order independent."""

    def parsed() -> Iterable[PipelineStats]:
        for doc in docs:
            yield parse_stats(json.loads(doc) if isinstance(doc, str) else doc)

    try:
        return merge_all(parsed())
    except ValueError as err:  # blocks differ: stats of different pipelines
        raise StatsError(str(err)) from err


# -- folders of per-shard files --------------------------------------------------------
def stats_files(directory: str | Path, *, exclude: str | Path | None = None) -> list[Path]:
    """Per-shard stats files of a folder: ``DIR/stats/*.json`` (DataTrove's layout) when that
    folder exists, else ``DIR/*.json``; a merged ``stats.json`` and ``exclude`` are skipped."""
    root = Path(directory)
    if not root.is_dir():
        raise StatsError(f"{root} is not a folder")
    folder = root / "stats" if (root / "stats").is_dir() else root
    skip = Path(exclude).resolve() if exclude is not None else None
    return sorted(
        p
        for p in folder.glob("*.json")
        if p.is_file() and p.name != STATS_FILE and (skip is None or p.resolve() != skip)
    )


def merge_stats_dir(directory: str | Path, output: str | Path | None = None) -> PipelineStats:
    """Merge every per-shard stats file of ``directory``; write ``output`` when given."""
    files = stats_files(directory, exclude=output)
    if not files:
        raise StatsError(f"no per-shard stats files (*.json) in {directory}")

    def docs() -> Iterable[Any]:
        for path in files:
            try:
                yield parse_stats(json.loads(path.read_text(encoding="utf-8")), source=str(path))
            except json.JSONDecodeError as err:
                raise StatsError(f"{path} is not JSON: {err}") from err

    try:
        merged = merge_all(docs())
    except ValueError as err:
        raise StatsError(f"{directory}: {err}") from err
    if output is not None:
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(merged.to_dict(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(out)
    return merged


# -- stats.json in a logging dir ----------------------------------------------------------
def read_stats_file(logging_dir: str) -> dict[str, Any] | None:
    """The current ``stats.json`` of a logging dir, or None."""
    folder = get_datafolder(logging_dir)
    if not folder.exists(STATS_FILE):
        return None
    with folder.open(STATS_FILE, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def write_stats_file(logging_dir: str, document: Mapping[str, Any]) -> str:
    """Write ``stats.json`` atomically (temporary name, then rename); returns its path."""
    folder = get_datafolder(logging_dir)
    tmp = temp_name(STATS_FILE)
    with folder.open(tmp, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
    folder.move(tmp, STATS_FILE)
    return folder.resolve(STATS_FILE)


def stats_document(stages: Mapping[str, PipelineStats], stage_names: list[str]) -> dict[str, Any]:
    """The ``stats.json`` document: plain for one stage, stage-keyed for several."""
    if len(stage_names) <= 1:
        only = stages.get(stage_names[0]) if stage_names else None
        return (only or PipelineStats(shards=0)).to_dict()
    return {
        "format": STAGES_FORMAT,
        "stages": {name: stages[name].to_dict() for name in stage_names if name in stages},
    }


def _finite(stats: PipelineStats) -> PipelineStats:
    for block in stats.blocks:
        for metric in (block.time, *block.stats.values()):
            if isinstance(metric.total, float) and not math.isfinite(metric.total):
                raise StatsError(f"non-finite total in {block.name}")
    return stats


def stage_stats(store: _StatsStore, run_id: str, stage: str) -> PipelineStats:
    """The merged stats of every completed rank of a stage (empty before any completes)."""
    try:
        return _finite(merge_documents(store.stats(run_id, stage).values()))
    except StatsError as err:
        raise StatsError(f"{run_id}/{stage}: {err}") from err


def merge_stage(
    store: _StatsStore, run_id: str, stage_name: str, logging_dir: str
) -> PipelineStats:
    """Merge a stage's per-shard stats from the store into ``logging_dir/stats.json``.

    Called by the worker that completed the stage's last rank. For a multi-stage run the
    other stages' entries already in the file are kept (they were merged when their stage
    completed), so each stage is read from Redis once.
    """
    names = store.stage_names(run_id) or [stage_name]
    merged = stage_stats(store, run_id, stage_name)
    stages: dict[str, PipelineStats] = {}
    if len(names) > 1:
        current = read_stats_file(logging_dir)
        if current and current.get("format") == STAGES_FORMAT:
            for name, doc in (current.get("stages") or {}).items():
                if name in names and name != stage_name:
                    stages[name] = PipelineStats.from_dict(doc)
    stages[stage_name] = merged
    write_stats_file(logging_dir, stats_document(stages, names))
    return merged


def merge_run(
    store: _StatsStore, run_id: str, logging_dir: str | None = None
) -> dict[str, PipelineStats]:
    """Merge every stage of a run from the store (on demand: ``shardyard stats``); write
    ``logging_dir/stats.json`` when a logging dir is given."""
    names = store.stage_names(run_id)
    stages = {name: stage_stats(store, run_id, name) for name in names}
    if logging_dir:
        write_stats_file(logging_dir, stats_document(stages, names))
    return stages
