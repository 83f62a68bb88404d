"""What the Python executors share: pipeline -> spec, waiting, and the end of a run.

The executors keep DataTrove's shape (``Executor(pipeline, tasks=..., logging_dir=...)``
then ``.run()`` returning the merged stats) but run through the same spec, state store
and runner as ``shardyard submit``: a pipeline built in Python becomes a
:class:`PipelineSpec` first, so its blocks are validated before anything runs and a worker
can rebuild it by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from blocks.base import PipelineStep
from blocks.errors import ShardyardError
from blocks.io import DataFolder
from blocks.metrics import PipelineStats
from blocks.spec import PipelineSpec
from dispatcher.merge import merge_run
from dispatcher.state import StateStore


class RunFailedError(ShardyardError):
    """Some shards of the run failed for good (the stats of the others are merged).

    ``failures`` maps ``"stage/rank"`` to the last error; ``status`` is the final status."""

    exit_code = 1

    def __init__(self, run_id: str, failures: Mapping[str, str], status: Mapping[str, Any]):
        self.run_id = run_id
        self.failures = dict(failures)
        self.status = dict(status)
        listed = "; ".join(f"{where}: {error}" for where, error in list(self.failures.items())[:5])
        more = f" (+{len(self.failures) - 5} more)" if len(self.failures) > 5 else ""
        super().__init__(
            f"run {run_id!r}: {len(self.failures)} shard(s) failed: {listed}{more}; "
            f"fix and `shardyard requeue {run_id} --failed`, or run again"
        )


def pipeline_spec(
    pipeline: Sequence[Any],
    *,
    name: str,
    tasks: int,
    logging_dir: str | None,
    plugins: Sequence[str] = (),
    **stage_options: Any,
) -> PipelineSpec:
    """The single-stage spec of a Python pipeline (SpecError for what cannot be named)."""
    spec = PipelineSpec.from_pipeline(
        list(pipeline), name=name, tasks=tasks, logging_dir=logging_dir, **stage_options
    )
    if not plugins:
        return spec
    data = spec.to_json()
    data["plugins"] = list(plugins)
    return PipelineSpec.from_dict(data)


def callables_in(pipeline: Sequence[Any]) -> list[tuple[str, Callable[..., Any]]]:
    """Every plain callable in a pipeline (steps and block parameters, nested), with the
    spec path where it sits: the functions a spec must be able to name."""
    found: list[tuple[str, Callable[..., Any]]] = []

    def visit(value: Any, path: str) -> None:
        if isinstance(value, PipelineStep):
            for key, param in value.spec_params.items():
                visit(param, f"{path}.{type(value).__name__}.{key}")
        elif isinstance(value, Mapping):
            for key, item in value.items():
                visit(item, f"{path}.{key}")
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                visit(item, f"{path}[{i}]")
        elif callable(value) and not isinstance(value, (type, DataFolder)):
            found.append((path, value))

    for i, step in enumerate(pipeline):
        visit(step, f"pipeline[{i}]")
    return found


def run_stats(store: StateStore, run_id: str, logging_dir: str | None) -> PipelineStats:
    """Merge the run's stats (written to ``logging_dir/stats.json``); one stage's stats,
    or the last stage's for a multi-stage run."""
    stages = merge_run(store, run_id, logging_dir)
    if not stages:
        return PipelineStats(shards=0)
    return list(stages.values())[-1]


def failures_of(store: StateStore, run_id: str) -> dict[str, str]:
    """``"stage/rank" -> error`` for ranks that failed for good."""
    out: dict[str, str] = {}
    for stage in store.stage_names(run_id):
        records = store.failures(run_id, stage)
        for rank in store.failed_ranks(run_id, stage):
            record = records.get(rank)
            out[f"{stage}/{rank}"] = record.error if record else "attempts spent (worker lost)"
    return out


def finish(store: StateStore, run_id: str, logging_dir: str | None) -> PipelineStats:
    """Merge stats; raise :class:`RunFailedError` unless the run is complete."""
    stats = run_stats(store, run_id, logging_dir)
    status = store.status(run_id)
    if not status.get("complete"):
        failures = failures_of(store, run_id)
        if not failures:
            failures = {"run": "stopped before completion (no worker left running?)"}
        raise RunFailedError(run_id, failures, status)
    return stats
