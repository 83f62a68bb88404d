"""What the Docker, compose and Slurm tests share: the example pipeline on real texts, its
expected result computed in this process, and exact comparisons of outputs and stats.

The example is ``examples/quickstart.yaml`` (JsonlReader -> RegexFilter with an exclusion
writer -> SamplerFilter -> JsonlWriter) over the README's real sample
(``bench.realdata.quickstart``: 484 real texts in 4 files). The expected outputs and stats
come from running the same spec's shards here with :func:`blocks.pipeline.run_shard`, so a
deployment must produce exactly that: every document once, every counter exact.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from blocks.metrics import merge_all
from blocks.pipeline import run_shard
from blocks.spec import PipelineSpec
from tests.helpers import require

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "quickstart.yaml"
PLUGIN_MODULE = "sy_deploy_plugins"
IMAGE = os.environ.get("SHARDYARD_IMAGE", "shardyard:latest")
REDIS_IMAGE = os.environ.get("SHARDYARD_REDIS_IMAGE", "shardyard-redis:7")
T = TypeVar("T")


def write_inputs(data_root: Path) -> int:
    """The README's real sample under ``data_root/in``; returns the number of documents."""
    try:
        from bench.realdata import quickstart

        summary = quickstart(data_root)
    except Exception as err:  # no network and no cache on a laptop
        require(False, f"real data unavailable: {err}")
        raise
    shutil.rmtree(data_root / "warc", ignore_errors=True)  # the example reads in/ only
    return int(summary["documents"])


def plugin_dir(where: Path) -> Path:
    """A folder holding the worker tests' blocks (``SlowPass``...) as a top-level module
    ``sy_deploy_plugins``: mountable into containers with nothing else of the repo."""
    folder = where / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tests" / "worker" / "plugin_blocks.py", folder / f"{PLUGIN_MODULE}.py")
    return folder


def example_spec(
    data_root: str, *, name: str = "quickstart", slow: float | None = None
) -> dict[str, Any]:
    """``examples/quickstart.yaml`` with its ``data/quickstart`` paths moved to
    ``data_root`` and its logging dir to ``data_root/logs``; ``slow`` inserts ``SlowPass`` (seconds per document) after the reader, so
    a shard runs long enough to kill its worker mid-way."""
    text = EXAMPLE.read_text(encoding="utf-8").replace("data/quickstart", data_root)
    spec: dict[str, Any] = yaml.safe_load(text)
    spec["name"] = name
    spec["logging_dir"] = f"{data_root}/logs"
    if slow is not None:
        spec["plugins"] = [PLUGIN_MODULE]
        spec["stages"][0]["pipeline"].insert(1, {"SlowPass": {"delay": slow}})
    return spec


def write_spec(spec: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def read_docs(folder: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of every document in the JSONL(.gz) files of ``folder``, sorted."""
    out: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.jsonl*")):
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            out += [(str(d["id"]), str(d["text"])) for d in map(json.loads, fh) if d]
    return sorted(out)


def counters(stats: dict[str, Any]) -> dict[str, tuple[int, str, Any, Any]]:
    """``"Block.stat" -> (n, exact sum, min, max)`` of a stats document, timings and the
    test-only ``SlowPass`` left out: equal counters mean every document was counted once.

    ``stale_temps_removed`` is left out too (see :func:`stale_temps`): a writer counts the
    temporary files a killed attempt of its shard left behind, which a run without a kill
    does not have."""
    out: dict[str, tuple[int, str, Any, Any]] = {}
    for block in stats["blocks"]:
        if block["name"] == "SlowPass":
            continue
        for key, metric in block["stats"].items():
            if key == "stale_temps_removed":
                continue
            out[f"{block['name']}.{key}"] = (
                metric["n"],
                metric["exact"]["sum"],
                metric["min"],
                metric["max"],
            )
    return out


def stale_temps(stats: dict[str, Any]) -> int:
    """Temporary files of killed attempts that the writers removed on a retry."""
    return sum(
        int(block["stats"]["stale_temps_removed"]["total"])
        for block in stats["blocks"]
        if "stale_temps_removed" in block["stats"]
    )


def hidden_files(folder: Path) -> list[str]:
    """Leftover temporary (hidden) files: a finished run must have none."""
    return sorted(p.name for p in folder.rglob(".*") if p.is_file())


def expected_run(spec: dict[str, Any], data_root: str, ref_root: Path) -> dict[str, Any]:
    """Run every shard of ``spec`` in this process, with outputs under ``ref_root``;
    returns ``{"out": docs, "removed": docs, "stats": stats document}``."""
    ref = json.loads(json.dumps(spec).replace(f"{data_root}/out", str(ref_root / "out")))
    ref = json.loads(json.dumps(ref).replace(f"{data_root}/removed", str(ref_root / "removed")))
    # SlowPass only slows a shard down (its module need not be importable here)
    ref["stages"][0]["pipeline"] = [s for s in ref["stages"][0]["pipeline"] if "SlowPass" not in s]
    ref.pop("plugins", None)
    pipeline = PipelineSpec.from_dict(ref)
    tasks = pipeline.stages[0].tasks
    stats = merge_all(run_shard(pipeline, 0, rank, tasks) for rank in range(tasks))
    return {
        "out": read_docs(ref_root / "out"),
        "removed": read_docs(ref_root / "removed"),
        "stats": stats.to_dict(),
    }


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, *, every: float = 0.5
) -> T:
    """Poll ``check`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    out = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
    return out.returncode == 0


def image_present(name: str) -> bool:
    out = subprocess.run(["docker", "image", "inspect", name], capture_output=True, timeout=30)
    return out.returncode == 0


def open_world(path: Path) -> None:
    """Let the image's non-root user (uid 1000) write under ``path`` (a bind mount)."""
    for folder in [path, *(p for p in path.rglob("*") if p.is_dir())]:
        folder.chmod(0o777)
