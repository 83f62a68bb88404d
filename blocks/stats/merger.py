"""Merge per-shard summary stats into ``{group}/{metric}/metric.json`` (DataTrove's ``StatsMerger``)."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any

from blocks.base import PipelineStep
from blocks.document import Document
from blocks.io import DataFolder, get_datafolder, temp_name
from blocks.metrics import MetricStats, MetricStatsDict
from blocks.stats.base import MERGED_NAME, TopKConfig, _top_k

_SHARD_FILE = re.compile(r"^\d{5}\.json$")


class StatsMerger(PipelineStep):
    """Each rank merges a share of the ``{group}/{metric}`` folders.

    Run it as its own stage after the stage holding the stats blocks. Merging is exact
    (see blocks.metrics), so the result does not depend on the number of shards.
    """

    type = "stats"
    name = "StatsMerger"

    def __init__(
        self,
        input_folder: Any,
        output_folder: Any,
        remove_input: bool = False,
        top_k_config: TopKConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.input_folder: DataFolder = get_datafolder(input_folder)
        self.output_folder: DataFolder = get_datafolder(output_folder)
        self.remove_input = remove_input
        if isinstance(top_k_config, dict):
            top_k_config = TopKConfig(**top_k_config)
        self.top_k_config = top_k_config or TopKConfig()
        self._temps: list[tuple[str, str]] = []
        self._inputs: list[str] = []

    def metric_folders(self) -> dict[str, list[str]]:
        """``{group}/{metric}`` -> its per-shard files, sorted."""
        folders: dict[str, list[str]] = {}
        for path in self.input_folder.list_files(recursive=True, glob_pattern="*.json"):
            head, name = posixpath.split(path)
            if _SHARD_FILE.match(name) and head.count("/") == 1:
                folders.setdefault(head, []).append(path)
        return dict(sorted(folders.items()))

    def merge_folder(self, files: list[str]) -> MetricStatsDict:
        merged = MetricStatsDict()
        for path in files:
            with self.input_folder.open(path, "rt", compression=None, encoding="utf-8") as fh:
                for key, raw in json.load(fh).items():
                    merged[key] += MetricStats.from_dict(raw)
        return merged

    def run(
        self, data: Iterable[Document] | None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        folders = list(self.metric_folders().items())[rank::world_size]
        for folder, files in folders:
            with self.track_time():
                merged = self.merge_folder(files)
                group = folder.split("/", 1)[0]
                if group in self.top_k_config.top_k_groups:
                    merged = _top_k(merged, self.top_k_config.top_k)
                final = f"{folder}/{MERGED_NAME}"
                temp = temp_name(final)
                with self.output_folder.open(temp, "wt", compression=None, encoding="utf-8") as fh:
                    json.dump(merged.to_dict(), fh)
                self._temps.append((temp, final))
                self._inputs.extend(files)
            self.stat_update("merged_folders")
        if data:
            yield from data

    def commit(self) -> None:
        temps, self._temps = self._temps, []
        for temp, final in temps:
            self.output_folder.move(temp, final)
        inputs, self._inputs = self._inputs, []
        if self.remove_input:
            for path in inputs:
                self.input_folder.rm(path)

    def abort(self) -> None:
        temps, self._temps = self._temps, []
        self._inputs = []
        for temp, _ in temps:
            self.output_folder.rm(temp)
