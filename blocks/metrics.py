"""Mergeable statistics, exact in any merge order. This module defines ``stats.json``.

A :class:`MetricStats` keeps the count, the exact sum and the exact sum of squares of the
values it saw, plus min and max. The sums are Python ints in fixed point: every finite
float is ``m * 2**-k`` for integers ``m`` and ``0 <= k <= 1074``, so a metric keeps
``scale`` = the largest ``k`` among its float values, ``sum`` = (exact sum) * 2**scale and
``sum_sq`` = (exact sum of squares) * 2**(2*scale). Both are integers, nothing is ever
rounded, and merging is integer addition after aligning scales (a left shift, also exact).
JSON carries the smallest scale at which both are still integers (a canonical form).
Hence any order and any grouping of ``update``/``+=`` gives bit-identical sums, means and
variances, whatever the magnitudes (1e-300 and 1e300 in one metric are fine).

min/max break ties deterministically (an int beats an equal float for both; -0.0 is the
smaller zero), so even the JSON text of a merge does not depend on the order.

JSON of one metric (``MetricStats.to_dict``; ``from_dict`` reads it back)::

    {"n": 3, "total": 12, "mean": 4.0, "min": 2, "max": 6,
     "variance": 4.0, "std_dev": 2.0, "unit": "doc",
     "exact": {"float": false, "scale": 0, "sum": "12", "sum_sq": "56"}}

- ``n``: number of observations (int). ``total``: their sum; an int while every value was
  an int, else a float. ``mean``, ``variance`` (sample variance, divisor n - 1, 0.0 when
  n < 2, as DataTrove reports it) and ``std_dev`` are floats rounded once from the exact
  values; a value beyond the float range is written as +-inf (``Infinity`` in Python's
  json; orjson writes null). ``min``/``max`` are the extreme values as given (int or float).
  ``mean``/``min``/``max``/``variance``/``std_dev`` are absent when ``n`` is 0.
- ``unit`` (optional): what one observation counts (``"doc"``, ``"s"``, ``"token"``...).
- ``exact`` is what merging reads; the other numbers are for people. ``float``: whether any
  value was a float; ``scale``: the fixed-point exponent above (the smallest one that
  keeps both sums integers); ``sum``/``sum_sq``: decimal strings of the integers above
  (``sum_sq`` at scale ``2*scale``): exact sum = int(sum) / 2**scale, exact sum of
  squares = int(sum_sq) / 2**(2*scale). Files written before
  ``float`` existed used ``scale`` 1074 for both sums; ``from_dict`` still reads them.

JSON of a block (``BlockStats.to_dict``)::

    {"name": "JsonlReader", "type": "reader",
     "time": {<metric, unit "s": seconds spent in the block per call>},
     "stats": {"documents": {<metric>}, "doc_len": {<metric>}, "dropped_short": {...}, ...}}

JSON of a pipeline (``PipelineStats.to_dict``: one shard's stats, and ``stats.json``)::

    {"format": "shardyard.stats/1", "shards": 4, "blocks": [<block>, ...]}

``blocks`` are in pipeline order; ``shards`` counts the shard stats merged into it. Two
pipeline stats merge only when their block names match position by position.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

FORMAT = "shardyard.stats/1"
_LEGACY_SCALE = 1074  # the fixed scale of files written before the "float" flag existed


def _as_float(value: Fraction) -> float:
    """Round an exact value once; beyond the float range it becomes +-inf."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _trailing_zeros(value: int) -> int:
    return (value & -value).bit_length() - 1


def _min_key(value: float | int) -> tuple[float | int, int, float]:
    # total order for min: by value, then an int before an equal float, -0.0 before 0.0
    if isinstance(value, float):
        return (value, 1, math.copysign(1.0, value))
    return (value, 0, 0.0)


def _max_key(value: float | int) -> tuple[float | int, int, float]:
    # total order for max: by value, then an int after an equal float, 0.0 after -0.0
    if isinstance(value, float):
        return (value, 0, math.copysign(1.0, value))
    return (value, 1, 0.0)


class MetricStats:
    """Count, exact sum, exact sum of squares, min and max of a stream of numbers."""

    __slots__ = ("_float", "_scale", "_sum", "_sum_sq", "max", "min", "n", "unit")

    def __init__(self, unit: str | None = None) -> None:
        self.n = 0
        self._sum = 0
        self._sum_sq = 0
        self._scale = 0
        self._float = False
        self.min: float | int = math.inf
        self.max: float | int = -math.inf
        self.unit = unit

    def _shift(self, bits: int) -> None:
        """Raise the fixed-point scale by ``bits`` (exact)."""
        if bits > 0:
            self._sum <<= bits
            self._sum_sq <<= 2 * bits
            self._scale += bits

    def _extremes(self, low: float | int, high: float | int) -> None:
        if self.n == 0 or _min_key(low) < _min_key(self.min):
            self.min = low
        if self.n == 0 or _max_key(high) > _max_key(self.max):
            self.max = high

    def update(self, value: float | int = 1, unit: str | None = None) -> None:
        """Add one observation (an int, a float, a bool or a numpy scalar)."""
        if type(value) is not int:  # the common case (counters) skips all of this
            if isinstance(value, float) or not hasattr(value, "__index__"):
                self._update_float(float(value))
                if unit is not None and self.unit is None:
                    self.unit = unit
                return
            value = operator.index(value)  # bool and numpy ints become plain ints
        scale = self._scale
        if scale:
            self._sum += value << scale
            self._sum_sq += (value * value) << (2 * scale)
        else:
            self._sum += value
            self._sum_sq += value * value
        if self.n == 0:
            self.min = self.max = value
        else:
            low, high = self.min, self.max
            if value < low or (value == low and type(low) is not int):
                self.min = value
            if value > high or (value == high and type(high) is not int):
                self.max = value
        self.n += 1
        if unit is not None and self.unit is None:
            self.unit = unit

    def _update_float(self, value: float) -> None:
        if not math.isfinite(value):
            raise ValueError(f"stat value must be finite, got {value!r}")
        num, den = value.as_integer_ratio()
        k = den.bit_length() - 1  # den is 2**k
        if k > self._scale:
            self._shift(k - self._scale)
        s = self._scale - k
        self._sum += num << s
        self._sum_sq += (num * num) << (2 * s)
        self._float = True
        if self.n == 0:
            self.min = self.max = value
        else:
            low, high = self.min, self.max
            if value < low or (value == low and _min_key(value) < _min_key(low)):
                self.min = value
            if value > high or (value == high and _max_key(value) > _max_key(high)):
                self.max = value
        self.n += 1

    def __iadd__(self, other: MetricStats) -> MetricStats:
        if other.n == 0:
            return self
        self._shift(other._scale - self._scale)
        s = self._scale - other._scale
        self._sum += other._sum << s
        self._sum_sq += other._sum_sq << (2 * s)
        self._float = self._float or other._float
        self._extremes(other.min, other.max)
        self.n += other.n
        if other.unit is not None and (self.unit is None or other.unit < self.unit):
            self.unit = other.unit  # the smallest name wins so that merge order never matters
        return self

    def __add__(self, other: MetricStats) -> MetricStats:
        out = MetricStats(self.unit)
        out += self
        out += other
        return out

    # -- derived values -------------------------------------------------------------
    def _exact_sum(self) -> Fraction:
        return Fraction(self._sum, 1 << self._scale)

    @property
    def total(self) -> float | int:
        if not self._float:
            return self._sum
        return _as_float(self._exact_sum())

    @property
    def mean(self) -> float:
        if self.n == 0:
            return 0.0
        return _as_float(self._exact_sum() / self.n)

    @property
    def variance(self) -> float:
        if self.n < 2:
            return 0.0
        s = self._exact_sum()
        sq = Fraction(self._sum_sq, 1 << (2 * self._scale))
        return max(0.0, _as_float((sq - s * s / self.n) / (self.n - 1)))

    @property
    def std_dev(self) -> float:
        return math.sqrt(self.variance)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricStats):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

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
        scale, total, total_sq = self._canonical()
        out["exact"] = {
            "float": self._float,
            "scale": scale,
            "sum": str(total),
            "sum_sq": str(total_sq),
        }
        return out

    def _canonical(self) -> tuple[int, int, int]:
        """The smallest scale that keeps both sums integers, so equal stats print alike."""
        drop = self._scale
        if self._sum:
            drop = min(drop, _trailing_zeros(self._sum))
        if self._sum_sq:
            drop = min(drop, _trailing_zeros(self._sum_sq) // 2)
        return self._scale - drop, self._sum >> drop, self._sum_sq >> (2 * drop)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricStats:
        """Inverse of :meth:`to_dict`.

        Also accepts a hand-written dict without ``exact`` (``n``, ``total``, ``min``,
        ``max``): its sum is exact but its sum of squares is unknown (taken as 0).
        """
        out = cls(data.get("unit"))
        out.n = int(data.get("n", 0))
        exact = data.get("exact")
        if exact is not None:
            out._scale = int(exact["scale"])
            out._sum = int(exact["sum"])
            out._sum_sq = int(exact["sum_sq"])
            if "float" in exact:
                out._float = bool(exact["float"])
            else:  # legacy layout: both sums at scale 1074 (or 0 for ints only)
                out._float = out._scale > 0
                if out._scale == _LEGACY_SCALE:
                    out._sum_sq <<= _LEGACY_SCALE
        else:
            total = data.get("total", 0)
            if isinstance(total, int):
                out._sum = total
            else:
                num, den = float(total).as_integer_ratio()
                out._float = True
                out._scale = den.bit_length() - 1
                out._sum = num
        if out.n:
            out.min = data["min"]
            out.max = data["max"]
        return out


class MetricStatsDict(dict[str, MetricStats]):
    """A dict of label -> MetricStats that creates missing entries, as DataTrove's does."""

    def __missing__(self, key: str) -> MetricStats:
        value = self[key] = MetricStats()
        return value

    def __iadd__(self, other: Mapping[str, MetricStats]) -> MetricStatsDict:
        for key, value in other.items():
            self[key] += value
        return self

    def to_dict(self) -> dict[str, dict[str, Any]]:
        # sorted, so that the JSON text of a merge does not depend on the merge order
        return {k: self[k].to_dict() for k in sorted(self)}

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
        if not other.blocks:  # stats of nothing (an empty merge): only its shard count adds
            self.shards += other.shards
            return self
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
