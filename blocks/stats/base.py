"""Summary statistics blocks: per-document metrics grouped and saved per shard.

A stats block computes ``extract_stats(doc) -> {metric: value}`` for each document,
adds the values to the document's metadata, and aggregates them in groups:

``summary``    one key, ``"summary"``: the metric over the whole shard
``fqdn``       one key per host name of ``metadata["url"]``
``suffix``     one key per public suffix (``com``, ``co.uk``) of ``metadata["url"]``
``histogram``  one key per value rounded to ``histogram_round_digits``; counts documents
               (``<metric>``), their characters (``<metric>_chars``) and tokens when known

Each shard writes ``{group}/{metric}/{rank:05d}.json`` (a MetricStatsDict as JSON) under a
temporary name that is renamed on commit, like every output. :class:`StatsMerger` merges
the shards into ``{group}/{metric}/metric.json``, which loads with
``MetricStatsDict.from_dict(json.load(f))``. The fqdn and suffix groups keep only the
``top_k`` keys with the most documents per shard and after merging.
"""

from __future__ import annotations

import heapq
import json
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from blocks.base import PipelineStep, TaskContext
from blocks.document import Document
from blocks.io import DataFolder, get_datafolder, temp_name
from blocks.metrics import MetricStatsDict

GROUP = Literal["summary", "histogram", "fqdn", "suffix"]
GROUPS: tuple[str, ...] = ("summary", "histogram", "fqdn", "suffix")
MERGED_NAME = "metric.json"


@dataclass(frozen=True)
class TopKConfig:
    """Keep only the ``top_k`` keys (by document count) of the groups in ``top_k_groups``."""

    top_k_groups: list[str] = field(default_factory=lambda: ["fqdn", "suffix"])
    top_k: int = 100_000


DEFAULT_TOP_K_CONFIG = TopKConfig()


def safe_divide(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _top_k(stats: MetricStatsDict, k: int) -> MetricStatsDict:
    if len(stats) <= k:
        return stats
    # ties broken by key so that the choice does not depend on insertion order
    keep = heapq.nsmallest(k, stats, key=lambda key: (-stats[key].n, key))
    out = MetricStatsDict()
    for key in keep:
        out[key] = stats[key]
    return out


class BaseStats(PipelineStep):
    """Base of the summary stats blocks; subclasses implement ``extract_stats``."""

    type = "stats"
    _requires_dependencies: ClassVar[tuple[str | tuple[str, str], ...]] = (
        ("tldextract", "processing"),
    )

    def __init__(
        self,
        output_folder: Any,
        groups_to_compute: list[GROUP] | None = None,
        histogram_round_digits: int = 3,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.output_folder: DataFolder = get_datafolder(output_folder)
        groups = list(groups_to_compute or GROUPS)
        unknown = [g for g in groups if g not in GROUPS]
        if unknown:
            raise ValueError(f"unknown groups {unknown}; choose from {list(GROUPS)}")
        self.groups = groups
        self.histogram_round_digits = histogram_round_digits
        if isinstance(top_k_config, dict):
            top_k_config = TopKConfig(**top_k_config)
        self.top_k_config = top_k_config or DEFAULT_TOP_K_CONFIG
        self._tld: Any = None
        self._temps: list[tuple[str, str]] = []
        self._counters: dict[str, dict[str, MetricStatsDict]] = {}
        self._deferred = False

    @abstractmethod
    def extract_stats(self, doc: Document) -> dict[str, int | float]:
        """The metrics of one document."""

    # -- grouping -------------------------------------------------------------------
    def _host_parts(self, doc: Document) -> tuple[str, str]:
        fqdn = doc.metadata.get("fqdn")
        suffix = doc.metadata.get("suffix")
        if fqdn is None or suffix is None:
            url = doc.metadata.get("url") or ""
            if self._tld is None:
                import tldextract

                # no network: use the public suffix list snapshot bundled with tldextract
                self._tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
            parts = self._tld(url)
            fqdn, suffix = parts.fqdn, parts.suffix
            doc.metadata["fqdn"] = fqdn
            doc.metadata["suffix"] = suffix
        return fqdn, suffix

    def _accumulate(self, doc: Document, metrics: dict[str, int | float]) -> None:
        counters = self._counters
        host: tuple[str, str] | None = None
        for group in self.groups:
            table = counters.setdefault(group, {})
            if group in ("fqdn", "suffix") and host is None:
                host = self._host_parts(doc)
            for metric, value in metrics.items():
                if group == "summary":
                    table.setdefault(metric, MetricStatsDict())["summary"].update(value)
                elif group == "fqdn":
                    assert host is not None
                    table.setdefault(metric, MetricStatsDict())[host[0]].update(value)
                elif group == "suffix":
                    assert host is not None
                    table.setdefault(metric, MetricStatsDict())[host[1]].update(value)
                else:
                    key = str(round(value, self.histogram_round_digits))
                    table.setdefault(metric, MetricStatsDict())[key].update(1)
                    table.setdefault(f"{metric}_chars", MetricStatsDict())[key].update(
                        len(doc.text)
                    )
                    tokens = doc.metadata.get("token_count")
                    if tokens is not None:
                        table.setdefault(f"{metric}_tokens", MetricStatsDict())[key].update(tokens)

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        self._counters = {}
        self._rank = rank
        for doc in data or ():
            with self.track_time():
                metrics = self.extract_stats(doc)
                self._accumulate(doc, metrics)
                doc.metadata.update(metrics)
            self.stat_update("total")
            yield doc
        if not self._deferred:
            # standalone use (DataTrove style): the end of the stream ends the shard
            self.close()
            self.commit()

    def bind(self, ctx: TaskContext) -> None:
        super().bind(ctx)
        self._deferred = True  # the runner commits after the whole shard succeeded

    # -- outputs --------------------------------------------------------------------
    def close(self) -> None:
        rank = getattr(self, "_rank", self.ctx.rank)
        for group, table in self._counters.items():
            for metric, stats in table.items():
                if group in self.top_k_config.top_k_groups:
                    stats = _top_k(stats, self.top_k_config.top_k)
                final = f"{group}/{metric}/{rank:05d}.json"
                temp = temp_name(final)
                with self.output_folder.open(temp, "wt", compression=None, encoding="utf-8") as fh:
                    json.dump(stats.to_dict(), fh)
                self._temps.append((temp, final))
        self._counters = {}

    def commit(self) -> None:
        temps, self._temps = self._temps, []
        for temp, final in temps:
            self.output_folder.move(temp, final)

    def abort(self) -> None:
        temps, self._temps = self._temps, []
        self._counters = {}
        for temp, _ in temps:
            self.output_folder.rm(temp)
