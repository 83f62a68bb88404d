"""Helpers for worker tests: store a run and plan its stage without the dispatcher.

They use only the state store's public API, exactly as ``dispatcher.submit`` does, so
worker tests do not depend on planning code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from blocks.spec import PipelineSpec
from dispatcher.state import StateStore
from dispatcher.task import ShardTask

PLUGIN = "tests.worker.plugin_blocks"
ROOT = Path(__file__).resolve().parents[2]


def store_run(
    store: StateStore,
    run_id: str,
    stages: list[dict[str, Any]],
    *,
    options: dict[str, Any] | None = None,
    queue: str = "shardyard",
) -> tuple[PipelineSpec, list[ShardTask]]:
    """Create the run, plan its FIRST stage (``tasks`` ranks, no file lists) and return the
    spec and the first stage's tasks."""
    spec = PipelineSpec.from_dict({"name": run_id, "plugins": [PLUGIN], "stages": stages})
    store.create_run(run_id, spec.canonical_json(), spec.spec_hash(), options or {})
    first = spec.stages[0]
    store.set_stage_plan(run_id, first.name, first.tasks, max_attempts=first.max_attempts)
    tasks = [
        ShardTask(
            run_id=run_id,
            stage=first.name,
            rank=rank,
            world_size=first.tasks,
            spec_hash=spec.spec_hash(),
            queue=queue,
        )
        for rank in range(first.tasks)
    ]
    return spec, tasks


def runs_log(folder: Path) -> list[tuple[str, int, int, int]]:
    """Lines written by ``RunMarker``: (stage, rank, attempt, pid)."""
    path = folder / "runs.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stage, rank, attempt, pid = line.split()
        out.append((stage, int(rank), int(attempt), int(pid)))
    return out


def start_worker(
    url: str,
    *args: str,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``python -m worker --redis URL --plugins <test plugin> ARGS`` as a real process."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "SHARDYARD_LOG_FORMAT": "json"}
    full_env.update(env or {})
    out = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "--redis", url, "--plugins", PLUGIN, *args],
        cwd=ROOT,
        env=full_env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
