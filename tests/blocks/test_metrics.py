"""Exact, order-independent stats: any grouping of merges gives the same JSON, bit for bit."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.metrics import (
    FORMAT,
    BlockStats,
    MetricStats,
    MetricStatsDict,
    PipelineStats,
    merge_all,
)

ints = st.integers(min_value=-(2**80), max_value=2**80)
tiny = st.floats(min_value=-1e-300, max_value=1e-300, allow_nan=False)
huge = st.one_of(st.floats(min_value=1e300, max_value=1.7e308), st.floats(-1.7e308, -1e300))
any_float = st.floats(allow_nan=False, allow_infinity=False)
values = st.one_of(ints, any_float, tiny, huge, st.sampled_from([0, 0.0, -0.0, 1, 1.0, True]))
value_lists = st.lists(values, min_size=0, max_size=40)


def _metric(vals: Sequence[Any], unit: str | None = None) -> MetricStats:
    m = MetricStats(unit)
    for v in vals:
        m.update(v)
    return m


def _text(m: MetricStats) -> str:
    return json.dumps(m.to_dict(), sort_keys=True)


@st.composite
def groupings(draw: st.DrawFn) -> tuple[list[float | int], list[list[float | int]]]:
    """A list of values and the same values permuted and cut into chunks."""
    vals = draw(value_lists)
    order = draw(st.permutations(range(len(vals))))
    cuts = sorted(draw(st.lists(st.integers(0, len(vals)), max_size=6)))
    shuffled = [vals[i] for i in order]
    bounds = [0, *cuts, len(vals)]
    chunks = [shuffled[a:b] for a, b in itertools.pairwise(bounds)]
    return vals, chunks


@st.composite
def merge_trees(draw: st.DrawFn, parts: list[MetricStats]) -> MetricStats:
    """Merge ``parts`` pairwise in a random tree shape (random adjacent pairs first)."""
    items = list(parts)
    while len(items) > 1:
        i = draw(st.integers(0, len(items) - 2))
        left, right = items[i], items[i + 1]
        if draw(st.booleans()):
            merged = left + right
        else:
            merged = MetricStats()
            merged += right
            merged += left
        items[i : i + 2] = [merged]
    return items[0] if items else MetricStats()


@settings(max_examples=80, deadline=None)
@given(data=st.data(), grouping=groupings())
def test_any_order_and_grouping_gives_identical_json(
    data: st.DataObject, grouping: tuple[list[float | int], list[list[float | int]]]
) -> None:
    vals, chunks = grouping
    sequential = _metric(vals)
    merged = data.draw(merge_trees([_metric(c) for c in chunks]))
    assert _text(merged) == _text(sequential)
    assert merged == sequential


@settings(max_examples=60, deadline=None)
@given(a=value_lists, b=value_lists, c=value_lists)
def test_merge_is_associative_and_commutative(
    a: list[float | int], b: list[float | int], c: list[float | int]
) -> None:
    ma, mb, mc = _metric(a), _metric(b), _metric(c)
    left = (ma + mb) + mc
    right = ma + (mb + mc)
    swapped = mc + (mb + ma)
    assert _text(left) == _text(right) == _text(swapped)


@settings(max_examples=60, deadline=None)
@given(vals=st.lists(values, min_size=1, max_size=40))
def test_values_are_exact_and_rounded_once(vals: list[float | int]) -> None:
    m = _metric(vals)
    exact = [Fraction(v) for v in vals]
    s = sum(exact, Fraction(0))
    d = m.to_dict()
    assert d["n"] == len(vals)
    if all(type(v) is int or type(v) is bool for v in vals):
        assert d["total"] == int(s) and type(d["total"]) is int
    mean = s / len(vals)
    if abs(mean) < Fraction(1.7e308):
        assert d["mean"] == float(mean)  # correctly rounded, not accumulated
    assert d["min"] == min(vals) and d["max"] == max(vals)
    if len(vals) > 1:
        sq = sum((x * x for x in exact), Fraction(0))
        var = (sq - s * s / len(vals)) / (len(vals) - 1)
        if var < Fraction(1.7e308):
            assert d["variance"] == float(var)
        else:
            assert d["variance"] == math.inf


@settings(max_examples=60, deadline=None)
@given(a=value_lists, b=value_lists)
def test_json_round_trip_keeps_merging_exact(a: list[float | int], b: list[float | int]) -> None:
    ma, mb = _metric(a, "doc"), _metric(b, "doc")
    ra = MetricStats.from_dict(json.loads(json.dumps(ma.to_dict())))
    rb = MetricStats.from_dict(json.loads(json.dumps(mb.to_dict())))
    assert _text(ra) == _text(ma)
    assert _text(ra + rb) == _text(ma + mb)


def test_huge_and_tiny_floats_do_not_overflow_or_vanish() -> None:
    m = _metric([1e308, 1e308, 1e-320])
    d = m.to_dict()
    assert d["total"] == math.inf and d["min"] == 1e-320 and d["max"] == 1e308
    # a float accumulator would lose the subnormal next to the huge values
    assert _metric([1e300, 5e-324, -1e300]).total == 5e-324
    assert _metric([1e-320, 1e-320]).total == 2e-320
    # squares of 1e-160 (1e-320) are subnormal: a float sum of squares would be inexact
    vals = [1e-160, 3e-160, 2e-160]
    exact = [Fraction(v) for v in vals]
    var = (sum(x * x for x in exact) - sum(exact) ** 2 / 3) / 2
    assert _metric(vals).variance == float(var) > 0


def test_ties_are_broken_the_same_whatever_the_order() -> None:
    assert (_metric([1]) + _metric([1.0])).to_dict()["min"] == 1
    assert type((_metric([1.0]) + _metric([1])).to_dict()["min"]) is int
    both = _metric([0.0, -0.0])
    assert math.copysign(1, both.min) == -1 and math.copysign(1, both.max) == 1
    assert _text(_metric([-0.0, 0.0])) == _text(both)


def test_numpy_bool_and_int_inputs() -> None:
    m = _metric([np.int64(2**62 + 1), True, np.float32(0.5)])
    assert m.max == 2**62 + 1 and type(m.max) is int  # no float rounding of a numpy int
    assert m.to_dict()["exact"]["sum"] == str((2**62 + 2) * 2 + 1)  # scale 1 (0.5 = 1/2)
    with pytest.raises(ValueError, match="finite"):
        MetricStats().update(math.inf)
    with pytest.raises(ValueError, match="finite"):
        MetricStats().update(float("nan"))


def test_int_only_metric_json_layout() -> None:
    d = _metric([2, 4, 6], "doc").to_dict()
    assert d == {
        "n": 3,
        "total": 12,
        "mean": 4.0,
        "min": 2,
        "max": 6,
        "variance": 4.0,
        "std_dev": 2.0,
        "unit": "doc",
        "exact": {"float": False, "scale": 0, "sum": "12", "sum_sq": "56"},
    }
    assert MetricStats().to_dict() == {
        "n": 0,
        "total": 0,
        "exact": {"float": False, "scale": 0, "sum": "0", "sum_sq": "0"},
    }


def test_legacy_layout_and_hand_written_dicts_are_read() -> None:
    legacy = {
        "n": 2,
        "total": 2.0,
        "min": 0.5,
        "max": 1.5,
        "exact": {"scale": 1074, "sum": str(2 << 1074), "sum_sq": str(5 << 1073)},
    }
    m = MetricStats.from_dict(legacy)
    assert m.variance == 0.5 and m.mean == 1.0 and m.total == 2.0
    assert _text(m + _metric([1.0])) == _text(_metric([0.5, 1.5, 1.0]))
    hand = MetricStats.from_dict({"n": 2, "total": 7, "min": 3, "max": 4})
    assert hand.total == 7 and (hand + _metric([1])).total == 8
    hand_float = MetricStats.from_dict({"n": 1, "total": 0.25, "min": 0.25, "max": 0.25})
    assert (hand_float + _metric([0.5])).total == 0.75


def test_units_merge_deterministically() -> None:
    assert (_metric([1], "doc") + _metric([1])).unit == "doc"
    assert (_metric([1]) + _metric([1], "doc")).unit == "doc"
    assert (_metric([1], "s") + _metric([1], "doc")).unit == (
        _metric([1], "doc") + _metric([1], "s")
    ).unit


def _pipeline(counts: dict[str, list[int]], seconds: list[float]) -> PipelineStats:
    reader = BlockStats("JsonlReader", "reader")
    for label, vals in counts.items():
        for v in vals:
            reader.stats[label].update(v)
    for s in seconds:
        reader.time.update(s)
    return PipelineStats(blocks=[reader, BlockStats("JsonlWriter", "writer")])


@settings(max_examples=30, deadline=None)
@given(
    shards=st.lists(
        st.tuples(
            st.dictionaries(
                st.sampled_from(["documents", "doc_len", "error_bad_json"]),
                st.lists(st.integers(0, 10**6), max_size=5),
            ),
            st.lists(st.floats(0, 10), max_size=5),
        ),
        min_size=1,
        max_size=6,
    ),
    order=st.randoms(use_true_random=False),
)
def test_pipeline_stats_merge_in_any_order(
    shards: list[tuple[dict[str, list[int]], list[float]]], order: random.Random
) -> None:
    parts = [_pipeline(c, s) for c, s in shards]
    shuffled = list(parts)
    order.shuffle(shuffled)
    a, b = merge_all(parts), merge_all(shuffled)
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())
    assert a.shards == len(parts)
    restored = PipelineStats.from_dict(json.loads(json.dumps(a.to_dict())))
    assert restored.to_dict() == a.to_dict()
    assert restored["JsonlReader"].type == "reader"


def test_pipeline_stats_refuse_other_pipelines_and_bad_documents() -> None:
    a = _pipeline({"documents": [1]}, [])
    other = PipelineStats(blocks=[BlockStats("CsvReader", "reader")])
    with pytest.raises(ValueError, match="different pipelines"):
        a += other
    with pytest.raises(ValueError, match="not a shardyard stats document"):
        PipelineStats.from_dict({"format": "something/else", "blocks": []})
    assert a.to_dict()["format"] == FORMAT
    # stats of nothing (an empty merge) only add their shard count
    empty = merge_all([])
    assert empty.shards == 0 and empty.blocks == []
    a += PipelineStats(shards=0)
    assert a.shards == 1 and a["JsonlReader"].stats["documents"].n == 1
    with pytest.raises(KeyError):
        a["nope"]


def test_metric_dict_json_is_sorted_and_creates_missing_labels() -> None:
    d = MetricStatsDict()
    d["zeta"].update(1)
    d["alpha"].update(2)
    other = MetricStatsDict()
    other["beta"].update(3)
    d += other
    assert list(d.to_dict()) == ["alpha", "beta", "zeta"]
    assert MetricStatsDict.from_dict(d.to_dict()).to_dict() == d.to_dict()
