"""The in-process runner: plain function steps, leading Documents, exclusion writers, failures."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks.base import BaseFilter, DocumentsSource, FunctionStep, TaskContext
from blocks.document import Document
from blocks.filters import SamplerFilter
from blocks.pipeline import as_steps, commit, execute, run_pipeline, run_shard
from blocks.readers import JsonlReader
from blocks.spec import load_spec
from blocks.writers import JsonlWriter
from tests.helpers import require

ROOT = Path(__file__).resolve().parents[2]


def _docs(n: int) -> list[Document]:
    return [Document(f"document {i} " + "word " * i, str(i)) for i in range(n)]


def _records(folder: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return out


class _TooShort(BaseFilter):
    """Drops texts under ``min_chars`` with the reason ``too_short`` (hidden from the registry)."""

    name = "TooShort"

    def __init__(self, min_chars: int, exclusion_writer: Any = None) -> None:
        super().__init__(exclusion_writer)
        self.min_chars = min_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return (False, "too_short") if len(doc.text) < self.min_chars else True


# -- DataTrove-style pipelines ---------------------------------------------------------
def test_plain_functions_and_a_leading_list_of_documents() -> None:
    seen: list[tuple[int, int]] = []

    def tag(data: Iterable[Document], rank: int, world_size: int) -> Iterator[Document]:
        seen.append((rank, world_size))
        for doc in data:
            doc.metadata["by"] = f"{rank}/{world_size}"
            yield doc

    collected: list[Document] = []

    def sink(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for doc in data:
            collected.append(doc)
            yield doc

    docs = _docs(10)
    stats = run_pipeline([docs, tag, sink], TaskContext(rank=1, world_size=3))
    assert seen == [(1, 3)]
    # the Documents source deals documents like files: i % world_size == rank
    assert [d.id for d in collected] == ["1", "4", "7"]
    assert {d.metadata["by"] for d in collected} == {"1/3"}
    assert [b.name for b in stats] == ["Documents", "tag", "sink"]
    assert stats["Documents"].stats["documents"].n == 3


def test_a_function_returning_none_ends_the_stream() -> None:
    calls = []

    def consume(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> None:
        calls.append(sum(1 for _ in data))

    run_pipeline([_docs(5), consume])
    assert calls == [5]


def test_documents_only_lead_a_pipeline() -> None:
    with pytest.raises(ValueError, match="first element"):
        as_steps([JsonlReader("x"), _docs(2)])
    with pytest.raises(TypeError, match="cannot use"):
        as_steps([42])  # type: ignore[list-item]
    steps = as_steps([_docs(1), lambda data, rank, ws: data])
    assert isinstance(steps[0], DocumentsSource) and isinstance(steps[1], FunctionStep)


def test_exclusion_writer_gets_dropped_documents_with_their_reason(tmp_path: Path) -> None:
    kept_writer = JsonlWriter(str(tmp_path / "kept"))
    dropped_writer = JsonlWriter(str(tmp_path / "dropped"))
    stats = run_pipeline(
        [_docs(12), _TooShort(min_chars=30, exclusion_writer=dropped_writer), kept_writer]
    )
    kept, dropped = _records(tmp_path / "kept"), _records(tmp_path / "dropped")
    assert len(kept) + len(dropped) == 12 and dropped
    assert all(len(r["text"]) >= 30 for r in kept)
    assert all(len(r["text"]) < 30 for r in dropped)
    assert {r["metadata"]["filter_reason"] for r in dropped} == {"too_short"}
    assert all("filter_reason" not in r["metadata"] for r in kept)
    filt = stats["TooShort"].stats
    assert filt["total"].n == 12
    assert filt["dropped"].n == filt["dropped_too_short"].n == len(dropped)
    assert filt["forwarded"].n == len(kept)


def test_a_failing_shard_removes_every_output_including_exclusions(tmp_path: Path) -> None:
    def explode(data: Iterable[Document], rank: int = 0, world_size: int = 1) -> Iterator[Document]:
        for i, doc in enumerate(data):
            if i == 8:
                raise RuntimeError("worker died")
            yield doc

    steps = as_steps(
        [
            _docs(30),
            _TooShort(30, exclusion_writer=JsonlWriter(str(tmp_path / "dropped"))),
            JsonlWriter(str(tmp_path / "kept"), max_file_size=100),
            explode,
        ]
    )
    with pytest.raises(RuntimeError, match="worker died"):
        execute(steps, TaskContext())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_execute_leaves_temporary_names_until_commit(tmp_path: Path) -> None:
    progress: list[int] = []
    steps = as_steps([_docs(2500), JsonlWriter(str(tmp_path), compression=None)])
    stats = execute(steps, TaskContext(), on_document=progress.append)
    assert progress == [1000, 1000, 500]
    assert [p.name.startswith(".") for p in tmp_path.iterdir()] == [True]
    commit(steps)
    assert [p.name for p in tmp_path.iterdir()] == ["00000.jsonl"]
    assert stats["JsonlWriter"].stats["documents"].n == 2500


def test_sampler_keeps_a_repeatable_share_per_rank() -> None:
    def kept(rank: int, seed: int | None = 1, rate: float = 0.3) -> list[str]:
        out: list[str] = []

        def sink(data: Iterable[Document], r: int = 0, ws: int = 1) -> Iterator[Document]:
            for doc in data:
                out.append(doc.id)
                yield doc

        docs = [Document("t", str(i)) for i in range(4000)]
        run_pipeline(
            [DocumentsSource(docs), SamplerFilter(rate=rate, seed=seed), sink],
            TaskContext(rank=rank, world_size=2),
        )
        return out

    first = kept(0)
    assert kept(0) == first  # a re-run of the shard keeps the same documents
    assert kept(1) != [str(int(i) + 1) for i in first]  # ranks draw independently
    assert abs(len(first) - 600) < 3 * (2000 * 0.3 * 0.7) ** 0.5  # rate 0.3 of 2000
    assert kept(0, rate=0.0) == [] and len(kept(0, rate=1.0)) == 2000
    assert kept(0, seed=2) != first


def test_run_shard_builds_the_stage_from_a_spec(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for k in range(3):
        with gzip.open(tmp_path / "in" / f"{k}.jsonl.gz", "wt") as fh:
            for i in range(5):
                fh.write(json.dumps({"text": f"file {k} line {i}", "id": f"{k}-{i}"}) + "\n")
    spec = load_spec(
        {
            "name": "t",
            "stages": [
                {
                    "name": "copy",
                    "tasks": 2,
                    "pipeline": [
                        {"JsonlReader": {"data_folder": str(tmp_path / "in")}},
                        {"JsonlWriter": {"output_folder": str(tmp_path / "out")}},
                    ],
                }
            ],
        }
    )
    stats = [run_shard(spec, "copy", rank) for rank in range(2)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "00000.jsonl.gz",
        "00001.jsonl.gz",
    ]
    assert [s["JsonlReader"].stats["input_files"].n for s in stats] == [2, 1]
    assert len(_records(tmp_path / "out")) == 15


# -- the README's first command, on real data ----------------------------------------------
@pytest.mark.slow
def test_quickstart_example_on_real_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        from bench import realdata

        realdata.ensure_sources()
    except Exception as err:  # no cache and no network on a laptop
        require(False, f"real data not available: {err}")
    summary = realdata.quickstart(tmp_path / "data" / "quickstart")
    monkeypatch.chdir(tmp_path)  # the example's paths are relative to where it runs
    spec = load_spec(ROOT / "examples" / "quickstart.yaml")
    stage = spec.stages[0]
    assert stage.tasks == 4
    merged = None
    for rank in range(stage.tasks):
        stats = run_shard(spec, stage.name, rank)
        merged = stats if merged is None else merged
        if merged is not stats:
            merged += stats
    assert merged is not None
    out = _records(tmp_path / "data" / "quickstart" / "out")
    removed = _records(tmp_path / "data" / "quickstart" / "removed")
    total = summary["documents"]
    regex = merged["RegexFilter"].stats
    sampler = merged["SamplerFilter"].stats
    assert merged["JsonlReader"].stats["documents"].total == total  # counted per input file
    assert regex["dropped"].n == len(removed) > 0  # real "Read more: ..." teaser lines
    assert all("filter_reason" not in r["metadata"] for r in removed)  # RegexFilter gives none
    assert sampler["total"].n == total - len(removed)
    assert len(out) == sampler["forwarded"].n
    assert 0.7 < len(out) / sampler["total"].n < 0.9  # rate 0.8
    assert sorted((tmp_path / "data" / "quickstart" / "out").iterdir()) == [
        tmp_path / "data" / "quickstart" / "out" / f"{r:05d}.jsonl.gz" for r in range(4)
    ]
