"""Mergeable statistics.

A :class:`MetricStats` keeps the count, the exact sum and the exact sum of squares of
the values it saw, plus min and max. Sums of integers are Python ints; as soon as a
float arrives the sums switch to fixed point with 2**-1074 as unit (the smallest float
step), which is still an int and therefore exact. Merging is integer addition, so any
order and any grouping of merges gives bit-identical totals, means and variances.

JSON format of one metric (``MetricStats.to_dict``)::

    {"n": 3, "total": 12, "mean": 4.0, "min": 2, "max": 6,
     "variance": 4.0, "std_dev": 2.0, "unit": "doc",
     "exact": {"scale": 0, "sum": "12", "sum_sq": "56"}}

``total``/``mean``/``variance`` are for people; ``exact`` is what merging reads.
``variance`` is the sample variance (n - 1), as DataTrove reports it.

JSON format of a pipeline's stats (``PipelineStats.to_dict``, the ``stats.json`` file)::

    {"format": "shardyard.stats/1", "shards": 4,
     "blocks": [{"name": "JsonlReader", "type": "reader",
                 "time": {<metric, seconds>}, "stats": {"total": {<metric>}, ...}}]}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

FORMAT = "shardyard.stats/1"
_FLOAT_SCALE = 1074  # 2**-1074 is the smallest positive float: every float is an int multiple


def _to_fixed(value: float) -> int:
    num, den = value.as_integer_ratio()
    # den is a power of two <= 2**1074, so the shift is exact
    return num << (_FLOAT_SCALE - (den.bit_length() - 1))


def _fraction(raw: int, scale: int) -> Fraction:
    return Fraction(raw, 1 << scale) if scale else Fraction(raw)


class MetricStats:
    """Count, exact sum, exact sum of squares, min and max of a stream of numbers."""

    __slots__ = ("_scale", "_sum", "_sum_sq", "max", "min", "n", "unit")

    def __init__(self, unit: str | None = None) -> None:
        self.n = 0
        self._sum = 0
        self._sum_sq = 0
        self._scale = 0
        self.min: float | int = math.inf
        self.max: float | int = -math.inf
        self.unit = unit

    def _rescale(self) -> None:
        if self._scale == 0:
            self._sum <<= _FLOAT_SCALE
            self._sum_sq <<= _FLOAT_SCALE
            self._scale = _FLOAT_SCALE

    def update(self, value: float | int = 1, unit: str | None = None) -> None:
        """Add one observation."""
        self.n += 1
        if type(value) is int or type(value) is bool:
            v = int(value)
            if self._scale:
                self._sum += v << _FLOAT_SCALE
                self._sum_sq += (v * v) << _FLOAT_SCALE
            else:
                self._sum += v
                self._sum_sq += v * v
        else:
            fv = float(value)
            if not math.isfinite(fv):
                raise ValueError(f"stat value must be finite, got {value!r}")
            self._rescale()
            self._sum += _to_fixed(fv)
            self._sum_sq += _to_fixed(fv * fv)
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        if unit is not None and self.unit is None:
            self.unit = unit

    def __iadd__(self, other: MetricStats) -> MetricStats:
        if other.n == 0:
            return self
        if other._scale and not self._scale:
            self._rescale()
        o_sum, o_sq = other._sum, other._sum_sq
        if self._scale and not other._scale:
            o_sum <<= _FLOAT_SCALE
            o_sq <<= _FLOAT_SCALE
        self.n += other.n
        self._sum += o_sum
        self._sum_sq += o_sq
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        if self.unit is None:
            self.unit = other.unit
        return self

    def __add__(self, other: MetricStats) -> MetricStats:
        out = MetricStats(self.unit)
        out += self
        out += other
        return out

    # -- derived values -------------------------------------------------------------
    @property
    def total(self) -> float | int:
        if self._scale:
            return float(_fraction(self._sum, self._scale))
        return self._sum

    @property
    def mean(self) -> float:
        if self.n == 0:
            return 0.0
        return float(_fraction(self._sum, self._scale) / self.n)

    @property
    def variance(self) -> float:
        if self.n < 2:
            return 0.0
        s = _fraction(self._sum, self._scale)
        sq = _fraction(self._sum_sq, self._scale)
        var = (sq - s * s / self.n) / (self.n - 1)
        return max(0.0, float(var))

    @property
    def std_dev(self) -> float:
        return math.sqrt(self.variance)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricStats):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"MetricStats(n={self.n}, total={self.total}, mean={self.mean:.4g})"

    # -- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "total": self.total}
        if self.n:
            out.update(
                mean=self.mean,
                min=self.min,
                max=self.max,
                variance=self.variance,
                std_dev=self.std_dev,
            )
        if self.unit is not None:
            out["unit"] = self.unit
        out["exact"] = {"scale": self._scale, "sum": str(self._sum), "sum_sq": str(self._sum_sq)}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricStats:
        """Inverse of :meth:`to_dict`. Accepts hand-written dicts without ``exact`` (int sums)."""
        out = cls(data.get("unit"))
        out.n = int(data.get("n", 0))
        exact = data.get("exact")
        if exact is not None:
            out._scale = int(exact["scale"])
            out._sum = int(exact["sum"])
            out._sum_sq = int(exact["sum_sq"])
        else:
            total = data.get("total", 0)
            if isinstance(total, int):
                out._sum = total
            else:
                out._rescale()
                out._sum = _to_fixed(float(total))
        if out.n:
            out.min = data["min"]
            out.max = data["max"]
        return out


class MetricStatsDict(dict[str, MetricStats]):
    """A dict of label -> MetricStats that creates missing entries, as DataTrove's does."""

    def __missing__(self, key: str) -> MetricStats:
        value = self[key] = MetricStats()
        return value

    def __iadd__(self, other: Mapping[str, MetricStats]) -> MetricStatsDict:  # type: ignore[override,misc]
        for key, value in other.items():
            self[key] += value
        return self

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {k: v.to_dict() for k, v in self.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> MetricStatsDict:
        out = cls()
        for key, value in data.items():
            out[key] = MetricStats.from_dict(value)
        return out


@dataclass
class BlockStats:
    """The stats of one block: labelled metrics plus the time spent in it."""

    name: str
    type: str = ""
    stats: MetricStatsDict = field(default_factory=MetricStatsDict)
    time: MetricStats = field(default_factory=lambda: MetricStats("s"))

    def __iadd__(self, other: BlockStats) -> BlockStats:
        self.stats += other.stats
        self.time += other.time
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "time": self.time.to_dict(),
            "stats": self.stats.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BlockStats:
        return cls(
            name=data["name"],
            type=data.get("type", ""),
            stats=MetricStatsDict.from_dict(data.get("stats", {})),
            time=MetricStats.from_dict(data.get("time", {"n": 0})),
        )


@dataclass
class PipelineStats:
    """Stats of every block of a pipeline, for one shard or merged over many."""

    blocks: list[BlockStats] = field(default_factory=list)
    shards: int = 1

    def __iadd__(self, other: PipelineStats) -> PipelineStats:
        if not self.blocks:
            self.blocks = [BlockStats(b.name, b.type) for b in other.blocks]
            self.shards = 0
        if [b.name for b in self.blocks] != [b.name for b in other.blocks]:
            raise ValueError(
                "cannot merge stats of different pipelines: "
                f"{[b.name for b in self.blocks]} vs {[b.name for b in other.blocks]}"
            )
        for mine, theirs in zip(self.blocks, other.blocks, strict=True):
            mine += theirs
        self.shards += other.shards
        return self

    def __getitem__(self, name: str) -> BlockStats:
        for block in self.blocks:
            if block.name == name:
                return block
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "shards": self.shards,
            "blocks": [b.to_dict() for b in self.blocks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineStats:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a shardyard stats document (format={data.get('format')!r})")
        return cls(
            blocks=[BlockStats.from_dict(b) for b in data["blocks"]],
            shards=int(data.get("shards", 1)),
        )

    def __iter__(self) -> Iterator[BlockStats]:
        return iter(self.blocks)


def merge_all(items: Iterable[PipelineStats]) -> PipelineStats:
    """Merge any number of pipeline stats; the result does not depend on their order."""
    out = PipelineStats(shards=0)
    for item in items:
        out += item
    return out
