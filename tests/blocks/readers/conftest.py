"""Shared helpers for the reader tests: real data from bench.realdata, running a reader."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks.base import FileRange, TaskContext
from blocks.document import Document
from blocks.readers.base import BaseDiskReader
from tests.helpers import require

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readers"


def load_realdata() -> Any:
    """The bench.realdata module with its pinned sources fetched (skip locally, fail in CI)."""
    try:
        from bench import realdata as module

        module.ensure_sources()
    except Exception as err:  # RealDataError, or no network to PyPI on a laptop
        require(False, f"real data not available: {err}")
    return module


def load_real_texts(realdata: Any) -> list[dict[str, Any]]:
    """Real plain texts as DataTrove-style records: the Lee news corpus (one article per
    line) and newspaper4k's extracted articles (multilingual). Loaded straight from the
    cache, which is much faster than ``text_documents()`` (that also strips Wikipedia)."""
    docs: list[dict[str, Any]] = []
    for name in ("lee_background", "lee"):
        raw = realdata.path(f"news/{name}.cor").read_text(encoding="utf-8", errors="replace")
        for i, line in enumerate(raw.splitlines()):
            if line.strip():
                docs.append(
                    {"text": line.strip(), "id": f"{name}/{i}", "metadata": {"source": name}}
                )
    for p in sorted(realdata.path("txt/newspaper").glob("*.txt")):
        text = p.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            docs.append(
                {"text": text, "id": f"newspaper/{p.stem}", "metadata": {"source": "newspaper"}}
            )
    assert len(docs) > 300
    return docs


@pytest.fixture(scope="session")
def realdata() -> Any:
    return load_realdata()


@pytest.fixture(scope="session")
def real_texts(realdata: Any) -> list[dict[str, Any]]:
    return load_real_texts(realdata)


def read_all(
    reader: BaseDiskReader,
    rank: int = 0,
    world_size: int = 1,
    files: list[FileRange] | None = None,
) -> list[Document]:
    """Run a reader like the runner does (bound context, full drain)."""
    ctx = TaskContext(rank=rank, world_size=world_size, files=tuple(files) if files else None)
    reader.bind(ctx)
    return list(reader.run(None, rank, world_size))


def stat(reader: BaseDiskReader, name: str) -> int:
    """Total of a reader stat (0 when never updated)."""
    stats = reader.stats.stats
    return int(stats[name].to_dict()["total"]) if name in stats else 0


def cuts(size: int, points: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive ranges covering [0, size) split at ``points`` (any order, clipped)."""
    edges = sorted({0, size, *(min(max(p, 0), size) for p in points)})
    yield from itertools.pairwise(edges)
