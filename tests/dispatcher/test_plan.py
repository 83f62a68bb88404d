"""Planning: every input file, and every byte of a split file, is assigned exactly once."""

from __future__ import annotations

import gzip
import itertools
import json
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.base import FileRange, TaskContext
from blocks.pipeline import run_pipeline
from blocks.readers.jsonl import JsonlReader
from blocks.spec import PipelineSpec
from dispatcher.plan import (
    by_size,
    even_ranges,
    group_offsets,
    plan_stage,
    plan_steps,
    round_robin,
)

file_lists = st.lists(
    st.tuples(st.text("abcdefgh", min_size=1, max_size=6), st.integers(0, 5000)),
    max_size=40,
    unique_by=lambda t: t[0],
).map(sorted)


def _coverage(shards: list[list[FileRange]], sizes: dict[str, int]) -> None:
    """Assert each file appears whole exactly once, or as ranges tiling [0, size) exactly."""
    whole: dict[str, int] = defaultdict(int)
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for shard in shards:
        for item in shard:
            if item.start is None:
                whole[item.path] += 1
            else:
                assert item.end is not None
                ranges[item.path].append((item.start, item.end))
    assert set(whole) | set(ranges) == set(sizes)
    for path, size in sizes.items():
        if path in whole:
            assert whole[path] == 1 and path not in ranges
            continue
        spans = sorted(ranges[path])
        assert spans[0][0] == 0 and spans[-1][1] == size
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end == start  # no gap, no overlap


@given(files=file_lists, tasks=st.integers(1, 12))
def test_round_robin_is_datatroves_contract(files: list[tuple[str, int]], tasks: int) -> None:
    shards = round_robin(files, tasks)
    assert len(shards) == tasks
    for rank, shard in enumerate(shards):
        assert [f.path for f in shard] == [p for p, _ in files[rank::tasks]]
    _coverage(shards, dict(files))


@given(
    files=file_lists,
    target=st.integers(1, 3000),
    splittable=st.sets(st.text("abcdefgh", min_size=1, max_size=6)),
)
def test_by_size_covers_every_byte_once(
    files: list[tuple[str, int]], target: int, splittable: set[str]
) -> None:
    shards = by_size(files, target, can_split=lambda p: p in splittable)
    assert shards, "always at least one shard"
    _coverage(shards, dict(files))
    for shard in shards:
        total = sum(
            (f.end - f.start) if f.start is not None and f.end is not None else dict(files)[f.path]
            for f in shard
        )
        # a shard only overflows the target when a single piece is bigger than it
        assert total <= target or len(shard) == 1
    for shard in shards:
        for f in shard:
            if f.start is not None and f.end is not None:
                assert f.path in splittable and f.end - f.start <= target


@given(size=st.integers(0, 10**7), target=st.integers(10**4, 10**7))
def test_even_ranges_tile(size: int, target: int) -> None:
    spans = even_ranges(size, target)
    assert spans[0][0] == 0 and spans[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(e - s <= target for s, e in spans) or size == 0


@given(
    offsets=st.lists(st.integers(0, 9999), max_size=50),
    size=st.integers(1, 10000),
    target=st.integers(1, 4000),
)
def test_group_offsets_start_on_records(offsets: list[int], size: int, target: int) -> None:
    spans = group_offsets(offsets, size, target)
    valid = {o for o in offsets if o < size} | {0}
    assert spans[0][0] == 0 and spans[-1][1] == size
    assert all(s in valid for s, _ in spans)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def _write_jsonl(path: Path, texts: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"text": text, "id": f"{path.name}-{i}"}) + "\n")


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 300), min_size=1, max_size=60),
    target=st.integers(64, 4000),
)
def test_split_jsonl_reads_every_line_once(
    tmp_path_factory: pytest.TempPathFactory, lengths: list[int], target: int
) -> None:
    """The planner's byte ranges, read by the real JsonlReader, yield each record exactly once."""
    root = tmp_path_factory.mktemp("split")
    texts = [("x" * n) + f" line {i}" for i, n in enumerate(lengths)]
    _write_jsonl(root / "big.jsonl", texts)
    _write_jsonl(root / "small.jsonl", ["tiny"])
    plan = plan_steps(
        [JsonlReader(str(root))], tasks=1, sharding="by_size", target_shard_bytes=target
    )
    seen: list[str] = []
    for rank, files in enumerate(plan.shards):
        reader = JsonlReader(str(root))
        ctx = TaskContext(rank=rank, world_size=plan.tasks, files=files)
        collected: list[str] = []

        def sink(data, rank=0, world_size=1, out=collected):
            for doc in data:
                out.append(doc.text)
                yield doc

        run_pipeline([reader, sink], ctx)
        seen.extend(collected)
    assert sorted(seen) == sorted([*texts, "tiny"])


def test_compressed_files_are_never_split(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as fh:
        for i in range(2000):
            fh.write(json.dumps({"text": f"doc {i} " * 20}) + "\n")
    plan = plan_steps(
        [JsonlReader(str(tmp_path))], tasks=3, sharding="by_size", target_shard_bytes=100
    )
    assert plan.shards == ((FileRange("a.jsonl.gz"),),)


def test_plan_stage_from_spec(tmp_path: Path) -> None:
    for name in ("c", "a", "b", "d", "e"):
        _write_jsonl(tmp_path / "in" / f"{name}.jsonl", [f"text of {name}"])
    spec = PipelineSpec.from_dict(
        {
            "name": "t",
            "stages": [
                {
                    "name": "read",
                    "tasks": 2,
                    "pipeline": [
                        {"JsonlReader": {"data_folder": str(tmp_path / "in")}},
                        {"JsonlWriter": {"output_folder": str(tmp_path / "out")}},
                    ],
                },
                {
                    "name": "docs",
                    "tasks": 3,
                    "pipeline": [{"Documents": {"documents": []}}],
                },
            ],
        }
    )
    plan = plan_stage(spec.stage("read"))
    assert plan.tasks == 2 and plan.input_files == 5
    assert [[f.path for f in s or ()] for s in plan.shards] == [
        ["a.jsonl", "c.jsonl", "e.jsonl"],
        ["b.jsonl", "d.jsonl"],
    ]
    assert plan.shards_json()[1] == [["b.jsonl", None, None], ["d.jsonl", None, None]]
    assert plan_stage(spec.stage("read"), tasks=7).tasks == 7
    no_reader = plan_stage(spec.stage("docs"))
    assert no_reader.tasks == 3 and no_reader.shards == (None, None, None)


def test_by_size_unknown_sizes_get_their_own_shard() -> None:
    shards = by_size([("a", -1), ("b", -1), ("c", 5)], 100)
    assert [[f.path for f in s] for s in shards] == [["a"], ["b"], ["c"]]


def test_empty_input_plans_one_empty_shard() -> None:
    assert by_size([], 10) == [[]]
    assert round_robin([], 3) == [[], [], []]


def _warc_reader_available() -> bool:
    try:
        from blocks.readers.warc import WarcReader

        WarcReader.check_dependencies()
    except Exception:
        return False
    return True


@pytest.mark.parametrize("exact", [False, True])
def test_split_real_warc_gz_reads_every_record_once(tmp_path: Path, exact: bool) -> None:
    """Real crawler WARC.gz files cut into ranges (even offsets, or exact gzip members)
    yield exactly the documents of a whole-file read."""
    from tests.helpers import require

    require(_warc_reader_available(), "WarcReader dependencies (shardyard[io]) missing")
    try:
        from bench.realdata import warc_files

        sources = [p for p in warc_files() if p.name.endswith(".warc.gz")]
    except Exception as err:
        require(False, f"real WARC files unavailable: {err}")
        return
    from blocks.readers.warc import WarcReader

    sources = sorted(sources, key=lambda p: p.stat().st_size)[-2:]
    for i, src in enumerate(sources):
        (tmp_path / f"{i}-{src.name}").write_bytes(src.read_bytes())

    def read(files: tuple[FileRange, ...] | None) -> list[str]:
        got: list[str] = []

        def sink(data, rank=0, world_size=1):
            for doc in data:
                got.append(doc.id)
                yield doc

        run_pipeline([WarcReader(str(tmp_path)), sink], TaskContext(files=files))
        return got

    whole = read(None)
    assert whole, "the real WARCs hold documents"
    target = max(p.stat().st_size for p in tmp_path.iterdir()) // 5
    plan = plan_steps(
        [WarcReader(str(tmp_path))],
        sharding="by_size",
        target_shard_bytes=target,
        exact_member_offsets=exact,
    )
    assert any(f.start is not None for s in plan.shards for f in s or ())
    split = [doc for files in plan.shards for doc in read(files)]
    assert sorted(split) == sorted(whole)
