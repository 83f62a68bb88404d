"""Block bases: recorded params, dependencies, stats, and the three core filters.

Test-only blocks start with "_" so the registry (and any spec) never sees them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, cast

import pytest

from blocks.base import (
    BaseExtractor,
    BaseFilter,
    BaseFormatter,
    FileRange,
    PipelineStep,
    TaskContext,
)
from blocks.document import Document
from blocks.errors import DocumentError, MissingDependencyError
from blocks.filters import LambdaFilter, RegexFilter, SamplerFilter
from blocks.writers import JsonlWriter


class _Recorder(PipelineStep):
    """A block with positional, keyword and ** parameters."""

    def __init__(self, a: int, b: str = "x", *, c: float = 1.0, **extra: Any) -> None:
        super().__init__()

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        yield from data or ()


class _NeedsNothing(BaseFilter):
    _requires_dependencies: ClassVar[tuple[str | tuple[str, str], ...]] = ("json", ("gzip", "io"))

    def filter(self, doc: Document) -> bool:
        return True


class _NeedsMissing(_NeedsNothing):
    _requires_dependencies: ClassVar[tuple[str | tuple[str, str], ...]] = (
        ("shardyard_absent_module_q", "dedup"),
    )


class _Picky(BaseFilter):
    """Keeps "keep", drops "drop" with a reason, "plain" without, and "bad" raises."""

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if doc.text == "bad":
            raise DocumentError("undecodable")
        if doc.text == "drop":
            return False, "unwanted"
        return doc.text == "keep"


class _Upper(BaseExtractor):
    def extract(self, text: str) -> str:
        if text == "boom":
            raise DocumentError("timeout")
        return text.strip().upper()


class _Squash(BaseFormatter):
    def format(self, text: str) -> str:
        return " ".join(text.split())


def _run(step: PipelineStep, texts: list[str]) -> list[Document]:
    return list(step.run(Document(t, str(i)) for i, t in enumerate(texts)))


def _counts(step: PipelineStep) -> dict[str, int]:
    return {label: metric.n for label, metric in step.stats.stats.items()}


def test_constructor_arguments_are_recorded_by_name() -> None:
    step = _Recorder(3, "y", c=2.5, flag=True)
    assert step.spec_params == {"a": 3, "b": "y", "c": 2.5, "flag": True}
    assert _Recorder(1).spec_params == {"a": 1}  # defaults are not recorded
    assert repr(_Recorder(1, b="z")) == "_Recorder(a=1, b='z')"
    assert _Recorder.name == "_Recorder" and _Recorder(1).stats.name == "_Recorder"


def test_dependencies_are_checked_with_the_extra_to_install() -> None:
    _NeedsNothing.check_dependencies()
    with pytest.raises(MissingDependencyError, match=r"shardyard\[dedup\]"):
        _NeedsMissing.check_dependencies()


def test_stat_update_and_track_time() -> None:
    step = _Recorder(1)
    step.stat_update("a", "b")
    step.stat_update("a", value=5, unit="token")
    with step.track_time():
        pass
    assert step.stats.stats["a"].total == 6 and step.stats.stats["a"].unit == "token"
    assert step.stats.stats["b"].n == 1
    assert step.stats.time.n == 1 and step.stats.time.unit == "s"
    step.update_doc_stats(Document("abcd", "1"))
    assert step.stats.stats["doc_len"].total == 4


def test_bind_marks_a_block_as_managed_by_a_runner() -> None:
    step = _Recorder(1)
    assert not step.managed
    ctx = TaskContext(run_id="r", stage="s", rank=2, world_size=4, attempt=3)
    step.bind(ctx)
    assert step.managed and step.ctx is ctx


def test_filter_counts_and_reasons() -> None:
    picky = _Picky()
    kept = _run(picky, ["keep", "drop", "plain", "bad", "keep"])
    assert [d.text for d in kept] == ["keep", "keep"]
    assert _counts(picky) == {
        "total": 5,
        "forwarded": 2,
        "doc_len": 2,
        "dropped": 3,
        "dropped_unwanted": 1,
        "error_undecodable": 1,
        "dropped_undecodable": 1,
    }


def test_standalone_filter_commits_its_exclusion_writer(tmp_path: Path) -> None:
    picky = _Picky(exclusion_writer=JsonlWriter(str(tmp_path)))
    _run(picky, ["keep", "drop", "plain", "bad"])
    with gzip.open(tmp_path / "00000.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    assert [(r["text"], r["metadata"].get("filter_reason")) for r in rows] == [
        ("drop", "unwanted"),
        ("plain", None),  # a bare False gives no reason, as in DataTrove
        ("bad", "undecodable"),
    ]


def test_standalone_filter_aborts_its_exclusion_writer_on_error(tmp_path: Path) -> None:
    picky = _Picky(exclusion_writer=JsonlWriter(str(tmp_path)))

    def source() -> Iterator[Document]:
        yield Document("drop", "1")
        raise RuntimeError("upstream failed")

    with pytest.raises(RuntimeError, match="upstream"):
        list(picky.run(source()))
    assert list(tmp_path.iterdir()) == []


def test_extractor_and_formatter_hooks() -> None:
    upper = _Upper()
    out = _run(upper, [" a ", "   ", "boom", "b"])
    assert [d.text for d in out] == ["A", "B"]
    assert _counts(upper) == {
        "total": 4,
        "forwarded": 2,
        "doc_len": 2,
        "dropped": 2,
        "dropped_empty": 1,
        "error_timeout": 1,
    }
    doc = Document("a  b\n c", "1")
    doc.cache["words"] = ["stale"]
    squash = _Squash()
    (formatted,) = list(squash.run([doc, Document("same", "2")]))[:1]
    assert formatted.text == "a b c" and formatted.cache == {}  # a changed text drops the cache
    assert _counts(squash) == {"total": 2, "changed": 1, "forwarded": 2}


def test_file_range_and_task_context_json() -> None:
    assert FileRange.from_json("a.jsonl") == FileRange("a.jsonl")
    whole = FileRange("b.warc.gz")
    part = FileRange("b.warc.gz", 10, 200)
    assert FileRange.from_json(part.to_json()) == part
    assert FileRange.from_json(json.loads(json.dumps(whole.to_json()))) == whole
    ctx = TaskContext()
    assert (ctx.rank, ctx.world_size, ctx.files, ctx.attempt) == (0, 1, None, 1)


# -- the three filters of the core ----------------------------------------------------------
def test_regex_filter_drops_on_a_match_anywhere() -> None:
    regex = RegexFilter(r"(?i)accept (all )?cookies")
    kept = _run(
        regex, ["We value privacy.\nAccept all cookies", "plain news text", "ACCEPT COOKIES"]
    )
    assert [d.text for d in kept] == ["plain news text"]
    assert _counts(regex)["dropped"] == 2
    with pytest.raises(ValueError, match="invalid regex_exp"):
        RegexFilter("(unclosed")


def test_lambda_filter_keeps_what_the_function_accepts() -> None:
    lam = LambdaFilter(lambda d: "keep" in d.text)
    assert [d.text for d in _run(lam, ["keep me", "drop me", "keep"])] == ["keep me", "keep"]
    truthy = LambdaFilter(cast(Any, lambda d: len(d.text)))  # truthiness, as DataTrove
    assert [d.text for d in _run(truthy, ["", "x"])] == ["x"]


def test_sampler_filter_rate_bounds_and_seed() -> None:
    with pytest.raises(ValueError, match="rate"):
        SamplerFilter(rate=1.5)
    texts = [str(i) for i in range(2000)]
    a = [d.text for d in _run(SamplerFilter(rate=0.5, seed=7), texts)]
    b = [d.text for d in _run(SamplerFilter(rate=0.5, seed=7), texts)]
    c = [d.text for d in _run(SamplerFilter(rate=0.5, seed=8), texts)]
    assert a == b and a != c
    assert 900 < len(a) < 1100
    assert _run(SamplerFilter(rate=0.0), texts) == []
    assert len(_run(SamplerFilter(rate=1.0), texts)) == 2000
