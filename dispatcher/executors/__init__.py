"""Executors: where the shards of a pipeline run.

- :class:`LocalPipelineExecutor` — this machine, ranks forked from the calling process,
  state in an embedded Redis in the logging dir (DataTrove's local executor);
- :class:`CeleryPipelineExecutor` — Celery workers on a shared Redis;
- :func:`dispatcher.executors.run.run_spec` — ``shardyard run``: a spec with local worker
  processes on an embedded (or given) Redis.

Imported lazily, so ``import dispatcher.executors`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatcher.executors.base import RunFailedError
    from dispatcher.executors.celery import CeleryPipelineExecutor
    from dispatcher.executors.local import LocalPipelineExecutor

__all__ = ["CeleryPipelineExecutor", "LocalPipelineExecutor", "RunFailedError"]
_WHERE = {
    "CeleryPipelineExecutor": "dispatcher.executors.celery",
    "LocalPipelineExecutor": "dispatcher.executors.local",
    "RunFailedError": "dispatcher.executors.base",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dispatcher.executors' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_WHERE[name]), name)
