"""Merging per-shard stats: order independent, stage-keyed, DataTrove folders understood."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.metrics import BlockStats, PipelineStats, merge_all
from dispatcher.merge import (
    STAGES_FORMAT,
    StatsError,
    merge_documents,
    merge_run,
    merge_stage,
    merge_stats_dir,
    parse_stats,
    read_stats_file,
)
from dispatcher.state import StateStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dispatcher" / "datatrove_stats"


@pytest.fixture
def store() -> StateStore:
    import fakeredis

    return StateStore(fakeredis.FakeRedis(decode_responses=True))


values = st.one_of(st.integers(-1000, 10**6), st.floats(-1e6, 1e6, allow_nan=False))


def shard_stats(seed: int, lengths: list[float | int]) -> PipelineStats:
    reader, writer = BlockStats("JsonlReader", "reader"), BlockStats("JsonlWriter", "writer")
    rng = random.Random(seed)
    for value in lengths:
        reader.stats["documents"].update(1)
        reader.stats["doc_len"].update(value, "doc")
        reader.time.update(rng.random() / 100)
        if rng.random() < 0.5:
            writer.stats["documents"].update(1)
    return PipelineStats(blocks=[reader, writer], shards=1)


@settings(max_examples=30, deadline=None)
@given(shards=st.lists(st.lists(values, max_size=20), min_size=1, max_size=8), seed=st.integers())
def test_merge_is_order_independent(shards: list[list[float | int]], seed: int) -> None:
    docs = [json.dumps(shard_stats(i, v).to_dict()) for i, v in enumerate(shards)]
    shuffled = docs[:]
    random.Random(seed).shuffle(shuffled)
    a, b = merge_documents(docs).to_dict(), merge_documents(shuffled).to_dict()
    assert a == b
    assert a["shards"] == len(shards)
    reader = a["blocks"][0]["stats"]
    assert reader.get("documents", {"n": 0})["n"] == sum(len(v) for v in shards)


def _complete(store: StateStore, run: str, stage: str, tasks: int, docs: list[str]) -> None:
    store.set_stage_plan(run, stage, tasks)
    for rank, doc in enumerate(docs):
        claim = store.claim(run, stage, rank, "w", 30)
        assert claim.acquired
        store.complete(run, stage, rank, claim.token, doc)


def _spec_json(stages: list[str]) -> str:
    return json.dumps(
        {"name": "x", "stages": [{"name": s, "tasks": 1, "pipeline": []} for s in stages]}
    )


def test_merge_stage_single_stage_writes_pipeline_stats(store: StateStore, tmp_path: Path) -> None:
    store.create_run("r1", _spec_json(["main"]), "h1", {})
    stats = [shard_stats(i, [i * 10.5, 3, 7]) for i in range(4)]
    _complete(store, "r1", "main", 4, [json.dumps(s.to_dict()) for s in stats])
    merged = merge_stage(store, "r1", "main", str(tmp_path))
    on_disk = read_stats_file(str(tmp_path))
    assert on_disk == merged.to_dict() == merge_all(stats).to_dict()
    assert on_disk is not None and on_disk["shards"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name != "stats.json"], "no temp file left"


def test_merge_stage_multi_stage_keeps_other_stages(store: StateStore, tmp_path: Path) -> None:
    store.create_run("r2", _spec_json(["sig", "buckets"]), "h2", {})
    first = [shard_stats(i, [1, 2, 3]) for i in range(2)]
    _complete(store, "r2", "sig", 2, [json.dumps(s.to_dict()) for s in first])
    merge_stage(store, "r2", "sig", str(tmp_path))
    second = [shard_stats(9, [5.5])]
    _complete(store, "r2", "buckets", 1, [json.dumps(s.to_dict()) for s in second])
    merge_stage(store, "r2", "buckets", str(tmp_path))
    doc = read_stats_file(str(tmp_path))
    assert doc is not None and doc["format"] == STAGES_FORMAT
    assert list(doc["stages"]) == ["sig", "buckets"]
    assert doc["stages"]["sig"] == merge_all(first).to_dict()
    assert doc["stages"]["buckets"] == merge_all(second).to_dict()
    # on demand, everything again from the store: same document
    (tmp_path / "stats.json").unlink()
    merge_run(store, "r2", str(tmp_path))
    assert read_stats_file(str(tmp_path)) == doc


def test_merge_refuses_stats_of_different_pipelines(store: StateStore, tmp_path: Path) -> None:
    store.create_run("r3", _spec_json(["main"]), "h3", {})
    other = PipelineStats(blocks=[BlockStats("Other", "filter")])
    docs = [json.dumps(shard_stats(0, [1]).to_dict()), json.dumps(other.to_dict())]
    _complete(store, "r3", "main", 2, docs)
    with pytest.raises(StatsError, match="r3/main"):
        merge_stage(store, "r3", "main", str(tmp_path))


def test_merge_stats_dir_of_shardyard_files(tmp_path: Path) -> None:
    stats = [shard_stats(i, [i, i + 0.25]) for i in range(5)]
    for i, s in enumerate(stats):
        (tmp_path / f"{i:05d}.json").write_text(json.dumps(s.to_dict()))
    out = tmp_path / "stats.json"
    merged = merge_stats_dir(tmp_path, out)
    assert json.loads(out.read_text()) == merged.to_dict() == merge_all(stats).to_dict()
    # the merged file in the folder is not merged into itself on a second run
    assert merge_stats_dir(tmp_path, out).to_dict() == merged.to_dict()


def test_merge_stats_dir_of_datatrove_files_matches_datatrove() -> None:
    """Files written by DataTrove 0.10.1 (see make_datatrove_stats.py), merged by us, agree
    with DataTrove's own merge of them."""
    merged = merge_stats_dir(FIXTURES)
    expected = json.loads((FIXTURES / "stats.json").read_text())
    assert merged.shards == 3
    for ours, theirs in zip(merged.blocks, expected, strict=True):
        assert ours.name == theirs["name"]
        assert ours.time.n == theirs["time_stats"]["n"]
        assert ours.time.total == pytest.approx(theirs["time_stats"]["total"], rel=1e-12)
        assert ours.time.variance == pytest.approx(theirs["time_stats"]["variance"], rel=1e-9)
        for label, value in theirs["stats"].items():
            metric = ours.stats[label]
            if isinstance(value, dict):
                assert metric.n == value.get("n", value["total"])
                assert metric.total == value["total"]
                assert metric.min == value["min"] and metric.max == value["max"]
                assert metric.mean == pytest.approx(value["mean"], rel=1e-12)
                assert metric.variance == pytest.approx(value["variance"], rel=1e-9)
            else:  # a counter: DataTrove writes the bare total
                assert metric.n == metric.total == value


def test_parse_stats_rejects_other_json(tmp_path: Path) -> None:
    with pytest.raises(StatsError, match="not a shardyard or DataTrove"):
        parse_stats({"hello": 1})
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(StatsError, match="not JSON"):
        merge_stats_dir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StatsError, match="no per-shard stats"):
        merge_stats_dir(tmp_path / "empty")
    with pytest.raises(StatsError, match="is not a folder"):
        merge_stats_dir(tmp_path / "absent")
