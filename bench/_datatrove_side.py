"""One side of ``bench.processing``: time one whole pipeline run in a fresh interpreter.

Run by ``bench.processing`` in DataTrove 0.10.1's own venv (``bench/datatrove_env.sh``)::

    bench/.venv-datatrove/bin/python bench/_datatrove_side.py CONFIG.json

CONFIG is a JSON object: ``pipeline`` ("A" or "B", see :data:`STEPS`), ``input`` (the
corpus folder), ``output`` and ``warmup_output`` (empty folders), ``limit`` (documents
read, -1 for all), ``warmup_limit``, ``lid_model`` (a local lid.176 file), ``timeout``
(seconds per document for the extractor), ``preimport_trafilatura`` and ``result``
(where the JSON result goes).

The measuring part (:func:`run_side`, :class:`Meter`, :func:`read_output_ids`) imports
only the standard library, so the shardyard side (``python -m bench.processing --side``)
imports it from here and both sides are timed by literally the same code: warm up on
the first ``warmup_limit`` documents with blocks built for that run, collect garbage,
then time one run with freshly built blocks from construction to the closed output file
(reading, every block, writing), by wall clock and by CPU time of the process and of its
waited-for children (the extractor sandboxes).
"""

from __future__ import annotations

import gc
import gzip
import json
import os
import platform
import resource
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

#: Canonical step names of each pipeline, in order; both sides report stats under them.
STEPS: dict[str, tuple[str, ...]] = {
    "B": ("JsonlReader", "GopherQualityFilter", "C4QualityFilter", "JsonlWriter"),
    "A": (
        "WarcReader",
        "Trafilatura",
        "GopherRepetitionFilter",
        "GopherQualityFilter",
        "LanguageFilter",
        "JsonlWriter",
    ),
}

#: Written to stderr between the warm-up and the timed run (logs after it are the run's).
TIMED_RUN_MARK = "[side] timed run starts"

#: ``execute(output_folder, limit)`` builds the blocks, drains them and returns one
#: :func:`step_report` per step, in the order of :data:`STEPS`.
Execute = Callable[[str, int], list[dict[str, Any]]]


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class Meter:
    """Wall time, CPU time of this process and of its reaped children, load average."""

    def __init__(self) -> None:
        self.wall_s = self.cpu_s = self.children_cpu_s = 0.0
        self.load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> Meter:
        self.load_before = os.getloadavg()
        self._cpu0 = _cpu()
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wall_s = time.perf_counter() - self._t0
        cpu1 = _cpu()
        self.cpu_s = cpu1[0] - self._cpu0[0]
        self.children_cpu_s = cpu1[1] - self._cpu0[1]
        self.load_after = os.getloadavg()

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "children_cpu_s": round(self.children_cpu_s, 4),
            "load_before": [round(x, 2) for x in self.load_before],
            "load_after": [round(x, 2) for x in self.load_after],
        }


def read_output_ids(folder: str | os.PathLike[str]) -> list[str]:
    """Ids of the documents in every ``*.jsonl.gz`` of ``folder``, file by file, in order."""
    ids: list[str] = []
    for path in sorted(Path(folder).glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            ids.extend(str(json.loads(line)["id"]) for line in fh if line.strip())
    return ids


def step_report(stats: Mapping[str, Any], time_metric: Any) -> dict[str, Any]:
    """``{label: total}`` of a block's counters and its own time (DataTrove's or shardyard's
    metric objects: both have ``n``, ``total``, ``mean`` and ``max``)."""
    n = int(time_metric.n)
    return {
        "stats": {str(label): metric.total for label, metric in sorted(stats.items())},
        "time": {
            "n": n,
            "total_s": round(float(time_metric.total), 4),
            "mean_ms": round(1000 * float(time_metric.mean), 3) if n else 0.0,
            "max_ms": round(1000 * float(time_metric.max), 3) if n else 0.0,
        },
    }


def run_side(
    cfg: Mapping[str, Any], execute: Execute, *, side: str, versions: Mapping[str, str]
) -> dict[str, Any]:
    """Warm up, then time one run of ``execute``; return the result (not written)."""
    if cfg["warmup_limit"] > 0:
        execute(cfg["warmup_output"], cfg["warmup_limit"])
    gc.collect()
    print(TIMED_RUN_MARK, file=sys.stderr, flush=True)
    with Meter() as meter:
        steps = execute(cfg["output"], cfg["limit"])
    kept = read_output_ids(cfg["output"])
    names = STEPS.get(cfg["pipeline"], ())
    return {
        "side": side,
        "pipeline": cfg["pipeline"],
        "versions": dict(versions),
        "python": platform.python_version(),
        **meter.to_dict(),
        "steps": [
            {"name": names[i] if i < len(names) else f"step{i}", **step}
            for i, step in enumerate(steps)
        ],
        "kept_ids": kept,
    }


# --------------------------------------------------------------------------- DataTrove


class _LidCache:
    """The lid.176 model object, handed from the warm-up's LanguageFilter to the timed one.

    shardyard keeps loaded models per process; DataTrove loads them per block instance,
    and its executor runs every task of a process with the same instances. Handing the
    loaded model over keeps both sides' timed runs free of model loading.
    """

    model: Any = None


def _accept_fasttext_community(language_filter: Any) -> None:
    """Let DataTrove's dependency checks accept fasttext-community for `fasttext`."""
    import datatrove.utils.lid as lid

    def swap(deps: Any) -> list[Any]:
        return [
            ("fasttext", "fasttext-community") if isinstance(d, tuple) and d[0] == "fasttext" else d
            for d in deps
        ]

    check = lid.check_required_dependencies
    language_filter._requires_dependencies = swap(language_filter._requires_dependencies)
    lid.check_required_dependencies = lambda name, deps: check(name, swap(deps))


def datatrove_execute(cfg: Mapping[str, Any]) -> Execute:
    """DataTrove 0.10.1 blocks for ``cfg["pipeline"]``, drained the way its executor does."""
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.readers import JsonlReader, WarcReader
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.lid import FT176LID
    from loguru import logger

    logger.remove()  # DataTrove logs at INFO per file; keep warnings (timeouts) only
    logger.add(sys.stderr, level="WARNING")
    # Same model file as shardyard's LanguageFilter (DataTrove would download lid.176.bin).
    FT176LID.MODEL_URL = "file://" + str(Path(cfg["lid_model"]).resolve())
    # DataTrove insists on the distribution fasttext-numpy2-wheel; its venv has the same
    # `fasttext` module from fasttext-community instead (see bench/datatrove_env.sh).
    _accept_fasttext_community(LanguageFilter)
    pipeline = cfg["pipeline"]

    def execute(output: str, limit: int) -> list[dict[str, Any]]:
        steps: list[Any]
        if pipeline == "B":
            steps = [
                JsonlReader(cfg["input"], limit=limit),
                GopherQualityFilter(),
                C4QualityFilter(filter_no_terminal_punct=False),
                JsonlWriter(output),
            ]
        elif pipeline == "A":
            lang = LanguageFilter(languages=["en"])
            if _LidCache.model is not None:
                lang.model._model = _LidCache.model
            steps = [
                WarcReader(cfg["input"], limit=limit),
                Trafilatura(timeout=cfg["timeout"]),
                GopherRepetitionFilter(),
                GopherQualityFilter(),
                lang,
                JsonlWriter(output),
            ]
        else:
            raise ValueError(f"unknown pipeline {pipeline!r}")
        # LocalPipelineExecutor._run_for_rank with tasks=1, workers=1, minus its logging.
        data: Any = None
        for step in steps:
            data = step(data, 0, 1)
        deque(data, maxlen=0)
        if pipeline == "A":
            _LidCache.model = lang.model._model
        return [step_report(step.stats.stats, step.stats.time_stats) for step in steps]

    return execute


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    cfg = json.loads(Path(args[0]).read_text())
    import importlib.metadata as md

    if cfg.get("preimport_trafilatura") and cfg["pipeline"] == "A":
        # DataTrove forks its extractor child and waits a fixed `timeout` (1 s) for its
        # warm-up; `import trafilatura` alone takes longer on a loaded machine, which
        # times out every document. Imported here, before timing, the fork inherits it.
        import trafilatura  # noqa: F401

    versions = {p: md.version(p) for p in ("datatrove", "trafilatura", "spacy", "warcio")}
    result = run_side(cfg, datatrove_execute(cfg), side="datatrove", versions=versions)
    Path(cfg["result"]).write_text(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
